"""Audit use cases: append a keyed, chained entry inside the caller's transaction; view it as a
role may; verify the chain against the checkpoints signed outside the database; checkpoint."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from oligotrial.domain.trial.audit import (
    GENESIS,
    ChainReport,
    check_allocations,
    check_checkpoints,
    entry_mac,
    format_epoch,
    readable,
    verify_chain,
)
from oligotrial.errors import AuditError
from oligotrial.service.access import authorize, authorize_any, site_visible
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, AuditAnchor, UnitOfWork
from oligotrial.service.rows import AuditEntry, AuditRow

_log = logging.getLogger(__name__)

#: actions whose content would reveal the arm to a blinded role
ARM_REVEALING = ("radiotherapy.record", "radiotherapy.correct")
WITHHELD = "withheld: would reveal the arm"


def anchor(ctx: ServiceContext) -> AuditAnchor:
    if ctx.anchor is None:
        raise AuditError(
            "audit anchor: no audit key configured (the composition root sets one); nothing "
            "can be appended to or verified against the chain",
            code="no_audit_key",
        )
    return ctx.anchor


def mac(ctx: ServiceContext, entry: AuditEntry) -> str:
    """The entry's keyed digest (HMAC-SHA256 under the key held outside the database)."""
    return entry_mac(anchor(ctx).mac_key(), entry)


def record(
    uow: UnitOfWork,
    ctx: ServiceContext,
    actor: Actor,
    *,
    trial: str | None,
    action: str,
    entity_type: str,
    entity_id: str,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
    bind: str | None = None,
) -> AuditEntry:
    """Append one entry to the chain. Call last in a transaction: it locks the chain head until
    commit, so appends are serialised and the chain never forks. The entry is checked and its
    keyed digest computed here, before any lock; the storage adapter links and stores it in one
    step (on PostgreSQL in the commit's round trip), so the global head lock is held that long
    only. ``bind`` ties the entry to a row written with it (an allocation:
    :func:`oligotrial.domain.trial.audit.allocation_bind`). Returns the entry's payload (its
    ``seq`` and hash are assigned by the adapter).

    ``at`` is when the action was taken (read before the head lock); ``seq`` is the order in
    which entries joined the chain, so two concurrent entries may have ``at`` a few
    microseconds out of ``seq`` order."""
    entry = build_entry(
        ctx,
        actor,
        trial=trial,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        old=old,
        new=new,
        reason=reason,
    )
    uow.audit.append_audit(entry, mac(ctx, entry), bind=bind)
    return entry


def build_entry(
    ctx: ServiceContext,
    actor: Actor,
    *,
    trial: str | None,
    action: str,
    entity_type: str,
    entity_id: str,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
) -> AuditEntry:
    """An audit entry, checked (a change needs a reason; no arm ever enters the trail), not yet
    appended: :func:`record` appends it, or a storage adapter does so with the write it records."""
    if old is not None and not (reason and reason.strip()):
        raise AuditError(
            f"reason: changing saved {entity_type} {entity_id} needs a reason for the change",
            code="reason_required",
            field="reason",
        )
    if isinstance(new, dict) and {"arm", "arm_id", "arm_label"} & set(new):
        raise AuditError(
            f"audit entry for {entity_type}: arm information must never enter the trail", code="arm_in_audit"
        )
    entry: AuditEntry = {
        "at": ctx.now_iso(),
        "actor": actor.username,
        "role": actor.role_in(trial) if trial else actor.role_in("*"),
        "trial": trial,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "old": old,
        "new": new,
        "reason": reason,
        "nonce": secrets.token_hex(16),
    }  # v3: inside the keyed digest; a copied entry repeats it
    return entry


def verify(ctx: ServiceContext, actor: Actor | None = None, *, later_ok: bool = False) -> ChainReport:
    """Recompute the whole chain (keyed digests with the key held outside the database), hold it
    against every signed checkpoint and the chain's format epoch, every v3 entry's nonce against
    every other's (a copy repeats it), and every allocation against the entry that recorded it;
    ``actor`` None is the operator's CLI. ``later_ok``: the chain is a copy (a backup being taken
    or restored), so checkpoints past its end are reported in ``notes``, not as problems."""
    if actor is not None:
        authorize_any(actor, "audit_verify")
    a = anchor(ctx)
    checkpoints = a.checkpoints()  # signatures checked first: a forged checkpoint raises
    epoch = a.format_epoch()
    with ctx.uow() as uow:
        entries = uow.audit.audit_entries()
        head = uow.audit.audit_head()
        allocations = [dict(x.__dict__) for x in uow.allocation.all_allocations()]
    rep = verify_chain(entries, head, a.mac_key(), format_from=epoch)
    if epoch is None and entries:
        rep.notes.append("no chain format epoch recorded with the keys yet (the next checkpoint records it)")
    check_checkpoints(rep, entries, checkpoints, later_ok=later_ok)
    check_allocations(rep, entries, allocations)
    return rep


def checkpoint(ctx: ServiceContext, actor: Actor | None = None) -> dict[str, Any]:
    """Sign the chain's current head (seq, hash) and append it to the checkpoint store, once the
    entries since the previous checkpoint verify from it, none repeats the nonce of any entry in
    the chain (a replayed copy), and none is older-format than the recorded format epoch (a
    chain already broken is never signed). Records the format epoch: versions first seen now,
    and on first use (no epoch yet) the whole chain's, once it verifies. Returns the checkpoint;
    ``actor`` None is the operator's CLI or the service itself."""
    if actor is not None:
        authorize_any(actor, "audit_verify")
    a = anchor(ctx)
    cps = a.checkpoints()
    epoch = a.format_epoch()
    start = (int(cps[-1]["seq"]), str(cps[-1]["hash"])) if cps else (0, GENESIS)
    with ctx.uow() as uow:
        entries = uow.audit.audit_entries(after_seq=start[0])
        nonces = [str(e["nonce"]) for e in entries if e.get("nonce")]
        earlier = {n: q for n, q in uow.audit.audit_nonce_seqs(nonces) if q <= start[0]} if nonces else {}
        whole = uow.audit.audit_entries() if epoch is None and start[0] > 0 else None
    if whole is not None:  # first use of a key directory made before the epoch existed: the whole chain
        rep = verify_chain(whole, None, a.mac_key())
        check_checkpoints(rep, whole, cps)
        if not rep.ok:
            raise AuditError(
                f"audit checkpoint: the chain does not verify (altered {rep.altered}, removed "
                f"{rep.removed}, replayed {rep.replayed}; {rep.checkpoint_problems}); no format epoch "
                "recorded, nothing signed",
                code="chain_broken",
            )
        epoch = a.record_format(format_epoch(whole), ctx.now_iso())
    if not entries:
        if not cps:
            raise AuditError("audit checkpoint: the chain is empty; nothing to sign", code="empty_chain")
        return dict(cps[-1])
    rep = verify_chain(entries, None, a.mac_key(), start=start, format_from=epoch, earlier_nonces=earlier)
    if not rep.ok:
        raise AuditError(
            f"audit checkpoint: the chain since seq {start[0]} does not verify "
            f"(altered {rep.altered}, removed {rep.removed}, inserted {rep.inserted}, "
            f"replayed {rep.replayed}{'; ' if rep.format_problems else ''}"
            f"{'; '.join(rep.format_problems[:3])}); nothing was signed",
            code="chain_broken",
        )
    a.record_format(format_epoch(entries), ctx.now_iso())  # versions first written since; recorded ones stay
    tip = max(entries, key=lambda e: e["seq"])
    return a.add_checkpoint(int(tip["seq"]), str(tip["hash"]), ctx.now_iso())


def record_restore(ctx: ServiceContext, note: str) -> tuple[ChainReport, dict[str, Any] | None]:
    """After a backup was restored into this database (``oligotrial db restore``): verify the
    restored chain against the checkpoints up to its head (those signed after the backup was
    taken cannot hold: the restore rolls them back) and, when it verifies, sign a restore
    checkpoint naming the restored head (the backup's: seq, hash) and the time, ``note`` naming
    the backup. ``audit verify`` then reads the checkpoints it rolled back as information, not as
    a rollback attack; a rollback without one still fails. Returns the report of the chain as
    restored (verified once more against the new checkpoint) and the restore checkpoint (None
    when the chain did not verify and nothing was signed)."""
    a = anchor(ctx)
    rep = verify(ctx, later_ok=True)
    if not rep.ok:
        return rep, None
    with ctx.uow() as uow:
        head = uow.audit.audit_head() or (0, GENESIS)
    cp = a.add_checkpoint(int(head[0]), str(head[1]), ctx.now_iso(), kind="restore", note=note)
    return verify(ctx), cp


def after_commit(ctx: ServiceContext, appended: int) -> None:
    """Called by the storage adapter once a unit of work that appended ``appended`` entries has
    committed: write a periodic checkpoint when one is due. The request has already succeeded,
    so a failure here is logged, never raised."""
    a = ctx.anchor
    if a is None or not a.due(appended):
        return
    try:
        checkpoint(ctx)
    except Exception as exc:  # noqa: BLE001 - the caller's write is committed; report and go on
        _log.warning("periodic audit checkpoint not written: %s", exc)


def trail(
    ctx: ServiceContext, actor: Actor, trial: str, *, after: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """A trial's audit entries as the actor may see them, oldest first: those after sequence
    number ``after``, at most ``limit`` of them (the database pages; a long trail is never read
    whole for one page). Entries never hold an arm (the allocation stays encrypted elsewhere);
    for a blinded role radiotherapy entries show neither their values nor anything computed from
    them (hash, digest, the reason of an override), because dose and fractionation reveal the
    arm."""
    from oligotrial.domain.trial.blinding import sees_arms
    from oligotrial.service import freetext

    role = authorize(actor, trial, "audit_view")
    protocol = ctx.load_protocol(trial)
    blinded = not sees_arms(protocol, role)
    with ctx.uow() as uow:
        rows = _scoped_entries(uow, actor, protocol.id, after, limit)
    out = []
    for row in rows:
        r = readable(row)
        view = {k: r[k] for k in ("seq", "at", "actor", "role", "action", "entity_type", "entity_id", "reason", "hash")}
        if blinded and r["action"] in ARM_REVEALING:
            view["old"] = view["new"] = view["reason"] = WITHHELD
            view["hash"] = None
        else:
            view["old"], view["new"] = r["old"], r["new"]
        if blinded:  # free text an unblinded role wrote (service.freetext)
            view = freetext.withhold_audit(protocol, view)
        out.append(view)
    return out


def trail_size(ctx: ServiceContext, actor: Actor, trial: str) -> int:
    """How many audit entries of ``trial`` the actor may read (a site-limited role: those of its
    sites' participants and the trial's own)."""
    authorize(actor, trial, "audit_view")
    protocol = ctx.load_protocol(trial)
    with ctx.uow() as uow:
        if actor.site_in(protocol.id) is None:
            return uow.audit.count_audit(protocol.id)
        return len(_scoped_entries(uow, actor, protocol.id, 0, None))


#: entries about the trial itself, not about one participant (shown to every role that reads
#: the trail); every other entry names its participant first in ``entity_id``
#: (``<pid>``, ``<pid>/<visit>``, ``<pid>/<entry id>``, ``<pid>/<query id>``)
TRIAL_LEVEL = frozenset({"randomization_list", "report", "trial"})


def participant_of(entry: AuditEntry) -> str | None:
    """The participant an audit entry is about (None: the trial itself, or a user account)."""
    if entry["entity_type"] in TRIAL_LEVEL or entry["entity_type"] == "user":
        return None
    return str(entry["entity_id"]).split("/", 1)[0]


def in_site_scope(entry: AuditEntry, visible: set[str]) -> bool:
    """Whether a site-limited role reads ``entry``: the trial's own entries, and those about a
    participant in ``visible`` (its sites' participants); never a user-account entry."""
    pid = participant_of(entry)
    return entry["entity_type"] in TRIAL_LEVEL if pid is None else pid in visible


def _scoped_entries(uow: UnitOfWork, actor: Actor, trial: str, after: int, limit: int | None) -> list[AuditRow]:
    """The trail's entries after ``after`` (at most ``limit``) that the actor may read. A role
    granted for one site reads only the entries about its site's participants and the trial's
    own entries; user-account entries and entries about a participant it cannot see (another
    site's, or an id that names nobody) are left out, as if they did not exist (issue 26: the
    site-limited coordinator read other sites' records, randomizations and radiotherapy in the
    trail). The database pages; a filtered page is filled from the following ones."""
    if actor.site_in(trial) is None:
        return uow.audit.audit_entries(trial, after, limit)
    visible = {p.id for p in uow.participants.list_participants(trial) if site_visible(actor, trial, p.site)}

    if limit is None:
        return [e for e in uow.audit.audit_entries(trial, after, None) if in_site_scope(e, visible)]
    out: list[AuditRow] = []
    batch = max(limit, 200)
    while len(out) < limit:
        chunk = uow.audit.audit_entries(trial, after, batch)
        out += [e for e in chunk if in_site_scope(e, visible)]
        if len(chunk) < batch:
            break
        after = chunk[-1]["seq"]
    return out[:limit]

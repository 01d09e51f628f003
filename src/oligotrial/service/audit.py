"""Audit use cases: append a chained entry inside the caller's transaction, view, verify."""

from __future__ import annotations

from typing import Any

from oligotrial.domain.trial.audit import ChainReport, canonical_parts, verify_chain
from oligotrial.errors import AuditError
from oligotrial.service.access import authorize, authorize_any
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, UnitOfWork


def record(uow: UnitOfWork, ctx: ServiceContext, actor: Actor, *, trial: str | None, action: str,
           entity_type: str, entity_id: str, old: Any = None, new: Any = None,
           reason: str | None = None) -> dict[str, Any]:
    """Append one entry to the chain. Call last in a transaction: it locks the chain head until
    commit, so appends are serialised and the chain never forks. The entry is checked and
    serialised here, before any lock; the storage adapter links and stores it in one step
    (on PostgreSQL in the commit's round trip), so the global head lock is held that long only.
    Returns the entry's payload (its ``seq`` and hash are assigned by the adapter).

    ``at`` is when the action was taken (read before the head lock); ``seq`` is the order in
    which entries joined the chain, so two concurrent entries may have ``at`` a few
    microseconds out of ``seq`` order."""
    entry = build_entry(ctx, actor, trial=trial, action=action, entity_type=entity_type, entity_id=entity_id,
                        old=old, new=new, reason=reason)
    before, after = canonical_parts(entry)
    uow.repo.append_audit(entry, before, after)
    return entry


def build_entry(ctx: ServiceContext, actor: Actor, *, trial: str | None, action: str, entity_type: str,
                entity_id: str, old: Any = None, new: Any = None, reason: str | None = None) -> dict[str, Any]:
    """An audit entry, checked (a change needs a reason; no arm ever enters the trail), not yet
    appended: :func:`record` appends it, or a storage adapter does so with the write it records."""
    if old is not None and not (reason and reason.strip()):
        raise AuditError(f"reason: changing saved {entity_type} {entity_id} needs a reason for the change",
                         code="reason_required", field="reason")
    if isinstance(new, dict) and {"arm", "arm_id", "arm_label"} & set(new):
        raise AuditError(f"audit entry for {entity_type}: arm information must never enter the trail",
                         code="arm_in_audit")
    entry = {"at": ctx.now_iso(), "actor": actor.username,
             "role": actor.role_in(trial) if trial else actor.role_in("*"), "trial": trial,
             "action": action, "entity_type": entity_type, "entity_id": entity_id,
             "old": old, "new": new, "reason": reason}
    return entry


def verify(ctx: ServiceContext, actor: Actor | None = None) -> ChainReport:
    """Recompute the whole chain; ``actor`` None is the operator's CLI."""
    if actor is not None:
        authorize_any(actor, "audit_verify")
    with ctx.uow() as uow:
        return verify_chain(uow.repo.audit_entries(), uow.repo.audit_head())


def trail(ctx: ServiceContext, actor: Actor, trial: str) -> list[dict[str, Any]]:
    """A trial's audit entries as the actor may see them. Entries never hold an arm (the
    allocation stays encrypted elsewhere); for a blinded role radiotherapy details are
    withheld, because dose and fractionation reveal the arm."""
    from oligotrial.domain.trial.blinding import is_blinded

    role = authorize(actor, trial, "audit_view")
    protocol = ctx.load_protocol(trial)
    blinded = is_blinded(protocol.masking.blinded_roles, role) or role == "admin"
    with ctx.uow() as uow:
        rows = uow.repo.audit_entries(protocol.id)
    out = []
    for r in rows:
        view = {k: r[k] for k in ("seq", "at", "actor", "role", "action", "entity_type", "entity_id",
                                  "reason", "hash")}
        if blinded and r["action"] in ("radiotherapy.record", "radiotherapy.correct"):
            view["old"] = view["new"] = "withheld: would reveal the arm"
        else:
            view["old"], view["new"] = r["old"], r["new"]
        out.append(view)
    return out

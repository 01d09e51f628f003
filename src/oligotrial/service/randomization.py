"""Randomization use cases: generate a trial's concealed list, allocate one participant.

The list is generated in advance for every stratum from a recorded seed, encrypted slot by slot
and committed when it is stored, which is when the trial goes live: HMAC-SHA256 over the whole
plaintext list keyed by a secret random salt (:func:`oligotrial.domain.trial.randomization.commitment`),
kept encrypted beside the seed, so that the published commitment lets nobody test a guessed seed
(the trust probe of issue 26 rebuilt a demo list from its seed and matched it against a plain
SHA-256 commitment). :func:`reveal` opens the list, seed and salt for verification by anyone. An allocation locks its stratum's cursor (a row lock on PostgreSQL,
the database write lock on SQLite), takes the next slot, freezes the strata used and appends
the audit entry, all in one transaction.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import numpy as np

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial import randomization as algo
from oligotrial.domain.trial import workflow
from oligotrial.domain.trial.audit import allocation_bind
from oligotrial.domain.trial.blinding import sees_arms
from oligotrial.errors import BlindingError, RandomizationError, WorkflowError
from oligotrial.service import audit
from oligotrial.service.access import authorize, check_site
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import SYSTEM, Actor, Allocation, EncSlot, RandomizationList, SlotRequest, UnitOfWork


def _factors(protocol: Protocol, rl: RandomizationList | None = None) -> list[tuple[str, list[str]]]:
    """The stratification factors: the protocol's, and ``site`` when the list is stratified by
    site (its sites fixed when the list was generated)."""
    out = [(f.id, list(f.levels)) for f in protocol.stratification.factors]
    sites = (rl.params or {}).get("sites") if rl is not None else None
    return out + [("site", list(sites))] if sites else out


def slot_context(trial: str, stratum: str, seq: int) -> str:
    return f"slot|{trial}|{stratum}|{seq}"


def seed_context(trial: str) -> str:
    return f"seed|{trial}"


def salt_context(trial: str) -> str:
    return f"commitment-salt|{trial}"


def generate_list(
    ctx: ServiceContext,
    trial: str,
    *,
    method: str = "permuted_blocks",
    size_per_stratum: int | None = None,
    seed: int | None = None,
    block_multiples: tuple[int, ...] = (1, 2, 3),
    p_best: float = 0.8,
    actor: Actor = SYSTEM,
    sites: list[str] | None = None,
) -> dict[str, Any]:
    """Generate, encrypt, commit and store the trial's list; refuse a second live list. With
    ``sites``, allocation is also stratified by site (each participant's own site)."""
    from oligotrial.service.users import check_site_code

    if sites is not None:
        sites = sorted({check_site_code(s) for s in sites})
        if len(sites) < 2:
            raise RandomizationError(f"sites {sites}: stratifying by site needs two or more sites", field="sites")
    protocol = ctx.load_protocol(trial)
    if protocol.design.allocation != "randomized" or len(protocol.arms) < 2:
        raise RandomizationError(
            f"trial {protocol.id}: not randomized ({protocol.design.allocation}); "
            "expected a randomized design with two or more arms",
            field="trial",
        )
    if method not in algo.METHODS:
        raise RandomizationError(f"method {method!r}: expected one of {list(algo.METHODS)}", field="method")
    seed = secrets.randbits(63) if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    ratio = dict(protocol.allocation_ratio)
    size = size_per_stratum or protocol.planned_enrolment
    if size is None:
        raise RandomizationError(
            f"size_per_stratum {size_per_stratum!r}: expected a number of slots per stratum "
            f"(trial {protocol.id} states no planned enrolment to default to)",
            field="size_per_stratum",
        )
    n = int(size)
    factors = _factors(protocol) + ([("site", sites)] if sites else [])
    if method == "permuted_blocks":
        slots = [
            s for key in algo.all_strata(factors) for s in algo.permuted_blocks(key, ratio, n, rng, block_multiples)
        ]
        params = {
            "ratio": ratio,
            "block_multiples": list(block_multiples),
            "size_per_stratum": n,
            "strata": algo.all_strata(factors),
        }
    else:
        slots = algo.minimization_draws(n, rng)
        params = {"ratio": ratio, "p_best": p_best, "size": n, "factors": [f for f, _ in factors]}
    if sites:
        params["sites"] = sites
    params["commitment_scheme"] = algo.SALTED_SCHEME
    salt = secrets.token_bytes(32)
    digest = algo.commitment(protocol.id, method, seed, params, slots, salt=salt)
    params["salt_ct"] = ctx.cipher.encrypt(salt.hex(), salt_context(protocol.id))
    enc = [
        EncSlot(
            s.stratum,
            s.seq,
            s.block,
            s.block_size,
            ctx.cipher.encrypt(s.payload, slot_context(protocol.id, s.stratum, s.seq)),
        )
        for s in slots
    ]
    now = ctx.now_iso()
    with ctx.uow() as uow:
        if uow.allocation.get_list(protocol.id) is not None:
            raise RandomizationError(
                f"trial {protocol.id}: a live randomization list already exists; lists are never replaced",
                code="list_exists",
                field="trial",
            )
        rl = uow.allocation.add_list(
            RandomizationList(
                None,
                protocol.id,
                method,
                ctx.cipher.encrypt(str(seed), seed_context(protocol.id)),
                params,
                digest,
                now,
                actor.username,
                n,
            ),
            enc,
        )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="randomization.generate",
            entity_type="randomization_list",
            entity_id=str(rl.id),
            new={
                "method": method,
                "commitment": digest,
                "slots": len(slots),
                "strata": len({s.stratum for s in slots}),
            },
        )
        uow.commit()
    return {
        "trial": protocol.id,
        "method": method,
        "commitment": digest,
        "slots": len(slots),
        "strata": len({s.stratum for s in slots}),
    }


def _opened(ctx: ServiceContext, protocol: Protocol) -> tuple[RandomizationList, int, bytes | None, list[algo.Slot]]:
    with ctx.uow() as uow:
        rl = uow.allocation.get_list(protocol.id)
        if rl is None:
            raise RandomizationError(f"trial {protocol.id}: no randomization list", field="trial")
        assert rl.id is not None  # a stored list has its id
        slots = uow.allocation.slots(rl.id)
    seed = int(ctx.cipher.decrypt(rl.seed_ct, seed_context(protocol.id)))
    salt_ct = (rl.params or {}).get("salt_ct")
    salt = bytes.fromhex(ctx.cipher.decrypt(salt_ct, salt_context(protocol.id))) if salt_ct else None
    plain = [
        algo.Slot(
            s.stratum,
            s.seq,
            s.block,
            s.block_size,
            ctx.cipher.decrypt(s.payload_ct, slot_context(protocol.id, s.stratum, s.seq)),
        )
        for s in slots
    ]
    return rl, seed, salt, plain


def verify_commitment(ctx: ServiceContext, trial: str) -> bool:
    """Decrypt the stored list (and its salt) and recompute its commitment (operator use: needs
    the key). A list generated before salts verifies by the plain SHA-256 it was committed with."""
    protocol = ctx.load_protocol(trial)
    rl, seed, salt, plain = _opened(ctx, protocol)
    return algo.commitment(protocol.id, rl.method, seed, rl.params, plain, salt=salt) == rl.commitment


def reveal(ctx: ServiceContext, trial: str, actor: Actor = SYSTEM) -> dict[str, Any]:
    """The opened list (``oligotrial.randomization-reveal/1``): trial, method, seed, parameters,
    the commitment's salt and every slot, from which anyone recomputes the published commitment
    (:func:`verify_revealed`) without any key. Operator use (needs the allocation key), for the
    trial's unblinding; audited as ``randomization.reveal``."""
    protocol = ctx.load_protocol(trial)
    rl, seed, salt, plain = _opened(ctx, protocol)
    with ctx.uow() as uow:
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="randomization.reveal",
            entity_type="randomization_list",
            entity_id=str(rl.id),
            new={"commitment": rl.commitment},
        )
        uow.commit()
    return {
        "format": "oligotrial.randomization-reveal/1",
        "trial": protocol.id,
        "method": rl.method,
        "seed": seed,
        "params": {k: v for k, v in (rl.params or {}).items() if k not in algo.UNCOMMITTED_PARAMS},
        "salt": None if salt is None else salt.hex(),
        "commitment": rl.commitment,
        "slots": [[s.stratum, s.seq, s.block, s.block_size, s.payload] for s in plain],
    }


def verify_revealed(doc: dict[str, Any]) -> bool:
    """Whether a revealed list (:func:`reveal`) opens its commitment: recomputed from the
    document alone, no key needed (a third party's check at unblinding)."""
    try:
        slots = [algo.Slot(str(a), int(b), int(c), int(d), str(e)) for a, b, c, d, e in doc["slots"]]
        salt = bytes.fromhex(doc["salt"]) if doc.get("salt") else None
        return (
            algo.commitment(doc["trial"], doc["method"], int(doc["seed"]), doc["params"], slots, salt=salt)
            == doc["commitment"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RandomizationError(
            f"revealed list: {exc}; expected an oligotrial.randomization-reveal/1 document", field="list"
        ) from None


def verify_list(ctx: ServiceContext, trial: str) -> dict[str, Any]:
    """The stored list against its commitment, and every allocation against the list: each
    allocation names a slot of the list that is taken by the same participant, and its arm is
    that slot's (a list allocation holds the slot's ciphertext; a minimization allocation's
    own ciphertext must open for its participant); every taken slot has its allocation.
    Operator use: needs the allocation key. ``ok`` only when nothing is wrong."""
    protocol = ctx.load_protocol(trial)
    committed = verify_commitment(ctx, trial)
    with ctx.uow() as uow:
        rl = uow.allocation.get_list(protocol.id)
        if rl is None or rl.id is None:
            raise RandomizationError(f"trial {protocol.id}: no randomization list", field="trial")
        slots = {(s.stratum, s.seq): s for s in uow.allocation.slots(rl.id)}
        allocs = uow.allocation.allocations(protocol.id)
    problems = []
    by_pid = {}
    for a in allocs:
        by_pid[a.participant_id] = a
        s = slots.get((a.stratum, a.seq))
        if a.list_id != rl.id or s is None:
            problems.append(f"allocation of {a.participant_id}: slot {a.stratum}#{a.seq} is not in the list")
            continue
        if s.participant_id != a.participant_id:
            problems.append(
                f"allocation of {a.participant_id}: slot {a.stratum}#{a.seq} is taken by {s.participant_id or 'nobody'}"
            )
        try:
            if rl.method == "minimization":
                ctx.cipher.decrypt(a.arm_ct, f"alloc|{protocol.id}|{a.participant_id}")
            elif a.arm_ct != s.payload_ct:
                problems.append(f"allocation of {a.participant_id}: its arm is not slot {a.stratum}#{a.seq}'s")
        except BlindingError:
            problems.append(f"allocation of {a.participant_id}: its arm does not open for this participant")
    for (stratum, seq), s in sorted(slots.items()):
        if s.participant_id is not None and by_pid.get(s.participant_id) is None:
            problems.append(f"slot {stratum}#{seq}: taken by {s.participant_id}, who has no allocation")
        elif s.participant_id is not None and (by_pid[s.participant_id].stratum, by_pid[s.participant_id].seq) != (
            stratum,
            seq,
        ):
            problems.append(f"slot {stratum}#{seq}: taken by {s.participant_id}, whose allocation names another slot")
    return {
        "trial": protocol.id,
        "ok": committed and not problems,
        "commitment_matches": committed,
        "allocations_checked": len(allocs),
        "problems": problems,
    }


def randomize(
    ctx: ServiceContext, actor: Actor, trial: str, participant_id: str, strata: dict[str, str]
) -> dict[str, Any]:
    """Allocate an enrolled participant; returns the view the actor's role may see.

    Two locks serialise allocations: the stratum's cursor and the audit-chain head. From a
    pre-generated list the whole allocation is one storage call (on PostgreSQL one statement,
    sent with BEGIN and COMMIT: one round trip, and no lock is held while the client works):
    the participant is locked and its state checked, the slot claimed, and the participant's
    new state, the allocation and the audit entry written. The workflow rule (the one state
    randomize is taken from) is passed as data; a refusal writes nothing and is reported as
    the step-by-step path reports it. Minimization goes step by step.
    """
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "randomize")
    strata = dict(strata or {})
    now = ctx.now_iso()
    with ctx.uow() as uow:
        rl = uow.allocation.live_list(protocol.id)
        if rl is not None:
            _check_key(ctx, protocol.id, rl)
        strata = _site_stratum(uow, actor, protocol, rl, participant_id, strata)
        key = algo.stratum_key(_factors(protocol, rl), strata)
        if rl is not None and rl.method != "minimization":
            assert rl.id is not None  # a stored list has its id
            (from_state,) = workflow.allowed_from("randomize")  # the one state it is taken from
            to_state = workflow.STATE_AFTER["randomize"]
            marker = secrets.token_hex(16)  # stands for the slot number until the slot is claimed
            entry = audit.build_entry(
                ctx,
                actor,
                trial=protocol.id,
                action="participant.randomize",
                entity_type="participant",
                entity_id=participant_id,
                new=_randomize_audit(to_state, from_state, key, marker, strata),
            )
            # the participant's, the stratum cursor's and the chain head's locks are taken here and
            # held until commit (PostgreSQL: one statement, sent with BEGIN and COMMIT)
            got = uow.allocation.allocate_and_commit(
                SlotRequest(
                    rl.id,
                    protocol.id,
                    key,
                    participant_id,
                    from_state,
                    {"state": to_state, "randomized_on": now[:10]},
                    strata,
                    now,
                    actor.username,
                    entry,
                    marker,
                    audit.mac(ctx, entry),
                )
            )
            if got.state is None:
                raise WorkflowError(
                    f"participant {participant_id}: not found in trial {protocol.id}",
                    code="not_found",
                    field="participant",
                )
            workflow.check_state(participant_id, got.state, "randomize")
            if got.seq is None:
                raise RandomizationError(
                    f"stratum {key!r}: list exhausted; extend the list", code="list_exhausted", field="strata"
                )
            uow.commit()
            assert got.payload_ct is not None  # a slot was taken (seq is set): its ciphertext with it
            arm = ctx.cipher.decrypt(got.payload_ct, slot_context(protocol.id, key, got.seq))
            return allocation_view(protocol, role, key, got.seq, strata, now, arm)
        # minimization (it reads every earlier allocation), or no list yet: step by step
        p, rl = uow.allocation.lock_for_randomization(protocol.id, participant_id)
        if p is None:
            raise WorkflowError(
                f"participant {participant_id}: not found in trial {protocol.id}", code="not_found", field="participant"
            )
        old_state = p.state
        workflow.advance(p, "randomize")
        p.randomized_on = now[:10]
        if rl is None:
            raise RandomizationError(
                f"trial {protocol.id}: no randomization list; generate one first (oligotrial randomization generate)",
                code="no_list",
                field="trial",
            )
        if rl.method != "minimization":  # generated since live_list looked: nothing written yet
            uow.rollback()
            return randomize(ctx, actor, trial, participant_id, strata)
        uow.participants.save_participant(p, ("state", "randomized_on"))
        assert rl.id is not None  # a stored list has its id
        arm, seq, stratum = _minimize(ctx, uow, protocol, rl, strata)
        uow.allocation.take_slot(rl.id, stratum, seq, p.id, now)
        a = Allocation(
            p.id,
            protocol.id,
            rl.id,
            stratum,
            seq,
            strata,
            ctx.cipher.encrypt(arm, f"alloc|{protocol.id}|{p.id}"),
            now,
            actor.username,
        )
        uow.allocation.add_allocation(a)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.randomize",
            entity_type="participant",
            entity_id=p.id,
            new=_randomize_audit(p.state, old_state, stratum, str(seq), strata),
            bind=allocation_bind(a.__dict__),
        )
        uow.commit()
    return allocation_view(protocol, role, stratum, seq, strata, now, arm)


def _site_stratum(
    uow: UnitOfWork, actor: Actor, protocol: Protocol, rl: RandomizationList | None, pid: str, strata: dict[str, str]
) -> dict[str, str]:
    """A multi-centre check before anything is claimed: a site-limited role randomizes its own
    site's participants only, and a list stratified by site takes the participant's own site
    (never one the caller names). Single-centre trials pay no extra read."""
    by_site = bool(rl is not None and (rl.params or {}).get("sites"))
    if actor.site_in(protocol.id) is None and not by_site:
        return strata
    if "site" in strata:
        raise RandomizationError(
            "strata.site: the participant's own site is used; expected it left out", field="strata.site"
        )
    exists, site = uow.participants.participant_site(protocol.id, pid)  # the site column alone, not the record
    if exists:
        check_site(actor, protocol.id, SimpleNamespace(id=pid, site=site))
    if not exists or not by_site:
        return strata
    if site is None:
        raise RandomizationError(
            f"participant {pid}: no site, and the list is stratified by site; expected a "
            "participant registered at one of the list's sites",
            field="site",
        )
    return {**strata, "site": site}


def _check_key(ctx: ServiceContext, trial: str, rl: RandomizationList) -> None:
    """Refuse to allocate when the configured key does not open the trial's list (checked on the
    list's seed, before anything is claimed): otherwise the one-statement path would commit an
    allocation whose arm it then cannot read."""
    try:
        ctx.cipher.decrypt(rl.seed_ct, seed_context(trial))
    except BlindingError as exc:
        raise BlindingError(
            f"trial {trial}: the configured allocation key does not open this trial's "
            "randomization list (check OLIGOTRIAL_ALLOCATION_KEY); nothing was allocated",
            code=exc.code,
        ) from None


def _randomize_audit(state: str, from_state: str, stratum: str, seq: str, strata: dict) -> dict[str, Any]:
    return {
        "state": state,
        "from_state": from_state,
        "stratum": stratum,
        "randomization_number": f"{stratum}#{seq}",
        "strata": strata,
    }


def allocation_arm(ctx: ServiceContext, a: Allocation) -> str:
    """The arm of a stored allocation. From a pre-generated list the allocation holds its slot's
    ciphertext (bound to the slot); a minimization allocation its own (bound to the participant).
    AES-GCM authenticates the binding, so exactly one of the two opens it."""
    try:
        return ctx.cipher.decrypt(a.arm_ct, slot_context(a.trial, a.stratum, a.seq))
    except BlindingError:  # not this binding: the other one
        return ctx.cipher.decrypt(a.arm_ct, f"alloc|{a.trial}|{a.participant_id}")


def _minimize(ctx, uow, protocol, rl, strata):
    """Minimization reads every earlier allocation, so it serialises on the one cursor row."""
    key = algo.stratum_key(_factors(protocol, rl), strata)  # validates factors and levels
    del key
    seq = uow.allocation.lock_stratum(rl.id, algo.ALL_STRATUM)
    slot = uow.allocation.get_slot(rl.id, algo.ALL_STRATUM, seq) if seq is not None else None
    if slot is None:
        raise RandomizationError("minimization list exhausted; extend the list", code="list_exhausted", field="trial")
    draws = ctx.cipher.decrypt(slot.payload_ct, slot_context(protocol.id, algo.ALL_STRATUM, seq))
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for a in uow.allocation.allocations(protocol.id):
        arm = allocation_arm(ctx, a)
        for f, level in a.strata.items():
            counts[f][level][arm] += 1
    arm = algo.minimization_assign(counts, strata, dict(protocol.allocation_ratio), draws, rl.params.get("p_best", 0.8))
    return arm, seq, algo.ALL_STRATUM


def allocation_view(
    protocol: Protocol, role: str, stratum: str, seq: int, strata: dict, at: str, arm: str | None
) -> dict[str, Any]:
    view = {"randomized": True, "randomization_number": f"{stratum}#{seq}", "strata": strata, "allocated_at": at}
    if arm is not None and sees_arms(protocol, role):
        a = protocol.arm(arm)
        view.update({"arm": a.id, "arm_label": a.label})
    return view


def arm_of(ctx: ServiceContext, trial: str, participant_id: str, uow=None) -> str | None:
    def _get(u):
        a = u.allocation.get_allocation(participant_id)
        return None if a is None else allocation_arm(ctx, a)

    if uow is not None:
        return _get(uow)
    with ctx.uow() as u:
        return _get(u)

"""Follow-up after enrolment: entries validated as the patient record validates them, corrected or
retracted with a reason, and the participant's state derived from what is stored.

Every entry (tumour assessment, adverse event, quality of life, lab, performance status, new
anticancer therapy, death, loss to follow-up, withdrawal) goes through one path:

1. its shape, by the record's own model for that list (:func:`oligotrial.domain.record.entries.parse_entry`);
2. the participant's record with the entry merged in, by :func:`~oligotrial.domain.record.parse_patient`
   (lesions known to the participant or explicitly new, same-date conflicts, impossible dates);
3. the participant's milestones: not in the future, not before consent, events not before the
   origin (randomization; enrolment in a single-arm trial), one death; an assessment dated
   before the origin is accepted as a baseline and the answer says so.

A refused entry stores nothing; the error names the field, the value and what was expected. A
correction or retraction needs a reason; the old value stays in the audit trail (ICH E6(R3)
s.4.2, 21 CFR 11.10(e): who, when, what, why), and the state follows the entries that remain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record import entries as rec
from oligotrial.domain.record.lab_ranges import implausible
from oligotrial.domain.trial import workflow
from oligotrial.domain.trial.blinding import FREE_TEXT_KEYS, writes_unblinded
from oligotrial.domain.trial.followup import (
    AFTER_CONSENT,
    active,
    check_milestones,
    origin_of,
    participant_record,
    refusal,
    single_group,
    state_of,
)
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.service import audit, freetext
from oligotrial.service.access import authorize, authorize_entry, visible_participant
from oligotrial.service.context import ServiceContext
from oligotrial.service.masking import arm_neutral
from oligotrial.service.ports import Actor, UnitOfWork
from oligotrial.service.rows import EntryRow

#: the participant's record, state, origin and milestones are the domain's
#: (:mod:`oligotrial.domain.trial.followup`); named here too for the services and pages that
#: read them from this module
__all__ = [
    "AFTER_CONSENT",
    "UNUSUAL_VALUE_REASON",
    "active",
    "check_plausible",
    "correct_entry",
    "entry_view",
    "origin_of",
    "participant_record",
    "record_entry",
    "release_text",
    "release_visit_note",
    "retract_entry",
    "single_group",
    "state_of",
]

#: the key of a lab entry's request that confirms a value far outside the plausible range (it is
#: not part of the entry: it goes to the audit trail as the reason)
UNUSUAL_VALUE_REASON = "unusual_value_reason"


def _unusual_reason(kind: str, data: Any) -> tuple[Any, str | None]:
    """``data`` without its confirmation of an unusual value, and the confirmation (a lab only)."""
    if kind != "lab" or not isinstance(data, dict) or UNUSUAL_VALUE_REASON not in data:
        return data, None
    rest = {k: v for k, v in data.items() if k != UNUSUAL_VALUE_REASON}
    why = data[UNUSUAL_VALUE_REASON]
    return rest, why.strip() if isinstance(why, str) and why.strip() else None


def check_plausible(kind: str, clean: dict[str, Any], reason: str | None) -> list[str]:
    """A soft warning: a lab value far outside the plausible range
    (:func:`oligotrial.domain.record.lab_ranges.implausible`) is kept only with a reason, never
    refused outright (CLSI AUTO10-A: hold for review, do not reject). Without one, a
    :class:`RecordError` on ``unusual_value_reason`` asks for it and nothing is stored; with one,
    the note to return."""
    if kind != "lab":
        return []
    why = implausible(clean["test"], clean["value"])
    if why is None:
        return []
    if reason is None or len(reason) < 3:
        raise refusal(UNUSUAL_VALUE_REASON, reason, f"a reason to keep it (at least 3 characters): {why}")
    return [f"{why}: kept with the reason {reason!r}"]


def _load(uow: UnitOfWork, trial: str, pid: str, actor: Actor) -> Participant:
    return visible_participant(uow, actor, trial, pid, for_update=True)


def _reason(reason: Any) -> str:
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= 5000:
        raise refusal("reason", reason, "a reason for the change, 3-5000 characters")
    return reason.strip()


def _in_force(uow: UnitOfWork, actor: Actor, trial: str, pid: str, entry_id: int):
    """The shared start of a correction or retraction, inside its unit of work: the participant
    under a row lock, their entries, and the entry in force."""
    p = _load(uow, trial, pid, actor)
    entries = uow.participants.entries(p.id)
    e = _entry(entries, p, entry_id)
    workflow.check_state(p.id, state_of(p, entries), "correct_entry")
    return p, entries, e


def entry_view(e: EntryRow) -> dict[str, Any]:
    """An entry as users see it: what was recorded, its version, and who changed it, when, why."""
    out = {
        "id": e["id"],
        "kind": e["kind"],
        "status": e["status"],
        "version": e["version"],
        "recorded_at": e["at"],
        "recorded_by": e["by"],
        "data": e["data"],
    }
    if e.get("updated_at"):
        out.update(updated_at=e["updated_at"], updated_by=e["updated_by"], reason=e["reason"])
    return out


def _check(
    ctx: ServiceContext,
    protocol: Protocol,
    p: Participant,
    kind: str,
    clean: dict[str, Any],
    entries: list[EntryRow],
    replacing: int | None = None,
) -> list[str]:
    """Check one entry, already shaped by :func:`~oligotrial.domain.record.entries.parse_entry`
    (new, or replacing entry ``replacing``), against the participant's milestones and whole
    record; the notes for the caller."""
    others = [e for e in active(entries) if e["id"] != replacing]
    state = state_of(p, others)
    notes = check_milestones(protocol, p, kind, clean, others, state, today=ctx.today())
    merged = rec.merge(p.record, [(e["kind"], e["data"]) for e in others] + [(kind, clean)])
    rec.validate_merged(merged, today=ctx.today(), focus=rec.entry_path(merged, kind))
    return notes


def _save_state(uow: UnitOfWork, p: Participant, entries: Sequence[Mapping[str, Any]]) -> None:
    new = state_of(p, entries)
    if new != p.state:
        p.state = new
        uow.participants.save_participant(p, ("state",))


# ---- use cases ----------------------------------------------------------------------------------


def record_entry(ctx: ServiceContext, actor: Actor, trial: str, pid: str, kind: str, data: Any) -> dict[str, Any]:
    """Record one follow-up entry of ``kind`` (see :data:`oligotrial.domain.record.entries.ENTRY_KINDS`)."""
    protocol = ctx.load_protocol(trial)
    role = authorize_entry(actor, protocol, kind)
    data, unusual = _unusual_reason(kind, data)
    clean = rec.parse_entry(kind, data, not_after=ctx.today())  # the shape first, before any lock
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        entries = uow.participants.entries(p.id)
        step = "vital_status" if kind == "event" and isinstance(data, dict) and data.get("kind") == "death" else "entry"
        workflow.check_state(p.id, state_of(p, entries), step)
        notes = _check(ctx, protocol, p, kind, clean, entries)
        plausible = check_plausible(kind, clean, unusual)
        notes += plausible
        now = ctx.now_iso()
        entry_id = uow.participants.add_entry(p.id, kind, clean, now, actor.username)
        _save_state(uow, p, [*entries, {"id": entry_id, "kind": kind, "status": "active", "data": clean}])
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action=f"{kind}.record",
            entity_type=kind,
            entity_id=f"{p.id}/{entry_id}",
            new=clean,
            reason=unusual if plausible else None,
        )
        uow.commit()
    return {
        "id": entry_id,
        "kind": kind,
        "status": "active",
        "version": 1,
        "data": clean,
        "notes": notes,
        "participant_state": arm_neutral(protocol, role).state(p.state),
        "warnings": freetext.warnings_for(protocol, clean),
    }


def correct_entry(
    ctx: ServiceContext, actor: Actor, trial: str, pid: str, entry_id: int, data: Any, reason: Any
) -> dict[str, Any]:
    """Replace an entry's data, with a reason; the old value stays in the audit trail."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "assessment")  # any role that records some kind; the entry's own below
    why = _reason(reason)
    with ctx.uow() as uow:
        p, entries, e = _in_force(uow, actor, protocol.id, pid, entry_id)
        role = authorize_entry(actor, protocol, e["kind"])
        data, unusual = _unusual_reason(e["kind"], data)
        if freetext.reader_blinded(protocol, actor.role_in(protocol.id)):  # a text it was shown withheld stays
            data = freetext.restore_withheld(data, e["data"])
        clean = rec.parse_entry(e["kind"], data, not_after=ctx.today())
        notes = _check(ctx, protocol, p, e["kind"], clean, entries, replacing=entry_id)
        plausible = check_plausible(e["kind"], clean, unusual)
        notes += plausible
        if plausible:
            why = f"{why} (unusual value kept: {unusual})"
        now = ctx.now_iso()
        uow.participants.update_entry(
            entry_id, data=clean, status="active", version=e["version"] + 1, at=now, by=actor.username, reason=why
        )
        rest = [x if x["id"] != entry_id else {**x, "data": clean} for x in entries]
        _save_state(uow, p, rest)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action=f"{e['kind']}.correct",
            entity_type=e["kind"],
            entity_id=f"{p.id}/{entry_id}",
            old=e["data"],
            new=clean,
            reason=why,
        )
        uow.commit()
    return {
        "id": entry_id,
        "kind": e["kind"],
        "status": "active",
        "version": e["version"] + 1,
        "data": clean,
        "reason": why,
        "notes": notes,
        "participant_state": arm_neutral(protocol, role).state(p.state),
        "warnings": freetext.warnings_for(protocol, {"data": clean, "reason": why}),
    }


def retract_entry(
    ctx: ServiceContext, actor: Actor, trial: str, pid: str, entry_id: int, reason: Any
) -> dict[str, Any]:
    """Retract an entry entered in error, with a reason. It stays stored (and in the audit trail)
    but no longer counts; the participant's state is derived again without it."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "assessment")  # any role that records some kind; the entry's own below
    why = _reason(reason)
    with ctx.uow() as uow:
        p, entries, e = _in_force(uow, actor, protocol.id, pid, entry_id)
        role = authorize_entry(actor, protocol, e["kind"])
        rest = [x for x in entries if x["id"] != entry_id]
        merged = rec.merge(p.record, [(x["kind"], x["data"]) for x in active(rest)])
        try:
            rec.validate_merged(merged, today=ctx.today())
        except RecordError as exc:
            raise RecordError(
                f"entry {entry_id}: cannot be retracted while other entries depend on it "
                f"({exc.message}); correct or retract those first",
                field="entry",
                errors=exc.errors,
            ) from None
        now = ctx.now_iso()
        uow.participants.update_entry(
            entry_id,
            data=e["data"],
            status="retracted",
            version=e["version"] + 1,
            at=now,
            by=actor.username,
            reason=why,
        )
        _save_state(uow, p, rest)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action=f"{e['kind']}.retract",
            entity_type=e["kind"],
            entity_id=f"{p.id}/{entry_id}",
            old=e["data"],
            new={"status": "retracted"},
            reason=why,
        )
        uow.commit()
    return {
        "id": entry_id,
        "kind": e["kind"],
        "status": "retracted",
        "version": e["version"] + 1,
        "reason": why,
        "participant_state": arm_neutral(protocol, role).state(p.state),
        "warnings": freetext.warnings_for(protocol, {"reason": why}),
    }


def release_text(
    ctx: ServiceContext, actor: Actor, trial: str, pid: str, entry_id: int, field: Any, reason: Any
) -> dict[str, Any]:
    """Release one free text of an entry to the blinded roles after review: a data manager who
    sees the arm (issue 25 item 1: "a data manager who sees the arm may release one after review
    (POST .../entries/{id}/release {"field": ..., "reason": ...}, audited)"). ``field`` is
    ``reason`` (the correction's or retraction's reason) or a free text of the entry's data
    (``note``, ``specify``, ``detail``, ``stop_reason``); the release covers the entry's current
    version (a later correction is withheld again until reviewed). Audited as ``text.release``
    with the field, the version and the reason; refused (nothing stored) for a blinded data
    manager, a field that holds no free text, or a text that is not withheld."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "release_text")
    if freetext.reader_blinded(protocol, role):
        raise BlindingError(
            f"release_text: role {role!r} is blinded in trial {protocol.id}; a data manager who "
            "sees the arm releases a text after review",
            code="forbidden",
            field="role",
        )
    if not protocol.masking.blinded_roles:
        raise WorkflowError(
            f"field {str(field)[:40]!r}: trial {protocol.id} blinds no role; nothing is withheld, "
            "so there is nothing to release",
            code="illegal_step",
            field="field",
        )
    why = _reason(reason)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        entries = uow.participants.entries(p.id)
        e = next((x for x in entries if x["id"] == entry_id and x["kind"] in rec.ENTRY_KINDS), None)
        if e is None:
            raise WorkflowError(f"entry {entry_id}: not found for participant {p.id}", code="not_found", field="entry")
        shown = freetext.withhold_entry(
            protocol, entry_view(e), freetext.writers(uow.audit.audit_of(protocol.id, p.id), p.id, None)
        )
        texts = sorted(
            {k for k, v in (e["data"] or {}).items() if k in FREE_TEXT_KEYS and v}
            | ({"reason"} if e.get("reason") else set())
        )
        if not isinstance(field, str) or field not in texts:
            raise refusal("field", field, f"a free text of this entry: one of {', '.join(texts) or '(none)'}")
        if field not in shown.get("withheld", []):
            raise WorkflowError(
                f"field {field!r}: entry {entry_id}'s text is not withheld from blinded roles (a "
                "blinded role wrote it, or it is already released)",
                code="illegal_step",
                field="field",
            )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action=freetext.RELEASE_ACTION,
            entity_type=e["kind"],
            entity_id=f"{p.id}/{entry_id}",
            new={"field": field, "version": e["version"]},
            reason=why,
        )
        uow.commit()
    return {"id": entry_id, "field": field, "version": e["version"], "released": True, "reason": why}


def _entry(entries: list[EntryRow], p: Participant, entry_id: int) -> EntryRow:
    e = next((x for x in entries if x["id"] == entry_id), None)
    if e is None or e["kind"] not in rec.ENTRY_KINDS:
        raise WorkflowError(f"entry {entry_id}: not found for participant {p.id}", code="not_found", field="entry")
    if e["status"] != "active":
        raise WorkflowError(
            f"entry {entry_id}: already {e['status']}; expected an entry in force", code="illegal_step", field="entry"
        )
    return e


def release_visit_note(
    ctx: ServiceContext, actor: Actor, trial: str, pid: str, code: Any, reason: Any
) -> dict[str, Any]:
    """Release a visit's note (the reason it was out of its window or missed) to the blinded
    roles after review, as :func:`release_text` releases an entry's text: a data manager who
    sees the arm, a note an unblinded role wrote, audited as ``text.release`` on the visit."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "release_text")
    if freetext.reader_blinded(protocol, role):
        raise BlindingError(
            f"release_text: role {role!r} is blinded in trial {protocol.id}; a data manager who "
            "sees the arm releases a text after review",
            code="forbidden",
            field="role",
        )
    why = _reason(reason)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        row = next((v for v in uow.participants.visits(p.id) if v["code"] == code), None)
        if row is None or not row.get("note"):
            raise WorkflowError(
                f"visit {str(code)[:64]!r}: no recorded note for participant {p.id}", code="not_found", field="visit"
            )
        w = freetext.writers(uow.audit.audit_of(protocol.id, p.id), p.id, None)
        if code in w.visit_released or not writes_unblinded(protocol.masking.blinded_roles, w.visit.get(code)):
            raise WorkflowError(
                f"visit {code!r}: its note is not withheld from blinded roles (a blinded role wrote "
                "it, or it is already released)",
                code="illegal_step",
                field="visit",
            )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action=freetext.RELEASE_ACTION,
            entity_type="visit",
            entity_id=f"{p.id}/{code}",
            new={"field": "note"},
            reason=why,
        )
        uow.commit()
    return {"visit": code, "field": "note", "released": True, "reason": why}

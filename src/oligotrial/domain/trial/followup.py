"""A participant's follow-up, derived from what is stored. Pure.

The record in force (the record registered at screening with the follow-up entries that are not
retracted, :func:`participant_record`), the state it gives (:func:`state_of`), day 0 of follow-up
(randomization, or enrolment in a single-arm trial: :func:`origin_of`), and the checks a new or
corrected entry must pass against the participant's own milestones (:func:`check_milestones`: not
in the future, not before consent, events not before the origin, one death; an assessment dated
on or before the origin is a baseline, and the note says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record import entries as rec
from oligotrial.domain.trial import workflow
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import RecordError, WorkflowError

_E = TypeVar("_E", bound=Mapping[str, Any])  # a stored entry row (the service's typed row), or a plain mapping

#: events that happen to a participant after the origin (randomization or enrolment)
AFTER_ORIGIN = frozenset(
    {"death", "progression", "next_line_start", "metastasis_directed_therapy", "lost_to_follow_up", "withdrawal"}
)
#: entries dated on or after the participant's consent (what is collected for the trial: adverse
#: events from consent on, questionnaires, labs, performance status); a tumour assessment before
#: the origin is a baseline, a new therapy's start may be history
AFTER_CONSENT = frozenset({"adverse_event", "qol", "lab", "performance"})


def refusal(field: str, value: Any, expected: str) -> RecordError:
    """The error refusing ``value`` of ``field``: what was given and what was expected."""
    return RecordError(
        f"{field} {value!r}: expected {expected}",
        field=field,
        errors=[{"path": field, "value": value, "expected": expected}],
    )


def single_group(protocol: Protocol) -> bool:
    """A trial with one arm and no randomization (NCT05906329): an enrolled participant is
    treated directly, with that arm, and follow-up counts from enrolment."""
    return len(protocol.arms) == 1 and protocol.design.allocation != "randomized"


def active(entries: Sequence[_E]) -> list[_E]:
    """The record entries in force: not retracted, of a kind the record knows."""
    return [e for e in entries if e["status"] == "active" and e["kind"] in rec.ENTRY_KINDS]


def participant_record(
    p: Participant, entries: Sequence[Mapping[str, Any]], *, with_protocol_radiotherapy: bool = False
) -> dict[str, Any]:
    """The participant's patient record: the record registered at screening, the entries in
    force appended in the order they were recorded, and (for endpoints) the protocol's own
    radiotherapy course."""
    record = rec.merge(p.record, [(e["kind"], e["data"]) for e in active(entries)])
    rt = p.radiotherapy
    if with_protocol_radiotherapy and rt:
        course = {k: rt[k] for k in ("start", "end", "dose_gy", "fractions", "technique", "lesions") if rt.get(k)}
        record["radiotherapy"] = [*(record.get("radiotherapy") or []), course]
    return record


def state_of(p: Participant, entries: Sequence[Mapping[str, Any]]) -> str:
    """The state the milestones and the events in force give (retracting an event undoes it)."""
    events = [e["data"] for e in active(entries) if e["kind"] == "event"]
    return workflow.derive_state(p, events)


def origin_of(p: Participant, *, single_group: bool) -> tuple[dt.date | None, str]:
    """Day 0 of follow-up: randomization, or enrolment in a single-arm trial."""
    if p.randomized_on:
        return dt.date.fromisoformat(p.randomized_on[:10]), "randomization"
    if single_group and p.enrolment and p.enrolment.get("at"):
        return dt.date.fromisoformat(p.enrolment["at"][:10]), "enrolment"
    return None, "randomization"


# ---- checks against the participant's milestones -----------------------------------------------


def check_milestones(
    protocol: Protocol,
    p: Participant,
    kind: str,
    entry: dict[str, Any],
    others: Sequence[Mapping[str, Any]],
    state: str,
    *,
    today: dt.date,
) -> list[str]:
    """Refuse what the participant's own dates make impossible for a follow-up entry of ``kind``
    (``others``: the entries in force beside it; ``state``: the participant's state from them);
    the notes to return with an accepted entry."""
    date_field = "start" if kind == "therapy" else "date"
    on = rec.entry_date(kind, entry)
    if on > today:
        raise refusal(date_field, on.isoformat(), f"a date not after today ({today.isoformat()})")
    origin, origin_kind = origin_of(p, single_group=single_group(protocol))
    consent = dt.date.fromisoformat(p.consent["date"]) if p.consent and p.consent.get("date") else None
    notes: list[str] = []
    if state == "withdrawn" and not (kind == "event" and entry["kind"] == "death"):
        raise WorkflowError(
            f"participant {p.id}: consent to follow-up withdrawn; only vital status (a death) may still be recorded",
            code="illegal_step",
            field="state",
        )
    if kind == "event":
        ev = entry["kind"]
        if ev in AFTER_ORIGIN and origin is not None and on < origin:
            raise refusal(
                "date",
                on.isoformat(),
                f"a date on or after {origin_kind} ({origin.isoformat()}): a {ev.replace('_', ' ')} "
                f"before it is not a follow-up event (record history in the registered record)",
            )
        if ev == "withdrawal" and entry.get("scope") is None:
            raise refusal(
                "scope",
                None,
                "treatment (withdrawal from protocol treatment; follow-up goes on) or "
                "follow_up (withdrawal of consent to follow-up)",
            )
        if ev == "death":
            prior = [o for o in others if o["kind"] == "event" and o["data"]["kind"] == "death"]
            if prior:
                raise refusal(
                    "kind",
                    "death",
                    f"one death: entry {prior[0]['id']} already records it on "
                    f"{prior[0]['data']['date']} (correct that entry instead)",
                )
    elif kind in AFTER_CONSENT and consent is not None and on < consent:
        raise refusal(
            "date",
            on.isoformat(),
            f"a date on or after consent ({consent.isoformat()})"
            + (
                f"; the consent is dated after today ({today.isoformat()}): correct it first (PUT .../consent)"
                if consent > today
                else ""
            ),
        )
    elif kind == "assessment" and origin is not None and on <= origin:
        notes.append(
            f"dated on or before {origin_kind} ({origin.isoformat()}): a baseline assessment, the "
            "reference for response, not a follow-up time point"
        )
    return notes

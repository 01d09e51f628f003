"""A participant's endpoints, from what is stored about them. Pure.

The join of the trial's own facts to the response derivation: day 0 of follow-up
(:func:`oligotrial.domain.trial.followup.origin_of`), the record in force with the protocol's own
radiotherapy course (:func:`~oligotrial.domain.trial.followup.participant_record`), the dates the
participant was seen outside the record (:func:`contacts`), and every endpoint of the protocol's
``endpoint_rules`` derived from them (:func:`oligotrial.domain.response.derivation.derive_endpoints`).
The service reads the rows (participant, entries, visits, allocation) and calls this once per
participant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record import parse_patient
from oligotrial.domain.record.patient import Patient
from oligotrial.domain.response.derivation import derive_endpoints
from oligotrial.domain.response.endpoints import Candidate
from oligotrial.domain.trial.followup import origin_of, participant_record, single_group
from oligotrial.domain.trial.workflow import Participant


def follow_up_origin(protocol: Protocol, p: Participant) -> tuple[dt.date | None, str]:
    """Day 0 of the participant's follow-up and what it is: randomization, or enrolment in a
    single-arm trial; None before it."""
    return origin_of(p, single_group=single_group(protocol))


def contacts(p: Participant, visits: Iterable[Mapping[str, Any]]) -> list[Candidate]:
    """The dates outside the patient record at which the participant was seen: consent,
    enrolment, randomization and every visit done (in or out of its window; a missed visit is
    not a contact). With the record's own (:func:`oligotrial.domain.response.endpoints.contacts`)
    they give the last contact (docs/endpoints.md)."""
    out = []
    if p.consent and p.consent.get("date"):
        out.append(Candidate(dt.date.fromisoformat(p.consent["date"][:10]), "consent"))
    if p.enrolment and p.enrolment.get("at"):
        out.append(Candidate(dt.date.fromisoformat(p.enrolment["at"][:10]), "enrolment"))
    if p.randomized_on:
        out.append(Candidate(dt.date.fromisoformat(p.randomized_on[:10]), "randomization"))
    for v in visits:
        if v.get("actual") and str(v.get("status", "")).startswith("done"):
            out.append(Candidate(dt.date.fromisoformat(v["actual"][:10]), f"visit {v.get('code')} done"))
    return out


def participant_endpoints(
    protocol: Protocol,
    p: Participant,
    entries: Sequence[Mapping[str, Any]],
    visits: Iterable[Mapping[str, Any]],
    *,
    arm: str | None,
    reveal_arm: bool,
    today: dt.date,
) -> tuple[dict[str, Any], Patient] | None:
    """One participant's endpoints (``oligotrial.endpoints/1`` with ``participant``) and the record
    they were derived from, or None before follow-up has an origin. ``entries`` are the follow-up
    entries the reader may see; ``arm`` the allocated arm (it decides which therapy is
    protocol-directed), shown only with ``reveal_arm``; ``today`` judges the record's dates."""
    origin, origin_kind = follow_up_origin(protocol, p)
    if origin is None:
        return None
    record = participant_record(p, entries, with_protocol_radiotherapy=True)
    patient = parse_patient(record, today=today)
    doc = derive_endpoints(
        patient,
        protocol,
        start=origin,
        arm=arm,
        origin_kind=origin_kind,
        reveal_arm=reveal_arm,
        contacts=contacts(p, visits),
    )
    doc["participant"] = p.id
    return doc, patient

"""The participant's follow-up and endpoints in the domain (issue 27 item 1): day 0, the dates the
participant was seen, the checks of an entry against the milestones with ``today`` given, the
endpoints derived from the stored facts, and one visit-dating function."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

import pytest

from oligotrial.domain.record import parse_patient
from oligotrial.domain.response.derivation import derive_endpoints
from oligotrial.domain.trial import followup, outcomes, schedule
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import RecordError
from oligotrial.protocols import load_protocol

D = dt.date


def _record() -> dict:
    return json.loads((resources.files("oligotrial.examples") / "stop2_eligible.json").read_text())


def _participant(**kw) -> Participant:
    base = {"id": "P-1", "trial": "NCT06918951", "external_id": "x", "record": _record(), "state": "randomized"}
    return Participant(**{**base, **kw})


def test_day_0_is_randomization_or_enrolment_in_a_single_arm_trial():
    stop2, ldrt = load_protocol("STOP-2"), load_protocol("NCT05906329")
    enrolled = {"at": "2026-03-03T10:00:00+00:00"}
    assert outcomes.follow_up_origin(stop2, _participant(randomized_on="2026-03-05")) == (
        D(2026, 3, 5),
        "randomization",
    )
    assert outcomes.follow_up_origin(stop2, _participant(enrolment=enrolled)) == (None, "randomization")
    assert followup.single_group(ldrt) and not followup.single_group(stop2)
    assert outcomes.follow_up_origin(ldrt, _participant(enrolment=enrolled)) == (D(2026, 3, 3), "enrolment")


def test_contacts_are_consent_enrolment_randomization_and_visits_done():
    p = _participant(
        consent={"date": "2026-03-01"}, enrolment={"at": "2026-03-03T10:00:00+00:00"}, randomized_on="2026-03-05"
    )
    visits = [
        {"code": "m3", "status": "done", "actual": "2026-06-04"},
        {"code": "m6", "status": "done_out_of_window", "actual": "2026-09-20"},
        {"code": "m9", "status": "missed", "actual": None},
    ]
    assert [(c.date, c.reason) for c in outcomes.contacts(p, visits)] == [
        (D(2026, 3, 1), "consent"),
        (D(2026, 3, 3), "enrolment"),
        (D(2026, 3, 5), "randomization"),
        (D(2026, 6, 4), "visit m3 done"),
        (D(2026, 9, 20), "visit m6 done"),
    ]


def test_participant_endpoints_are_the_derivation_on_the_record_in_force():
    stop2 = load_protocol("STOP-2")
    assert (
        outcomes.participant_endpoints(stop2, _participant(), [], [], arm=None, reveal_arm=True, today=D(2026, 3, 9))
        is None
    )
    p = _participant(randomized_on="2026-03-05", consent={"date": "2026-03-01"})
    arm = stop2.arms[0].id
    got = outcomes.participant_endpoints(stop2, p, [], [], arm=arm, reveal_arm=False, today=D(2026, 3, 9))
    assert got is not None
    doc, patient = got
    expected = derive_endpoints(
        parse_patient(_record(), today=D(2026, 3, 9)),
        stop2,
        start=D(2026, 3, 5),
        arm=arm,
        origin_kind="randomization",
        reveal_arm=False,
        contacts=outcomes.contacts(p, []),
    )
    assert doc == {**expected, "participant": "P-1"} and patient.id == _record()["id"]
    assert "arm" not in doc and doc["origin"] == "2026-03-05"


def test_an_entry_is_checked_against_the_milestones_on_the_day_given():
    stop2 = load_protocol("STOP-2")
    p = _participant(randomized_on="2026-03-05", consent={"date": "2026-03-01"})
    death = {"kind": "death", "date": "2026-04-01"}
    assert followup.check_milestones(stop2, p, "event", death, [], "randomized", today=D(2026, 4, 1)) == []
    with pytest.raises(RecordError, match="a date not after today"):
        followup.check_milestones(stop2, p, "event", death, [], "randomized", today=D(2026, 3, 31))
    with pytest.raises(RecordError, match="on or after randomization"):
        followup.check_milestones(
            stop2, p, "event", {"kind": "progression", "date": "2026-03-04"}, [], "randomized", today=D(2026, 4, 1)
        )
    notes = followup.check_milestones(
        stop2, p, "assessment", {"date": "2026-03-05"}, [], "randomized", today=D(2026, 4, 1)
    )
    assert notes and "a baseline assessment" in notes[0]


def test_the_schedule_dates_visits_with_the_planning_function():
    """One visit-dating function: the derived schedule's unrecorded visits have exactly the dates
    planned for storage."""
    spec = load_protocol("STOP-2").schedule
    assert spec is not None
    anchors = {"randomization": D(2026, 3, 5), "radiotherapy_start": D(2026, 3, 9), "progression": None}
    planned = {v.code: (v.target, v.earliest, v.latest) for v in schedule.plan_visits(spec.visits, anchors)}
    derived, waiting = schedule.derive(spec.visits, anchors, {}, D(2026, 3, 9))
    assert {v.code: (v.target, v.earliest, v.latest) for v in derived} == planned
    assert {w["code"] for w in waiting} == {v.code for v in spec.visits} - set(planned)

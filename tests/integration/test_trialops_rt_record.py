"""Radiotherapy recorded through real units of work (SQLite and PostgreSQL): the check against
the allocated arm is stored with the record; a refused course leaves nothing behind; a
documented override is kept as a deviation, in the audit trail and as a notification."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.errors import DoseError
from oligotrial.service import audit, enrolment, randomization, unblinding
from oligotrial.service.ports import Actor

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
TREATER = Actor("t", {TRIAL: "treating_oncologist"})
#: for each STOP-2 arm: a course outside its registered regimen, and the field it breaks
OUTSIDE = {"palliative": ({"dose_gy": 30, "fractions": 10, "technique": "conventional"}, "dose_gy"),
           "sabr": ({"dose_gy": 8, "fractions": 1, "technique": "SABR"}, "dose_gy")}


def _randomized(ctx, n):
    p = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": f"P-{n:04d}"})["id"]
    enrolment.screen(ctx, COORD, TRIAL, p)
    enrolment.consent(ctx, COORD, TRIAL, p, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, p)
    return p, randomization.randomize(ctx, COORD, TRIAL, p, {})["arm"]


def test_a_course_outside_the_arm_is_refused_or_kept_as_a_documented_deviation(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=5, size_per_stratum=10)
    pid, arm = _randomized(ctx, 1)
    rt, field = OUTSIDE[arm]
    course = {"start": "2026-03-10", "end": "2026-03-19", **rt}
    checked_before = audit.verify(ctx).checked
    with pytest.raises(DoseError) as e:
        enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, course)
    assert e.value.field == field and f"arm {arm!r}" in e.value.message
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    # nothing written: no course and no visit anchored to it (visits dated from randomization
    # are derived from the randomization date, not stored)
    assert view["state"] == "randomized" and view["radiotherapy"] is None
    assert {v["anchor"] for v in view["visits"]} == {"randomization"}
    with ctx.uow() as uow:
        assert uow.repo.visits(pid) == []
    assert audit.verify(ctx).checked == checked_before

    reason = "treating team judged the allocated course unsafe; PI approved"
    enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, {**course, "override": {"reason": reason}})
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)  # read back from the database
    check = view["radiotherapy"]["check"]
    assert view["state"] == "treated" and check["status"] == "fail" and check["deviation"] is True
    assert check["override"] == {"reason": reason, "by": "t"} and len(view["visits"]) == 7
    assert unblinding.notifications(ctx, COORD, TRIAL)[-1]["kind"] == "radiotherapy_deviation"
    entry = [e for e in audit.trail(ctx, COORD, TRIAL) if e["action"] == "radiotherapy.record"][-1]
    assert entry["reason"] == reason and entry["new"]["check"]["deviation"] is True
    assert audit.verify(ctx).ok

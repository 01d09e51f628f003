"""Radiotherapy recorded through real units of work (SQLite and PostgreSQL): the check against
the allocated arm is stored with the record; a refused course leaves nothing behind; a
documented override is kept as a deviation, in the audit trail and as a notification."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.errors import DoseError
from oligotrial.service import audit, enrolment, randomization, unblinding
from oligotrial.service.ports import Actor
from trialops_db import fake_screener

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
    course = {"start": "2026-03-10", "end": "2026-03-23" if rt["fractions"] > 1 else "2026-03-10", **rt}
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
        assert uow.participants.visits(pid) == []
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


#: a course inside each STOP-2 arm: 8 Gy/1 on one day; SABR 35 Gy/5 Monday to Friday
LATE_COURSE = {"palliative": {"start": "2026-03-09", "end": "2026-03-09", "dose_gy": 8, "fractions": 1,
                              "technique": "conventional"},
               "sabr": {"start": "2026-03-09", "end": "2026-03-13", "dose_gy": 35, "fractions": 5,
                        "technique": "SABR"}}


@pytest.fixture
def clocked(db_settings):
    """A container on the study calendar (5 March 2026), so visits can be recorded as they fall."""
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap
    from trialops_db import StudyClock

    clock = StudyClock()
    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    try:
        yield c, clock
    finally:
        c.dispose()


def test_radiotherapy_entered_after_visits_keeps_them_and_dates_the_visits_it_anchors(clocked):
    """Issue 25 item 3: "Recording the RT course after any visit has been recorded gives 409 and
    a dead end ... Entering RT late is common." The visits already recorded (one done, one
    declared missed) stay as they were recorded, the same rows; the visit the course anchors
    (STOP-2 rt_toxicity_4w, 28 days after the first fraction) is planned from the course."""
    container, clock = clocked
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=5, size_per_stratum=10)
    pid, arm = _randomized(ctx, 2)
    randomized = dt.date.fromisoformat(enrolment.get_participant(ctx, COORD, TRIAL, pid)["randomized_on"][:10])
    dm = Actor("dm", {TRIAL: "data_manager"})
    m3 = (randomized + dt.timedelta(days=91)).isoformat()
    clock.set(m3)
    enrolment.record_visit(ctx, dm, TRIAL, pid, "followup_m3", {"date": m3})
    enrolment.record_visit(ctx, dm, TRIAL, pid, "followup_m6", {"missed": True, "reason": "patient in hospital"})
    with ctx.uow() as uow:
        before = {r["code"]: r for r in uow.participants.visits(pid)}
    assert set(before) == {"followup_m3", "followup_m6"}

    view = enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, LATE_COURSE[arm])
    assert view["state"] == "treated"
    with ctx.uow() as uow:
        rows = {r["code"]: r for r in uow.participants.visits(pid)}
    for code, row in before.items():  # the same rows, untouched
        assert rows[code] == row
    assert rows["followup_m3"]["status"] == "done" and rows["followup_m3"]["actual"] == m3
    assert rows["followup_m6"]["status"] == "missed" and rows["followup_m6"]["note"] == "patient in hospital"
    # 28 days after the first fraction (9 March 2026), window 7 days either side
    assert {k: rows["rt_toxicity_4w"][k] for k in ("target", "earliest", "latest", "status")} == {
        "target": "2026-04-06", "earliest": "2026-03-30", "latest": "2026-04-13", "status": "planned"}
    shown = {v["code"]: v for v in enrolment.get_participant(ctx, COORD, TRIAL, pid)["visits"]}
    assert shown["followup_m3"]["status"] == "done" and shown["followup_m6"]["status"] == "missed"
    assert shown["rt_toxicity_4w"]["target"] == "2026-04-06" and shown["rt_toxicity_4w"]["status"] == "overdue"
    assert audit.verify(ctx).ok



def test_saving_a_visit_stores_its_window_as_well(container):
    """merge_planned re-dates a visit still planned, and record_visit stores the window a visit was
    judged against, both through save_visit: the window must reach the database, as the in-memory
    fake already kept it."""
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=5, size_per_stratum=10)
    pid, _arm = _randomized(ctx, 3)
    with ctx.uow() as uow:
        uow.participants.add_visits(pid, [{"code": "rt_toxicity_4w", "label": "toxicity", "anchor": "radiotherapy_start",
                                   "target": "2026-03-30", "earliest": "2026-03-23", "latest": "2026-04-06",
                                   "forms": [], "actual": None, "status": "planned", "note": None}])
        uow.commit()
    with ctx.uow() as uow:
        (row,) = uow.participants.visits(pid)
        uow.participants.save_visit({**row, "target": "2026-04-06", "earliest": "2026-03-30", "latest": "2026-04-13"})
        uow.commit()
    with ctx.uow() as uow:
        (row,) = uow.participants.visits(pid)
    assert (row["target"], row["earliest"], row["latest"], row["status"]) == (
        "2026-04-06", "2026-03-30", "2026-04-13", "planned")

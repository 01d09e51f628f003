"""The CONSORT flow counted from what is stored (SQLite and PostgreSQL): every exclusion reason,
radiotherapy received or not, losses to follow-up in force (a retracted one counts for nothing),
withdrawals; a screening closed with a reason; the report's data cut hides what came later.

Calendar (STOP-2, the server's clock): four candidates registered 2026-03-05 (screened as of
2026-03-02), five more and their randomization 2026-03-06, radiotherapy 2026-03-10, follow-up
entered 2026-09-01."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.errors import RecordError, WorkflowError
from oligotrial.service import consort, enrolment, followup, randomization
from oligotrial.service.ports import Actor
from oligotrial.service.report import build_report
from trialops_db import FakeOutcome, StudyClock

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()), "events": []}
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
DM = Actor("dm", {TRIAL: "data_manager"})
RT = Actor("rt", {TRIAL: "treating_oncologist"})
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}


def _screener(patient, protocol, *, assume_attested=False):
    """The verdict is the record id's middle part: P-eligible-1 -> eligible."""
    return FakeOutcome(patient.id.split("-")[1].replace("_", " ").replace("review", "needs_review"))


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    clock = StudyClock()
    c = bootstrap(db_settings, screener=_screener, hasher=Argon2Hasher(fast=True), clock=clock)
    randomization.generate_list(c.ctx, TRIAL, seed=3, size_per_stratum=20)
    try:
        yield c, clock
    finally:
        c.dispose()


def _registered(ctx, rid: str) -> str:
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": rid})["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02")
    return pid


def _randomized(ctx, rid: str) -> str:
    pid = _registered(ctx, rid)
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    randomization.randomize(ctx, COORD, TRIAL, pid, {})
    return pid


def _arms(ctx, pids):
    return {p: randomization.arm_of(ctx, TRIAL, p) for p in pids}


def test_every_box_is_counted_from_what_is_stored_and_reconciles(study):
    c, clock = study
    ctx = c.ctx
    _registered(ctx, "P-ineligible-1")  # never closed: the screener's verdict says why
    declined = _registered(ctx, "P-eligible-2")
    other = _registered(ctx, "P-review-3")
    _registered(ctx, "P-eligible-4")  # nothing decided yet
    clock.set("2026-03-06")
    rand = [_randomized(ctx, f"P-eligible-{i}") for i in range(5, 10)]
    enrolment.close_screening(ctx, COORD, TRIAL, declined, {"reason": "declined", "note": "prefers no trial"})
    enrolment.close_screening(ctx, COORD, TRIAL, other, {"reason": "other", "note": "moved abroad"})
    arms = _arms(ctx, rand)
    clock.set("2026-03-10")
    treated = rand[:3]
    for p in treated:
        end = "2026-03-14" if arms[p] == "sabr" else "2026-03-10"  # 5 fractions Tuesday to Saturday; 1 on one day
        enrolment.record_radiotherapy(ctx, RT, TRIAL, p, {"start": "2026-03-10", "end": end, **RT_FOR_ARM[arms[p]]})
    clock.set("2026-09-01")
    lost = followup.record_entry(ctx, DM, TRIAL, rand[3], "event", {"date": "2026-06-01", "kind": "lost_to_follow_up"})
    followup.retract_entry(ctx, DM, TRIAL, rand[3], lost["id"], "found again: seen at a partner hospital")
    followup.record_entry(ctx, DM, TRIAL, rand[4], "event", {"date": "2026-05-01", "kind": "death"})
    followup.record_entry(ctx, DM, TRIAL, rand[0], "event", {"date": "2026-07-01", "kind": "lost_to_follow_up"})
    followup.record_entry(ctx, DM, TRIAL, rand[1], "event", {"date": "2026-07-02", "kind": "withdrawal",
                                                             "scope": "follow_up"})
    flow = consort.consort_flow(ctx, ctx.load_protocol(TRIAL), data_cut=dt.date(2026, 9, 1), arm_of=arms)
    assert flow["assessed_for_eligibility"] == 9
    assert flow["not_randomized"] == {"total": 4, "reasons": {
        "declined": 1, "not eligible": 1, "not yet decided at the data cut": 1, "other": 1},
        "not_eligible_by_criterion": {}}
    assert flow["randomized"] == 5 == sum(flow["allocated"].values())
    by_arm = {a: sorted(p for p in rand if arms[p] == a) for a in ("palliative", "sabr")}
    assert {a: sorted(v) for a, v in flow["participants"].items()} == by_arm
    for a, pids in by_arm.items():
        got = [p for p in pids if p in treated]
        assert flow["received_allocated_intervention"][a] == len(got)
        dnr = flow["did_not_receive_allocated_intervention"][a]
        assert dnr["total"] == len(pids) - len(got)
        assert dnr["reasons"].get("died before radiotherapy", 0) == (rand[4] in pids)
        assert flow["lost_to_follow_up"][a] == (rand[0] in pids)  # the retracted loss counts for nothing
        assert flow["discontinued"][a]["total"] == (rand[1] in pids)
        assert flow["analysed"][a] == len(pids)
    # the report at an earlier cut sees the database as it stood: on 2026-03-05 four candidates
    # were registered, none closed, none randomized
    early = build_report(ctx, TRIAL, data_cut=dt.date(2026, 3, 5))
    assert early["consort"]["assessed_for_eligibility"] == 4 and early["consort"]["randomized"] == 0
    assert early["consort"]["not_randomized"]["reasons"] == {"not eligible": 1, "not yet decided at the data cut": 3}
    # and the pooled (blinded) flow has one box per stage, the same totals
    pooled = consort.pooled(flow)
    assert pooled["allocated"] == {"all arms": 5} and "participants" not in pooled
    assert pooled["received_allocated_intervention"] == {"all arms": 3}


def test_closing_a_screening_says_why_and_refuses_what_it_cannot_record(study):
    c, _clock = study
    ctx = c.ctx
    pid = _registered(ctx, "P-eligible-1")
    with ctx.uow() as uow:
        before = len(uow.audit.audit_entries(TRIAL))
    with pytest.raises(RecordError) as e:
        enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "bored"})
    assert e.value.field == "reason" and "declined" in e.value.message
    with pytest.raises(RecordError) as e:
        enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "other", "note": ""})
    assert e.value.field == "note"
    done = _randomized(ctx, "P-eligible-2")
    with pytest.raises(WorkflowError) as e:
        enrolment.close_screening(ctx, COORD, TRIAL, done, {"reason": "declined"})
    assert e.value.field == "state" and "randomized" in e.value.message
    with ctx.uow() as uow:
        trail = uow.audit.audit_entries(TRIAL)
    assert [x["action"] for x in trail[before:]] == ["participant.register", "participant.screen",
                                                     "participant.consent", "participant.enrol",
                                                     "participant.randomize"]
    out = enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "declined", "note": "prefers no trial"})
    assert out["state"] == "screening_closed"
    assert out["closure"]["reason"] == "declined" and out["closure"]["verdict"] == "eligible"
    with ctx.uow() as uow:
        last = uow.audit.audit_entries(TRIAL)[-1]
    assert last["action"] == "participant.not_enrolled" and last["new"]["reason"] == "declined"

"""Follow-up after randomization on SQLite and PostgreSQL: every bad entry refused with its field
named and nothing stored; corrections and retractions with a reason; the state and the endpoints
derived from what is stored; the ADTTE export.

The study calendar: consent 2026-03-01, randomization 2026-03-05 (the server's clock), follow-up
entered on 2026-09-01. The registered record (shared/formats' example, without its death) has
lesions L1 (lung), L2 (node), L3 (bone), L6 (brain) and L7, first seen on 2026-02-20.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from oligotrial.errors import OligotrialError, RecordError, WorkflowError
from oligotrial.service import audit, endpoints, enrolment, followup, randomization
from oligotrial.service.ports import Actor
from trialops_db import StudyClock, fake_screener

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()), "events": []}
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
DM = Actor("dm", {TRIAL: "data_manager"})
OA = Actor("oa", {TRIAL: "outcome_assessor"})  # STOP-2 masks its outcome assessors: they record assessments


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    clock = StudyClock()
    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    randomization.generate_list(c.ctx, TRIAL, seed=3, size_per_stratum=20)
    try:
        yield c, clock
    finally:
        c.dispose()


def _randomized(ctx, n: int = 1) -> str:
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": f"P-{n:04d}"})["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02")
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    randomization.randomize(ctx, COORD, TRIAL, pid, {})
    return pid


def _stored(ctx, pid):
    with ctx.uow() as uow:
        return len(uow.participants.entries(pid)), len(uow.audit.audit_entries(TRIAL))


SCAN = {"date": "2026-06-01", "modality": "CT"}
#: (what is wrong, entry kind, body, the field the error must name)
BAD = [
    ("negative diameter", "assessment", {**SCAN, "findings": [{"lesion": "L1", "diameter_mm": -5}]},
     "findings[0].diameter_mm"),
    ("unknown key inside a finding", "assessment",
     {**SCAN, "findings": [{"lesion": "L1", "diameter_mm": 20, "colour": "red"}]}, "findings[0].colour"),
    ("modality ultrasound", "assessment", {**SCAN, "modality": "ultrasound"}, "modality"),
    ("a lesion the participant does not have", "assessment",
     {**SCAN, "findings": [{"lesion": "L99", "diameter_mm": 12}]}, "findings[0].lesion"),
    ("overall response banana", "assessment", {**SCAN, "overall_response": "banana"}, "overall_response"),
    ("two readings of one lesion on one date", "assessment",
     {**SCAN, "modality": "MRI", "findings": [{"lesion": "L1", "diameter_mm": 25}]}, "findings[0]"),
    ("EQ-5D answer of 9", "qol", {"date": "2026-06-01", "instrument": "EQ-5D-5L", "responses": {"mobility": 9}},
     "responses.mobility"),
    ("QLQ-C30 item that does not exist", "qol",
     {"date": "2026-06-01", "instrument": "EORTC QLQ-C30", "responses": {"q31": 2}}, "responses.q31"),
    ("not a CTCAE term", "adverse_event", {"date": "2026-06-01", "term": "Boredom", "grade": 1}, "term"),
    ("a grade CTCAE does not define for the term", "adverse_event",
     {"date": "2026-06-01", "term": "Fatigue", "grade": 5}, "grade"),
    ("resolved before onset", "adverse_event",
     {"date": "2026-06-01", "term": "Fatigue", "grade": 1, "resolved_on": "2026-05-01"}, "resolved_on"),
    ("a date in the future", "adverse_event", {"date": "2026-10-01", "term": "Fatigue", "grade": 1}, "date"),
    ("an adverse event before consent", "adverse_event", {"date": "2026-02-01", "term": "Fatigue", "grade": 1},
     "date"),
    ("a death before randomization", "event", {"date": "2026-03-04", "kind": "death"}, "date"),
    ("a withdrawal that does not say from what", "event", {"date": "2026-06-01", "kind": "withdrawal"}, "scope"),
    ("an event kind the record does not know", "event", {"date": "2026-06-01", "kind": "abduction"}, "kind"),
    ("a lab in a unit the test does not take", "lab",
     {"date": "2026-06-01", "test": "hemoglobin", "value": 11, "unit": "mmol/L"}, "unit"),
    ("ECOG 7", "performance", {"date": "2026-06-01", "scale": "ECOG", "score": 7}, "score"),
]


def test_every_bad_entry_is_refused_with_its_field_and_nothing_is_stored(study):
    c, clock = study
    ctx = c.ctx
    pid = _randomized(ctx)
    clock.set("2026-09-01")
    first = followup.record_entry(ctx, OA, TRIAL, pid, "assessment",
                                  {**SCAN, "findings": [{"lesion": "L1", "diameter_mm": 20}]})
    assert first["status"] == "active"
    before = _stored(ctx, pid)
    for what, kind, body, field in BAD:
        with pytest.raises(OligotrialError) as e:
            followup.record_entry(ctx, OA if kind == "assessment" else DM, TRIAL, pid, kind, body)
        assert isinstance(e.value, RecordError | WorkflowError), what
        assert e.value.field == field, (what, e.value.field, e.value.message)
        assert _stored(ctx, pid) == before, f"{what}: something was stored"
    # a scan dated before randomization is accepted as a baseline, and the answer says so
    base = followup.record_entry(ctx, OA, TRIAL, pid, "assessment",
                                 {"date": "2026-03-03", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 31}]})
    assert any("baseline assessment" in n for n in base["notes"])


def test_a_wrong_death_is_retracted_with_a_reason_and_state_audit_and_os_follow(study):
    c, clock = study
    ctx = c.ctx
    pid = _randomized(ctx)
    clock.set("2026-09-01")
    followup.record_entry(ctx, OA, TRIAL, pid, "assessment",
                          {**SCAN, "findings": [{"lesion": "L1", "diameter_mm": 28}, {"lesion": "L7", "diameter_mm": 10}]})
    death = followup.record_entry(ctx, DM, TRIAL, pid, "event", {"date": "2026-08-01", "kind": "death"})
    assert death["participant_state"] == "deceased"
    os_ = next(e for e in endpoints.participant_endpoints(ctx, COORD, TRIAL, pid)["endpoints"] if e["endpoint"] == "os")
    # OS from randomization 2026-03-05 to death 2026-08-01: 26 + 30 + 31 + 30 + 31 + 1 = 149 days
    assert os_["event"] is True and os_["date"] == "2026-08-01" and os_["days"] == 149
    with pytest.raises(RecordError):
        followup.retract_entry(ctx, DM, TRIAL, pid, death["id"], "")
    out = followup.retract_entry(ctx, DM, TRIAL, pid, death["id"], "entered for the wrong participant")
    assert out["participant_state"] == "randomized" and out["status"] == "retracted"
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    assert view["state"] == "randomized"
    stored = next(e for e in view["entries"] if e["id"] == death["id"])
    assert stored["status"] == "retracted" and stored["reason"] == "entered for the wrong participant"
    trail = audit.trail(ctx, COORD, TRIAL)
    retract = next(e for e in trail if e["action"] == "event.retract")
    assert retract["old"] == {"date": "2026-08-01", "kind": "death"} and retract["reason"] == "entered for the wrong participant"
    assert audit.verify(ctx).ok
    # OS now censored at the last contact, the 2026-06-01 scan: day 88 (26 + 30 + 31 + 1)
    os_ = next(e for e in endpoints.participant_endpoints(ctx, COORD, TRIAL, pid)["endpoints"] if e["endpoint"] == "os")
    assert os_["event"] is False and os_["date"] == "2026-06-01" and os_["days"] == 88
    # a correction keeps the old value in the trail, with who and why
    ae = followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event", {"date": "2026-06-02", "term": "Fatigue", "grade": 1})
    fixed = followup.correct_entry(ctx, DM, TRIAL, pid, ae["id"], {"date": "2026-06-02", "term": "Fatigue", "grade": 2},
                                   "grade per source document")
    assert fixed["version"] == 2 and fixed["data"]["grade"] == 2
    corr = [e for e in audit.trail(ctx, COORD, TRIAL) if e["action"] == "adverse_event.correct"][-1]
    assert corr["old"]["grade"] == 1 and corr["new"]["grade"] == 2 and corr["reason"] == "grade per source document"


def test_withdrawal_from_treatment_keeps_follow_up_and_vital_status_but_withdrawn_consent_does_not(study):
    c, clock = study
    ctx = c.ctx
    clock.set("2026-09-01")
    pid, other = _randomized(ctx, 1), _randomized(ctx, 2)  # randomized on 2026-09-01 in this test
    clock.set("2026-12-01")
    w = followup.record_entry(ctx, DM, TRIAL, pid, "event", {"date": "2026-09-10", "kind": "withdrawal", "scope": "treatment"})
    assert w["participant_state"] == "withdrawn_from_treatment"
    followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event", {"date": "2026-09-20", "term": "Fatigue", "grade": 1})
    d = followup.record_entry(ctx, DM, TRIAL, pid, "event", {"date": "2026-11-01", "kind": "death"})
    assert d["participant_state"] == "deceased"
    os_ = next(e for e in endpoints.participant_endpoints(ctx, COORD, TRIAL, pid)["endpoints"] if e["endpoint"] == "os")
    assert os_["event"] is True and os_["date"] == "2026-11-01"

    followup.record_entry(ctx, DM, TRIAL, other, "event", {"date": "2026-10-01", "kind": "withdrawal", "scope": "follow_up"})
    with pytest.raises(WorkflowError):
        followup.record_entry(ctx, DM, TRIAL, other, "adverse_event", {"date": "2026-10-05", "term": "Fatigue", "grade": 1})
    assert followup.record_entry(ctx, DM, TRIAL, other, "event",
                                 {"date": "2026-11-15", "kind": "death"})["participant_state"] == "deceased"


def test_endpoints_and_adtte_come_from_the_stored_data(study, tmp_path):
    c, clock = study
    ctx = c.ctx
    pids = [_randomized(ctx, n) for n in (1, 2)]
    clock.set("2026-09-01")
    # P-0001: the lesions present at the last scan before randomization (2026-02-20: L1 31, L2 12 SA,
    # L7 11) shrink; L7 was first seen there, so it is a baseline lesion and never new.
    # Targets L1 31 + L7 11 = 42 mm; 2026-06-01: 25 + 8 = 33 mm (-21 %, SD). No event: PFS censored
    # at 2026-06-01, day 88 from randomization on 2026-03-05.
    followup.record_entry(ctx, OA, TRIAL, pids[0], "assessment",
                          {**SCAN, "findings": [{"lesion": "L1", "diameter_mm": 25}, {"lesion": "L2", "short_axis_mm": 10},
                                                {"lesion": "L7", "diameter_mm": 8}]})
    # P-0002 dies on 2026-07-01: OS and PFS events on day 118 (26 + 30 + 31 + 30 + 1)
    followup.record_entry(ctx, DM, TRIAL, pids[1], "event", {"date": "2026-07-01", "kind": "death"})
    doc = endpoints.participant_endpoints(ctx, COORD, TRIAL, pids[0])
    assert doc["origin"] == "2026-03-05" and doc["origin_kind"] == "randomization"
    assert doc["response_baseline"] == "2026-02-20"
    pfs = next(e for e in doc["endpoints"] if e["endpoint"] == "pfs")
    assert pfs["event"] is False and pfs["date"] == "2026-06-01" and pfs["days"] == 88, pfs

    lines, with_arm = endpoints.export(ctx, None, TRIAL, "adtte")
    out = tmp_path / "adtte.csv"
    out.write_text("".join(lines), encoding="utf-8")
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert with_arm and list(rows[0]) == list(endpoints.ADTTE_COLUMNS)
    params = ["OS", "PFS", "PFSNEST", "PPFS", "TTNST"]
    assert [(r["USUBJID"], r["PARAMCD"]) for r in rows] == [(p, k) for p in sorted(pids) for k in params]
    dead = {r["PARAMCD"]: r for r in rows if r["USUBJID"] == pids[1]}
    assert dead["OS"]["CNSR"] == "0" and dead["OS"]["ADT"] == "2026-07-01" and dead["OS"]["AVAL"] == "118"
    assert dead["OS"]["STARTDT"] == "2026-03-05" and dead["OS"]["ARM"] in ("palliative", "sabr")
    alive = {r["PARAMCD"]: r for r in rows if r["USUBJID"] == pids[0]}
    assert alive["PFS"]["CNSR"] == "1" and alive["PFS"]["AVAL"] == "88"


RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}


def test_the_visit_schedule_follows_its_anchors_and_lists_what_is_due(study):
    c, clock = study
    ctx = c.ctx
    pid = _randomized(ctx)  # randomized 2026-03-05
    arm = enrolment.get_participant(ctx, COORD, TRIAL, pid)["allocation"]["arm"]
    clock.set("2026-03-10")
    enrolment.record_radiotherapy(ctx, Actor("t", {TRIAL: "treating_oncologist"}), TRIAL, pid,
                                  {"start": "2026-03-10", "end": "2026-03-14" if arm == "sabr" else "2026-03-10",
                                   **RT_FOR_ARM[arm]})
    clock.set("2026-04-08")
    # 4 weeks after the first fraction: 2026-04-07, window 03-31..04-14 -> due today
    due = enrolment.visits_due(ctx, COORD, TRIAL)
    assert [(v["participant"], v["code"], v["status"]) for v in due] == [(pid, "rt_toxicity_4w", "due")]
    clock.set("2026-09-01")
    followup.record_entry(ctx, DM, TRIAL, pid, "event", {"date": "2026-05-01", "kind": "progression"})
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    post = next(v for v in view["visits"] if v["code"] == "post_progression_m3")
    # progression 2026-05-01 + 91 days = 2026-07-31, window closed 2026-08-14: overdue on 2026-09-01
    assert post["target"] == "2026-07-31" and post["status"] == "overdue"
    out = enrolment.record_visit(ctx, COORD, TRIAL, pid, "followup_m3", {"missed": True, "reason": "in hospital"})
    assert out["status"] == "missed" and out["note"] == "in hospital"
    codes = {v["code"]: v["status"] for v in enrolment.visits_due(ctx, COORD, TRIAL)}
    assert codes["post_progression_m3"] == "overdue" and "followup_m3" not in codes
    prog = next(e for e in enrolment.get_participant(ctx, COORD, TRIAL, pid)["entries"]
                if e["data"].get("kind") == "progression")
    followup.retract_entry(ctx, DM, TRIAL, pid, prog["id"], "progression not confirmed on review")
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    assert "post_progression_m3" not in {v["code"] for v in view["visits"]}
    assert {"code": "post_progression_m3", "label": "Survival status 3 months after progression",
            "anchor": "progression"} in view["visits_waiting"]

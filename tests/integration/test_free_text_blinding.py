"""Issue 25 item 1 on SQLite and PostgreSQL: free text written by a role that knows the arm is
withheld from the blinded roles, with "withheld: written by an unblinded role" in its place, and
released by a data manager who sees the arm after review.

The issue's words: "A visit's out-of-window note ("seen the day of the 8 Gy single fraction") is
shown to the blinded statistician and the masked outcome assessor on the participant page; an AE
note ("after the SABR fraction") is shown on the statistician's audit page. ... Every free-text
field (notes, reasons, descriptions, corrections, `Other, specify`, data-query text, event
details) written by a role not in the protocol's `masking.blinded_roles` is withheld from the
blinded roles (page, API, audit view, exports, report), with a visible "withheld: written by an
unblinded role" in its place; a data manager who sees the arm may release one after review
(`POST .../entries/{id}/release {"field": ..., "reason": ...}`, audited); a query meant for a
blinded role is released by whoever raised it. The arm-word check warns the writer at entry; the
warning is shown to the writer only and stored nowhere a blinded role reads."

STOP-2 (NCT06918951) blinds the enrolling oncologist, the statistician and the outcome assessor;
the coordinator, the treating oncologist and the data manager see the arm.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.service import audit, endpoints, enrolment, followup, queries, randomization
from oligotrial.service.ports import Actor
from trialops_db import StudyClock, fake_screener

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()), "events": []}
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
TREAT = Actor("treat", {TRIAL: "treating_oncologist"})
DM = Actor("dm", {TRIAL: "data_manager"})
DM2 = Actor("dm2", {TRIAL: "data_manager"})
STAT = Actor("stat", {TRIAL: "statistician"})
OA = Actor("oa", {TRIAL: "outcome_assessor"})
ENROLLER = Actor("enroller", {TRIAL: "enrolling_oncologist"})
BLINDED = (STAT, OA, ENROLLER)
WITHHELD = "withheld: written by an unblinded role"
VISIT_NOTE = "seen the day of the 8 Gy single fraction"
AE_NOTE = "after the SABR fraction"
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}
#: the last fraction at the earliest date each course allows (one fraction a day)
LAST_FRACTION = {"palliative": "2026-03-10", "sabr": "2026-03-14"}


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    clock = StudyClock()
    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    randomization.generate_list(c.ctx, TRIAL, seed=3, size_per_stratum=20)
    ctx = c.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-0001"})["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02")
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    randomization.randomize(ctx, COORD, TRIAL, pid, {})
    arm = enrolment.get_participant(ctx, COORD, TRIAL, pid)["allocation"]["arm"]
    clock.set("2026-03-10")
    enrolment.record_radiotherapy(ctx, TREAT, TRIAL, pid, {"start": "2026-03-10", "end": LAST_FRACTION[arm],
                                                            **RT_FOR_ARM[arm]})
    clock.set("2026-05-01")
    try:
        yield c, ctx, pid
    finally:
        c.dispose()


def _view(ctx, actor, pid):
    return enrolment.get_participant(ctx, actor, TRIAL, pid)


def _texts(obj) -> str:
    return json.dumps(obj)


def test_the_issues_visit_note_and_ae_note_are_withheld_from_blinded_roles(study):
    _c, ctx, pid = study
    # 4 weeks after the first fraction is 2026-04-07, window 03-31..04-14: 04-20 is outside it
    visit = enrolment.record_visit(ctx, COORD, TRIAL, pid, "rt_toxicity_4w",
                                   {"date": "2026-04-20", "out_of_window_reason": VISIT_NOTE})
    assert visit["status"] == "done_out_of_window" and visit["note"] == VISIT_NOTE
    assert visit["warnings"] and "'8 gy'" in visit["warnings"][0]  # the writer is warned
    ae = followup.record_entry(ctx, COORD, TRIAL, pid, "adverse_event",
                               {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": AE_NOTE})
    assert ae["warnings"] and "'sabr'" in ae["warnings"][0]
    for blind in BLINDED:
        v = _view(ctx, blind, pid)
        assert next(x for x in v["visits"] if x["code"] == "rt_toxicity_4w")["note"] == WITHHELD
        e = next(x for x in v["entries"] if x["id"] == ae["id"])
        assert e["data"]["note"] == WITHHELD and e["withheld"] == ["note"]
        assert e["data"]["term"] == "Fatigue" and e["data"]["grade"] == 2  # structured data as before
        assert VISIT_NOTE not in _texts(v) and AE_NOTE not in _texts(v)
    for seeing in (COORD, DM, TREAT):
        v = _view(ctx, seeing, pid)
        assert next(x for x in v["visits"] if x["code"] == "rt_toxicity_4w")["note"] == VISIT_NOTE
        assert next(x for x in v["entries"] if x["id"] == ae["id"])["data"]["note"] == AE_NOTE
    trail = audit.trail(ctx, STAT, TRIAL)  # "shown on the statistician's audit page"
    rec = next(r for r in trail if r["action"] == "adverse_event.record")
    assert rec["new"]["note"] == WITHHELD and rec["new"]["term"] == "Fatigue"
    assert VISIT_NOTE not in _texts(trail) and AE_NOTE not in _texts(trail)
    assert AE_NOTE in _texts(audit.trail(ctx, DM, TRIAL))
    # the warning went to the writer only: nothing stored says it
    with ctx.uow() as uow:
        assert "may name an arm" not in _texts(uow.audit.audit_entries(TRIAL))


def test_every_free_text_kind_and_a_correction_reason_is_withheld(study):
    _c, ctx, pid = study
    other = followup.record_entry(ctx, COORD, TRIAL, pid, "adverse_event", {
        "date": "2026-04-02", "term": "Respiratory, thoracic and mediastinal disorders - Other, specify", "grade": 2,
        "specify": "cough after SABR"})
    ev = followup.record_entry(ctx, TREAT, TRIAL, pid, "event",
                               {"date": "2026-04-20", "kind": "progression", "detail": "new lesion after 35 Gy in 5"})
    th = followup.record_entry(ctx, COORD, TRIAL, pid, "therapy", {
        "line": 2, "agents": ["docetaxel"], "classes": ["chemotherapy"], "start": "2026-04-25",
        "stop_reason": "stopped for the five fractions"})
    followup.correct_entry(ctx, DM, TRIAL, pid, other["id"], {
        "date": "2026-04-02", "term": "Respiratory, thoracic and mediastinal disorders - Other, specify", "grade": 3,
        "specify": "cough after SABR"}, "grade per the palliative arm's source document")
    v = _view(ctx, STAT, pid)
    by_id = {e["id"]: e for e in v["entries"]}
    assert by_id[other["id"]]["data"]["specify"] == WITHHELD and by_id[other["id"]]["reason"] == WITHHELD
    assert by_id[ev["id"]]["data"]["detail"] == WITHHELD and by_id[th["id"]]["data"]["stop_reason"] == WITHHELD
    for word in ("SABR", "35 Gy", "five fractions", "palliative"):
        assert word not in _texts(v)
    # exports: a progression's detail is in ADTTE's event description; not for a blinded role
    lines, with_arm = endpoints.export(ctx, STAT, TRIAL, "adtte")
    body = "".join(lines)
    assert not with_arm and "35 Gy" not in body and WITHHELD in body
    lines, _ = endpoints.export(ctx, DM, TRIAL, "adtte")
    assert "new lesion after 35 Gy in 5" in "".join(lines)
    assert endpoints.participant_endpoints(ctx, STAT, TRIAL, pid)  # derives with the withheld text
    assert "35 Gy" not in _texts(endpoints.participant_endpoints(ctx, STAT, TRIAL, pid))


def test_a_blinded_writers_text_is_shown_and_an_open_label_trial_withholds_nothing(study):
    _c, ctx, pid = study
    mine = followup.record_entry(ctx, ENROLLER, TRIAL, pid, "adverse_event",
                                 {"date": "2026-04-02", "term": "Fatigue", "grade": 1, "note": "tired since April"})
    assert _view(ctx, STAT, pid)["entries"][-1]["data"]["note"] == "tired since April"
    assert "withheld" not in next(e for e in _view(ctx, OA, pid)["entries"] if e["id"] == mine["id"])
    # NCT05906329 (LDRT-IO) is open label: "Masking: None (Open Label)"
    ldrt = "NCT05906329"
    coord, stat = Actor("c", {ldrt: "coordinator"}), Actor("s", {ldrt: "statistician"})
    p = enrolment.register(ctx, coord, ldrt, {**RECORD, "id": "L-1"})["id"]
    enrolment.screen(ctx, coord, ldrt, p, on="2026-03-02")
    enrolment.consent(ctx, coord, ldrt, p, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, coord, ldrt, p)
    out = followup.record_entry(ctx, coord, ldrt, p, "adverse_event",
                                {"date": "2026-04-02", "term": "Fatigue", "grade": 1, "note": "after SABR"})
    assert out["warnings"] == []  # nothing to hide, nothing to warn about
    assert enrolment.get_participant(ctx, stat, ldrt, p)["entries"][0]["data"]["note"] == "after SABR"


def test_a_data_manager_who_sees_the_arm_releases_one_text_after_review(study):
    _c, ctx, pid = study
    ae = followup.record_entry(ctx, COORD, TRIAL, pid, "adverse_event",
                               {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": "tired all week"})
    with ctx.uow() as uow:
        before = len(uow.audit.audit_entries(TRIAL))
    # refused, nothing stored: a blinded role, a field with no free text, a text not withheld
    with pytest.raises(BlindingError) as err:
        followup.release_text(ctx, STAT, TRIAL, pid, ae["id"], "note", "reviewed: no arm")
    assert err.value.code == "forbidden"
    with pytest.raises(RecordError) as err:
        followup.release_text(ctx, DM, TRIAL, pid, ae["id"], "grade", "reviewed: no arm")
    assert err.value.field == "field" and "one of note" in err.value.message
    with pytest.raises(RecordError) as err:
        followup.release_text(ctx, DM, TRIAL, pid, ae["id"], "note", "")
    assert err.value.field == "reason"
    with ctx.uow() as uow:
        assert len(uow.audit.audit_entries(TRIAL)) == before
    out = followup.release_text(ctx, DM, TRIAL, pid, ae["id"], "note", "reviewed: names no arm")
    assert out == {"id": ae["id"], "field": "note", "version": 1, "released": True, "reason": "reviewed: names no arm"}
    e = next(x for x in _view(ctx, STAT, pid)["entries"] if x["id"] == ae["id"])
    assert e["data"]["note"] == "tired all week" and "withheld" not in e
    rel = [r for r in audit.trail(ctx, DM, TRIAL) if r["action"] == "text.release"]
    assert len(rel) == 1 and rel[0]["actor"] == "dm" and rel[0]["new"] == {"field": "note", "version": 1}
    assert rel[0]["reason"] == "reviewed: names no arm"
    with pytest.raises(WorkflowError, match="not withheld"):
        followup.release_text(ctx, DM, TRIAL, pid, ae["id"], "note", "again")
    # a correction is a new version: withheld again until it is reviewed
    followup.correct_entry(ctx, COORD, TRIAL, pid, ae["id"],
                           {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": "tired since the 8 Gy"},
                           "note per source")
    e = next(x for x in _view(ctx, STAT, pid)["entries"] if x["id"] == ae["id"])
    assert e["data"]["note"] == WITHHELD and e["reason"] == WITHHELD


def test_a_blinded_role_correcting_an_entry_never_overwrites_a_text_it_could_not_read(study):
    _c, ctx, pid = study
    ae = followup.record_entry(ctx, COORD, TRIAL, pid, "adverse_event",
                               {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": "tired all week"})
    shown = next(x for x in _view(ctx, ENROLLER, pid)["entries"] if x["id"] == ae["id"])["data"]
    out = followup.correct_entry(ctx, ENROLLER, TRIAL, pid, ae["id"], {**shown, "grade": 1}, "grade per source")
    assert out["data"]["note"] == "tired all week" and out["data"]["grade"] == 1
    assert next(x for x in _view(ctx, DM, pid)["entries"] if x["id"] == ae["id"])["data"]["note"] == "tired all week"
    # the coordinator's note stays withheld, though a blinded role wrote the last version, and the
    # audit row of that correction shows it neither in old nor in new
    e = next(x for x in _view(ctx, STAT, pid)["entries"] if x["id"] == ae["id"])
    assert e["data"]["note"] == WITHHELD and e["reason"] == "grade per source"
    row = next(r for r in audit.trail(ctx, STAT, TRIAL) if r["action"] == "adverse_event.correct")
    assert row["role"] == "enrolling_oncologist" and row["reason"] == "grade per source"
    assert row["old"]["note"] == WITHHELD and row["new"]["note"] == WITHHELD and row["new"]["grade"] == 1
    assert "tired all week" not in _texts(audit.trail(ctx, STAT, TRIAL))


def test_a_query_is_released_by_whoever_raised_it(study):
    _c, ctx, pid = study
    ae = followup.record_entry(ctx, COORD, TRIAL, pid, "adverse_event",
                               {"date": "2026-04-02", "term": "Fatigue", "grade": 2})
    q = queries.raise_query(ctx, DM, TRIAL, pid, entry=ae["id"], field="grade", text="Grade 2 but no treatment?")
    assert queries.get_query(ctx, ENROLLER, TRIAL, q["id"])["question"] == WITHHELD
    with pytest.raises(WorkflowError) as err:  # another data manager did not raise it
        queries.release_query(ctx, DM2, TRIAL, q["id"], "reviewed")
    assert err.value.code == "illegal_step"
    with pytest.raises(BlindingError):  # the blinded site may not release
        queries.release_query(ctx, ENROLLER, TRIAL, q["id"], "reviewed")
    out = queries.release_query(ctx, DM, TRIAL, q["id"], "Reviewed: names no arm.")
    assert out["status"] == "open" and queries.RELEASE not in out["actions"]
    seen = queries.get_query(ctx, ENROLLER, TRIAL, q["id"])
    assert seen["question"] == "Grade 2 but no treatment?"
    assert [m["action"] for m in seen["history"]] == ["raise", "release"]
    assert seen["history"][1]["text"] == "Reviewed: names no arm."
    queries.answer_query(ctx, ENROLLER, TRIAL, q["id"], "None given.")
    queries.reopen_query(ctx, DM, TRIAL, q["id"], "The letter says otherwise.")
    # what the data manager writes after the release is withheld again until the next one
    assert [m["text"] for m in queries.get_query(ctx, ENROLLER, TRIAL, q["id"])["history"]][2:] == [
        "None given.", WITHHELD]
    assert [r["action"] for r in audit.trail(ctx, DM, TRIAL) if r["action"].startswith("query.")] == [
        "query.raise", "query.release", "query.answer", "query.reopen"]


def test_a_record_correction_after_randomization_is_withheld_and_one_before_is_not(study):
    _c, ctx, pid = study
    record = _view(ctx, COORD, pid)["record"]
    conds = [*(record.get("conditions") or []), {"name": "interstitial_lung_disease", "active": False,
                                                 "detail": "reviewed at the SABR planning visit"}]
    enrolment.correct_record(ctx, COORD, TRIAL, pid, {"record": {**record, "conditions": conds},
                                                      "reason": "history completed"})
    v = _view(ctx, STAT, pid)
    assert v["record"]["conditions"][-1]["detail"] == WITHHELD and "SABR" not in _texts(v["record"])
    assert _view(ctx, DM, pid)["record"]["conditions"][-1]["detail"] == "reviewed at the SABR planning visit"
    trail = audit.trail(ctx, STAT, TRIAL)
    corr = next(r for r in trail if r["action"] == "participant.correct")
    assert corr["reason"] == WITHHELD and "SABR" not in _texts(trail)


def test_the_release_route_names_the_field_on_bad_input(study):
    c, ctx, pid = study
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app
    from oligotrial.service import users

    ae = followup.record_entry(ctx, COORD, TRIAL, pid, "adverse_event",
                               {"date": "2026-04-02", "term": "Fatigue", "grade": 2, "note": "tired all week"})
    for name, role in (("dm-api", "data_manager"), ("stat-api", "statistician")):
        users.add_user(ctx, name, "api-test-password-1", role, TRIAL)
    client = TestClient(create_app(c))

    def call(user, body):
        tok = client.post("/api/v1/auth/token", data={"username": user, "password": "api-test-password-1"})
        return client.post(f"/api/v1/trials/{TRIAL}/participants/{pid}/entries/{ae['id']}/release",
                           json=body, headers={"Authorization": f"Bearer {tok.json()['access_token']}"})

    r = call("dm-api", {"field": "colour", "reason": "reviewed"})
    assert r.status_code == 422 and r.json()["field"] == "field"
    assert call("stat-api", {"field": "note", "reason": "reviewed"}).status_code == 403
    r = call("dm-api", {"field": "note", "reason": "reviewed: names no arm"})
    assert r.status_code == 200 and r.json()["released"] is True
    assert next(e for e in _view(ctx, STAT, pid)["entries"] if e["id"] == ae["id"])["data"]["note"] == "tired all week"


def test_a_visit_note_is_released_by_a_data_manager_who_sees_the_arm(study):
    _c, ctx, pid = study
    enrolment.record_visit(ctx, COORD, TRIAL, pid, "rt_toxicity_4w",
                           {"date": "2026-04-20", "out_of_window_reason": "patient on holiday"})
    visit = next(v for v in _view(ctx, DM, pid)["visits"] if v["code"] == "rt_toxicity_4w")
    assert visit["note"] == "patient on holiday" and visit["withheld_from_blinded"] == ["note"]
    with pytest.raises(BlindingError):
        followup.release_visit_note(ctx, OA, TRIAL, pid, "rt_toxicity_4w", "reviewed")
    with pytest.raises(WorkflowError) as err:
        followup.release_visit_note(ctx, DM, TRIAL, pid, "no_such_visit", "reviewed")
    assert err.value.field == "visit"
    out = followup.release_visit_note(ctx, DM, TRIAL, pid, "rt_toxicity_4w", "reviewed: names no arm")
    assert out["released"] is True
    for blind in BLINDED:
        assert next(v for v in _view(ctx, blind, pid)["visits"] if v["code"] == "rt_toxicity_4w")["note"] == \
            "patient on holiday"
    assert "withheld_from_blinded" not in next(v for v in _view(ctx, DM, pid)["visits"] if v["code"] == "rt_toxicity_4w")
    with pytest.raises(WorkflowError, match="not withheld"):
        followup.release_visit_note(ctx, DM, TRIAL, pid, "rt_toxicity_4w", "again")

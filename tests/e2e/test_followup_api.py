"""Follow-up over HTTP: the same validation as the record (one way in), documented bodies,
corrections with a reason, endpoints, and the analysis datasets without the arm for a blinded role."""

from __future__ import annotations

import csv
import io

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from trialops_e2e import RECORD, TRIAL

BASE = f"/api/v1/trials/{TRIAL}/participants"
STOP2 = load_protocol(TRIAL)


def _randomized(api, n: int) -> str:
    r = api.call("POST", BASE, "coordinator", json={**RECORD, "id": f"P-{n:04d}", "events": []})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert api.call("POST", f"{BASE}/{pid}/screen", "coordinator", json={"date": "2026-03-02"}).status_code == 200
    assert api.call("POST", f"{BASE}/{pid}/consent", "coordinator",
                    json={"date": "2026-03-01", "form_version": "v2"}).status_code == 200
    assert api.call("POST", f"{BASE}/{pid}/enrol", "coordinator", json={}).status_code == 200
    assert api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).status_code == 200
    return pid


def test_entry_bodies_are_the_records_own_documented_with_an_example(api):
    doc = api.client.app.openapi()
    body = doc["paths"]["/api/v1/trials/{trial}/participants/{pid}/adverse-events"]["post"]["requestBody"]
    content = body["content"]["application/json"]
    assert content["example"]["term"] == "Pneumonitis"
    assert {"term", "grade", "date", "resolved_on", "serious", "attribution_radiotherapy"} <= set(content["schema"]["properties"])
    assert content["schema"]["additionalProperties"] is False
    finding = doc["paths"]["/api/v1/trials/{trial}/participants/{pid}/assessments"]["post"]["requestBody"][
        "content"]["application/json"]["schema"]["properties"]["findings"]["items"]
    assert "diameter_mm" in finding["properties"] and "$ref" not in str(finding)
    lab = doc["paths"]["/api/v1/trials/{trial}/participants/{pid}/labs"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert "unusual_value_reason" in lab["properties"] and "plausible range" in \
        lab["properties"]["unusual_value_reason"]["description"]


def test_a_bad_entry_is_422_naming_the_field_and_a_correction_needs_a_reason(api):
    pid = _randomized(api, 1)
    api.clock.set("2026-09-01")
    r = api.call("POST", f"{BASE}/{pid}/assessments", "outcome_assessor",
                 json={"date": "2026-06-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": -5}]})
    assert r.status_code == 422 and r.json()["field"] == "findings[0].diameter_mm", r.text
    r = api.call("POST", f"{BASE}/{pid}/qol", "data_manager",
                 json={"date": "2026-06-01", "instrument": "EQ-5D-5L", "responses": {"mobility": 9}})
    assert r.status_code == 422 and r.json()["field"] == "responses.mobility"
    assert api.call("GET", f"{BASE}/{pid}", "coordinator").json()["entries"] == []
    ok = api.call("POST", f"{BASE}/{pid}/events", "data_manager", json={"date": "2026-08-01", "kind": "death"})
    assert ok.status_code == 201 and ok.json()["participant_state"] == "deceased"
    eid = ok.json()["id"]
    assert api.call("POST", f"{BASE}/{pid}/entries/{eid}/retract", "data_manager", json={}).status_code == 422
    r = api.call("POST", f"{BASE}/{pid}/entries/{eid}/retract", "data_manager", json={"reason": "wrong participant"})
    assert r.status_code == 200 and r.json()["participant_state"] == "randomized"
    r = api.call("PUT", f"{BASE}/{pid}/entries/{eid}", "data_manager",
                 json={"data": {"date": "2026-08-02", "kind": "death"}, "reason": "again"})
    assert r.status_code == 409  # a retracted entry is not corrected; record a new one


def test_a_blinded_statistician_gets_the_datasets_without_the_arm(api):
    pids = [_randomized(api, n) for n in (1, 2, 3)]
    api.clock.set("2026-09-01")
    for pid in pids[:2]:
        assert api.call("POST", f"{BASE}/{pid}/assessments", "outcome_assessor", json={
            "date": "2026-06-01", "modality": "CT",
            "findings": [{"lesion": "L1", "diameter_mm": 25}, {"lesion": "L7", "diameter_mm": 8}]}).status_code == 201
    assert api.call("POST", f"{BASE}/{pids[2]}/events", "data_manager",
                    json={"date": "2026-07-01", "kind": "death"}).status_code == 201
    arms, labels = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]
    assert "statistician" in STOP2.masking.blinded_roles
    for dataset in ("adtte", "adrs"):
        blind = api.call("GET", f"/api/v1/trials/{TRIAL}/exports/{dataset}.csv", "statistician")
        assert blind.status_code == 200 and blind.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(blind.text)))
        assert rows and "ARM" not in rows[0]
        assert find_arm_information(rows, arms, labels) == []
        open_ = list(csv.DictReader(io.StringIO(
            api.call("GET", f"/api/v1/trials/{TRIAL}/exports/{dataset}.csv", "dsmb").text)))
        assert find_arm_information(open_, arms, labels), "the DSMB's dataset carries the arm: the scan is not vacuous"
        assert len(open_) == len(rows)
    adtte = list(csv.DictReader(io.StringIO(
        api.call("GET", f"/api/v1/trials/{TRIAL}/exports/adtte.csv", "statistician").text)))
    assert len(adtte) == 3 * 5  # three randomized participants x five time-to-event endpoints
    ep = api.call("GET", f"{BASE}/{pids[0]}/endpoints", "statistician").json()
    assert "arm" not in ep and find_arm_information(ep, arms, labels) == []
    assert ep["response_baseline"] == "2026-02-20" and ep["origin_kind"] == "randomization"
    assert api.call("GET", f"/api/v1/trials/{TRIAL}/exports/adtte.csv", "enrolling_oncologist").status_code == 403


def test_a_blinded_role_records_follow_up_and_no_confirmation_reveals_the_arm(api):
    pid = _randomized(api, 1)
    view = api.call("GET", f"{BASE}/{pid}", "coordinator").json()
    rt = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
          "sabr": {"dose_gy": 37.5, "fractions": 5, "technique": "SABR"}}[view["allocation"]["arm"]]
    api.clock.set("2026-03-10")
    assert api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist",
                    json={"start": "2026-03-10", "end": "2026-03-14" if rt["fractions"] > 1 else "2026-03-10",
                          **rt}).status_code == 200
    api.clock.set("2026-09-01")
    arms, labels = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]
    role = "enrolling_oncologist"
    assert role in STOP2.masking.blinded_roles
    answers = [
        api.call("POST", f"{BASE}/{pid}/adverse-events", role,
                 json={"date": "2026-04-02", "term": "Pneumonitis", "grade": 2, "attribution_radiotherapy": "probable"}),
        api.call("POST", f"{BASE}/{pid}/assessments", "outcome_assessor", json={  # STOP-2 masks the assessor
            "date": "2026-06-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 25}]}),
        api.call("POST", f"{BASE}/{pid}/qol", role, json={"date": "2026-06-01", "instrument": "EORTC QLQ-C30",
                                                           "responses": {"q1": 2, "q29": 5, "q30": 5}}),
        api.call("POST", f"{BASE}/{pid}/visits/rt_toxicity_4w", role, json={"date": "2026-04-07"}),
        api.call("GET", f"{BASE}/{pid}", role),
        api.call("GET", f"{BASE}/{pid}/endpoints", role),
    ]
    for r in answers:
        assert r.status_code in (200, 201), r.text
        assert find_arm_information(r.json(), arms, labels) == [], r.text
        assert "37.5" not in r.text

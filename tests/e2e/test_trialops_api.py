"""The REST API on SQLite and PostgreSQL: auth, roles, workflow, bad input, audit routes."""

from __future__ import annotations

from trialops_e2e import PASSWORD, RECORD, RT_FOR_ARM, TRIAL

BASE = f"/api/v1/trials/{TRIAL}/participants"


def test_openapi_is_served_and_lists_the_contract_routes(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    for p in ("/api/v1/trials", "/api/v1/trials/{trial}/participants", "/api/v1/trials/{trial}/participants/{pid}",
              "/api/v1/trials/{trial}/participants/{pid}/randomize", "/api/v1/trials/{trial}/participants/{pid}/unblind",
              "/api/v1/audit/verify", "/api/v1/auth/token"):
        assert p in paths


def test_every_route_needs_a_token(api):
    for path, ops in api.client.app.openapi()["paths"].items():
        if not path.startswith("/api/v1") or path in ("/api/v1/auth/token", "/api/v1/health"):
            continue
        for method in (m.upper() for m in ops):
            url = path.replace("{trial}", TRIAL).replace("{pid}", "x").replace("{code}", "v")
            r = api.client.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["field"] == "Authorization"
    r = api.client.get("/api/v1/trials", headers={"Authorization": "Bearer v1.forged.sig"})
    assert r.status_code == 401


def test_wrong_password_gets_no_token(api):
    r = api.client.post("/api/v1/auth/token", data={"username": "coordinator", "password": "nope"})
    assert r.status_code == 401 and "access_token" not in r.text


def test_workflow_over_http(api):
    pid = api.enrolled(1)
    r = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 200 and r.json()["arm"] in ("palliative", "sabr")
    arm = r.json()["arm"]
    r = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 409 and r.json()["field"] == "state"
    r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist",
                 json={"start": "2026-03-10", "end": "2026-03-14" if arm == "sabr" else "2026-03-10",
                       **RT_FOR_ARM[arm]})
    assert r.status_code == 200, r.text
    assert r.json()["radiotherapy"]["check"]["status"] == "pass"
    api.clock.set("2026-07-15")  # follow-up is entered as it happens
    r = api.call("GET", f"{BASE}/{pid}", "coordinator")
    visits = r.json()["visits"]
    assert len(visits) == 7
    code = visits[0]["code"]
    assert api.call("POST", f"{BASE}/{pid}/visits/{code}", "data_manager",
                    json={"date": visits[0]["target"]}).status_code == 200
    assert api.call("POST", f"{BASE}/{pid}/adverse-events", "data_manager",
                    json={"date": "2026-03-20", "term": "Pneumonitis", "grade": 2}).status_code == 201
    assert api.call("POST", f"{BASE}/{pid}/qol", "data_manager",
                    json={"date": "2026-03-20", "instrument": "EQ-5D-5L", "responses": {"mobility": 2}}).status_code == 201
    assert api.call("POST", f"{BASE}/{pid}/assessments", "outcome_assessor",  # STOP-2 masks the assessor
                    json={"date": "2026-06-01", "modality": "CT"}).status_code == 201
    assert api.call("POST", f"{BASE}/{pid}/events", "data_manager",
                    json={"date": "2026-07-01", "kind": "progression"}).status_code == 201
    r = api.call("PUT", f"{BASE}/{pid}/record", "data_manager",
                 json={"record": {**RECORD, "id": "P-0001", "sex": "male"}, "reason": "source data verification"})
    assert r.status_code == 200 and r.json()["version"] == 2
    rep = api.call("GET", "/api/v1/audit/verify", "admin").json()
    assert rep["ok"] and rep["checked"] > 10
    trail = api.call("GET", f"/api/v1/trials/{TRIAL}/audit", "coordinator").json()
    assert any(e["action"] == "participant.correct" and e["reason"] == "source data verification" for e in trail)


def test_randomizing_someone_not_enrolled_is_refused(api):
    r = api.call("POST", BASE, "coordinator", json={**RECORD, "id": "P-9"})
    pid = r.json()["id"]
    r = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 409 and "registered" in r.json()["message"]


def test_bad_input_gets_4xx_with_the_field_named_and_stores_nothing(api):
    cases = [
        ("POST", BASE, {**RECORD, "birth_date": "1961-13-45"}, "birth_date"),
        ("POST", BASE, {**RECORD, "surprise": 1}, "surprise"),
        ("POST", BASE, [1, 2], "body"),
    ]
    for method, url, body, field in cases:
        r = api.call(method, url, "coordinator", json=body)
        assert 400 <= r.status_code < 500 and field in r.text, (field, r.status_code, r.text)
    pid = api.enrolled(2)
    for url, body, field in [
        (f"{BASE}/{pid}/randomize", {"strata": {"site": "x"}}, "strata"),
        (f"{BASE}/{pid}/randomize", {"stratum": 1}, "stratum"),
        (f"{BASE}/{pid}/unblind", {"reason": "x"}, "password"),
        (f"{BASE}/{pid}/consent", {"date": "yesterday", "form_version": "v"}, "date"),
        (f"{BASE}/{pid}/adverse-events", {"date": "2026-01-01", "term": "Fatigue", "grade": 7}, "grade"),
        (f"{BASE}/{pid}/adverse-events", {"date": "2026-01-01", "term": "Boredom", "grade": 1}, "term"),
    ]:
        r = api.call("POST", url, "coordinator", json=body)
        assert 400 <= r.status_code < 500 and field in r.json().get("field", "") + r.text, (url, r.text)
    assert api.call("GET", f"/api/v1/trials/{TRIAL}", "coordinator").json()["randomized"] == 0
    assert api.call("GET", "/api/v1/trials/NOPE/participants", "coordinator").status_code in (403, 404)


def test_roles_are_enforced(api):
    pid = api.enrolled(3)
    assert api.call("POST", BASE, "statistician", json={**RECORD, "id": "P-77"}).status_code == 403
    assert api.call("POST", f"{BASE}/{pid}/randomize", "statistician", json={}).status_code == 403
    assert api.call("GET", "/api/v1/audit/verify", "statistician").status_code == 403
    assert api.call("GET", f"/api/v1/trials/{TRIAL}/notifications", "dsmb").status_code == 403
    assert api.call("GET", "/api/v1/trials", "admin").status_code == 200


def test_emergency_unblinding_over_http(api):
    pid = api.enrolled(4)
    assert api.call("POST", f"{BASE}/{pid}/randomize", "enrolling_oncologist", json={}).status_code == 200
    bad = api.call("POST", f"{BASE}/{pid}/unblind", "enrolling_oncologist",
                   json={"reason": "anaphylaxis during infusion", "password": "wrong"})
    assert bad.status_code == 403 and "arm" not in bad.json()
    ok = api.call("POST", f"{BASE}/{pid}/unblind", "enrolling_oncologist",
                  json={"reason": "anaphylaxis during infusion", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["arm"] in ("palliative", "sabr")
    notes = api.call("GET", f"/api/v1/trials/{TRIAL}/notifications", "coordinator").json()
    assert notes and notes[0]["kind"] == "emergency_unblinding"
    view = api.call("GET", f"{BASE}/{pid}", "coordinator").json()
    assert any(e["kind"] == "unblinding" for e in view["entries"])


def test_radiotherapy_outside_the_allocated_arm_is_422_unless_a_deviation_is_documented(api):
    pid = api.enrolled(5)
    arm = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).json()["arm"]
    other = RT_FOR_ARM["sabr" if arm == "palliative" else "palliative"]
    body = {"start": "2026-03-10", "end": "2026-03-14" if other["fractions"] > 1 else "2026-03-10", **other}
    r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["code"] == "rt_outside_arm" and err["field"] == "dose_gy" and f"arm '{arm}'" in err["message"]
    assert api.call("GET", f"{BASE}/{pid}", "coordinator").json()["state"] == "randomized"
    r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist",
                 json={**body, "override": {"reason": "PI approved the other schedule for this patient"}})
    assert r.status_code == 200, r.text
    assert r.json()["radiotherapy"]["check"]["deviation"] is True


def test_radiotherapy_entered_after_a_visit_is_recorded_not_409(api):
    """Issue 25 item 3: "Recording the RT course after any visit has been recorded gives 409 and
    a dead end". The visit recorded first stays as it was; the course anchors its own visit."""
    pid = api.enrolled(6)
    arm = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).json()["arm"]
    visits = {v["code"]: v for v in api.call("GET", f"{BASE}/{pid}", "coordinator").json()["visits"]}
    m3 = visits["followup_m3"]["target"]
    api.clock.set(m3)
    assert api.call("POST", f"{BASE}/{pid}/visits/followup_m3", "data_manager", json={"date": m3}).status_code == 200
    end = "2026-03-09" if RT_FOR_ARM[arm]["fractions"] == 1 else "2026-03-13"
    r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist",
                 json={"start": "2026-03-09", "end": end, **RT_FOR_ARM[arm]})
    assert r.status_code == 200, r.text
    visits = {v["code"]: v for v in api.call("GET", f"{BASE}/{pid}", "coordinator").json()["visits"]}
    assert visits["followup_m3"]["status"] == "done" and visits["followup_m3"]["actual"] == m3
    assert visits["rt_toxicity_4w"]["target"] == "2026-04-06"


def test_fraction_dates_that_do_not_fit_the_fractions_are_422_naming_end_and_store_nothing(api):
    """Issue 25 item 3: "first and last fraction on one day for 5 fractions passes the check"."""
    pid = api.enrolled(7)
    arm = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).json()["arm"]
    # five fractions on one day; one fraction over two days
    body = ({"start": "2026-03-09", "end": "2026-03-09", "dose_gy": 35, "fractions": 5, "technique": "SABR"}
            if arm == "sabr" else {"start": "2026-03-09", "end": "2026-03-10", **RT_FOR_ARM[arm]})
    expected = "on or after 2026-03-13" if arm == "sabr" else "2026-03-09 (the start)"
    r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == "end" and err["errors"][0]["value"] == body["end"]
    assert expected in err["errors"][0]["expected"]
    view = api.call("GET", f"{BASE}/{pid}", "coordinator").json()
    assert view["state"] == "randomized" and view["radiotherapy"] is None
    assert {v["anchor"] for v in view["visits"]} == {"randomization"}


def test_the_radiotherapy_bounds_in_the_openapi_document_are_the_services(sqlite_api):
    """Issue 27 item 5: one course model for the route and the service; the API advertises the
    bounds the service applies (it advertised 1000 Gy, 100 fractions, 35 a week; the service
    refused above 100 Gy, 40 fractions, 14 a week)."""
    from oligotrial.service import radiotherapy as rt

    doc = sqlite_api.client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/trials/{trial}/participants/{pid}/radiotherapy"]["post"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props = doc["components"]["schemas"][ref]["properties"]
    assert props["dose_gy"]["exclusiveMinimum"] == 0 and props["dose_gy"]["maximum"] == rt.DOSE_MAX_GY
    assert (props["fractions"]["minimum"], props["fractions"]["maximum"]) == (1, rt.FRACTIONS_MAX)
    fpw = next(s for s in props["fractions_per_week"]["anyOf"] if s.get("type") == "number")
    assert fpw["exclusiveMinimum"] == 0 and fpw["maximum"] == rt.FRACTIONS_PER_WEEK_MAX
    technique = next(s for s in props["technique"]["anyOf"] if "enum" in s)
    assert tuple(technique["enum"]) == rt.RT_TECHNIQUES
    # and the service refuses just past each bound, accepts each bound
    base = {"dose_gy": 8, "fractions": 5}
    for field, over in (("dose_gy", rt.DOSE_MAX_GY + 0.5), ("fractions", rt.FRACTIONS_MAX + 1),
                        ("fractions_per_week", rt.FRACTIONS_PER_WEEK_MAX + 0.5), ("technique", "gamma knife")):
        try:
            rt.course({**base, field: over}, "2026-03-02", "2026-03-06")
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "field", None) == field
        else:
            raise AssertionError(f"{field}={over} accepted")
    ok = rt.course({"dose_gy": rt.DOSE_MAX_GY, "fractions": rt.FRACTIONS_MAX,
                    "fractions_per_week": rt.FRACTIONS_PER_WEEK_MAX}, "2026-03-01", "2026-06-30")
    assert ok["dose_gy"] == rt.DOSE_MAX_GY


def test_the_api_refuses_a_course_outside_the_services_bounds(api):
    pid = api.enrolled(1)
    r = api.call("POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist",
                 json={"start": "2026-03-10", "end": "2026-03-14", "dose_gy": 150, "fractions": 5})
    assert r.status_code == 422 and r.json()["field"] == "dose_gy"


def test_the_administrator_sees_arms_in_the_trial_list_only_of_an_open_label_trial(sqlite_api):
    """Issue 27 item 5: one rule (blinding.sees_arms) for the administrator everywhere: blind in a
    trial that blinds any role (STOP-2), not in an open-label one (the report already said so;
    the trial list, the audit trail and the allocation view said always blind)."""
    from oligotrial.protocols import load_protocol

    listed = {t["id"]: t for t in sqlite_api.call("GET", "/api/v1/trials", "admin").json()}
    for trial_id, item in listed.items():
        protocol = load_protocol(trial_id)
        open_label = not protocol.masking.blinded_roles
        assert item["blinded"] is (not open_label), trial_id
        assert ("arms" in item) is open_label, trial_id
    assert any(not load_protocol(t).masking.blinded_roles for t in listed)
    assert listed[TRIAL]["blinded"] is True

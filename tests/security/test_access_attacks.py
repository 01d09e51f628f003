"""Issue 19 item 4, one test per attack, on SQLite and PostgreSQL: access hygiene.

Before the fix (probe of 2026-12): 30 wrong passwords in 6 s were all answered 401 (no
throttle); a refused emergency unblinding (no permission, wrong password, unknown participant)
left no trace; ``/trials/STOP-2/audit`` (the short name) answered 403 and an unknown trial 403;
the audit trail came back whole, unpaged."""

from __future__ import annotations

import pytest
from hostile_app import BASE, PASSWORD, TRIAL, app_on

ARM_WORDS = ("arm", "arm_id", "arm_label", "palliative", "sabr")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


def _login(api, username: str, password: str):
    """One login from the test client's address (a forwarded-for header is not trusted)."""
    return api.client.post("/api/v1/auth/token", data={"username": username, "password": password},
                           headers={"X-Forwarded-For": "10.0.0.99"})


# ---- login throttling ---------------------------------------------------------------------------

def test_a_login_flood_on_one_account_is_429_with_retry_after(backend, tmp_path):
    with app_on(backend, tmp_path, login_failures_per_account=5, login_failures_per_address=1000,
                login_window_s=60) as api:
        codes = [_login(api, "coordinator", "wrong-password").status_code for _ in range(5)]
        assert codes == [401] * 5
        r = _login(api, "coordinator", "wrong-password")
        assert r.status_code == 429 and r.json()["code"] == "too_many_attempts"
        assert r.json()["field"] == "username" and 1 <= int(r.headers["Retry-After"]) <= 60
        # the right password does not get through while throttled (a guesser learns nothing)
        assert _login(api, "coordinator", PASSWORD).status_code == 429
        assert _login(api, "COORDINATOR", PASSWORD).status_code == 429  # the account, in any case
        # another account is not locked out by the flood
        assert _login(api, "data_manager", PASSWORD).status_code == 200


def test_a_login_flood_from_one_address_across_accounts_is_429(backend, tmp_path):
    with app_on(backend, tmp_path, login_failures_per_account=1000, login_failures_per_address=8,
                login_window_s=60) as api:
        names = ["coordinator", "statistician", "dsmb", "admin", "data_manager", "x1", "x2", "x3"]
        assert [_login(api, n, "wrong").status_code for n in names] == [401] * 8
        r = _login(api, "treating_oncologist", PASSWORD)
        assert r.status_code == 429 and r.json()["field"] == "address" and "Retry-After" in r.headers


def test_emergency_unblinding_re_authentication_is_throttled_like_a_login(backend, tmp_path):
    with app_on(backend, tmp_path, login_failures_per_account=3, login_failures_per_address=1000,
                login_window_s=60) as api:
        pid = api.enrolled(1)
        assert api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).status_code == 200
        body = {"reason": "anaphylaxis, need the arm", "password": "guess"}
        codes = [api.call("POST", f"{BASE}/{pid}/unblind", "coordinator", json=body).status_code for _ in range(3)]
        assert codes == [403] * 3
        r = api.call("POST", f"{BASE}/{pid}/unblind", "coordinator", json={**body, "password": PASSWORD})
        assert r.status_code == 429 and "Retry-After" in r.headers and "arm" not in r.json()


def test_the_throttle_window_slides_and_a_success_clears_the_account():
    from oligotrial.adapters.web.throttle import LoginThrottle, LoginThrottled

    now = [0.0]
    t = LoginThrottle(per_account=3, per_address=100, window_s=10, clock=lambda: now[0])
    for _ in range(3):
        t.check("u", "a")
        t.failed("u", "a")
        now[0] += 1
    with pytest.raises(LoginThrottled) as exc:
        t.check("u", "a")
    assert exc.value.retry_after_s == 7  # the first failure (t=0) leaves the window at t=10; now t=3
    now[0] = 10.5
    t.check("u", "a")  # one failure left the window
    t.succeeded("u")
    for _ in range(2):
        t.failed("u", "a")
    t.check("u", "a")


# ---- failed unblinding attempts -----------------------------------------------------------------

def _trail(api) -> list[dict]:
    rows, url = [], f"/api/v1/trials/{TRIAL}/audit?limit=1000"
    while url:
        r = api.call("GET", url, "coordinator")
        assert r.status_code == 200, r.text
        rows += r.json()
        link = r.headers.get("Link")
        url = link[1:link.index(">")] if link else None
    return rows


def test_every_refused_emergency_unblinding_is_audited_without_the_arm(backend, tmp_path):
    with app_on(backend, tmp_path) as api:
        pid = api.enrolled(1)
        not_randomized = api.call("POST", f"{BASE}/{pid}/unblind", "coordinator",
                                  json={"reason": "anaphylaxis, need the arm", "password": PASSWORD})
        assert api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).status_code == 200
        attempts = {
            "forbidden": api.call("POST", f"{BASE}/{pid}/unblind", "statistician",
                                  json={"reason": "curious about the arm", "password": PASSWORD}),
            "reauthentication_failed": api.call("POST", f"{BASE}/{pid}/unblind", "coordinator",
                                                json={"reason": "anaphylaxis, need the arm", "password": "guess"}),
            "not_found": api.call("POST", f"{BASE}/NO-SUCH-PERSON/unblind", "coordinator",
                                  json={"reason": "anaphylaxis, need the arm", "password": PASSWORD}),
            "not_randomized": not_randomized,
        }
        assert {k: r.status_code for k, r in attempts.items()} == {
            "forbidden": 403, "reauthentication_failed": 403, "not_found": 404, "not_randomized": 409}
        refused = [e for e in _trail(api) if e["action"] == "participant.unblind_refused"]
        assert sorted(e["new"]["refused"] for e in refused) == sorted(attempts)
        by = {e["new"]["refused"]: e for e in refused}
        assert by["forbidden"]["actor"] == "statistician" and by["forbidden"]["entity_id"] == pid
        assert by["not_found"]["entity_id"] == "NO-SUCH-PERSON"
        assert by["reauthentication_failed"]["reason"] == "anaphylaxis, need the arm"
        for e in refused:
            text = repr({k: v for k, v in e.items() if k not in ("hash", "reason")}).lower()
            assert not any(w in text for w in ARM_WORDS), e
        assert api.call("GET", "/api/v1/audit/verify", "admin").json()["ok"]


# ---- one way of naming a trial; unknown trials --------------------------------------------------

GETS = ["", "/participants", "/visits", "/audit", "/notifications", "/versions", "/exports/adtte.csv"]


@pytest.mark.parametrize("name", ["STOP-2", "stop-2", "nct06918951", " NCT06918951"])
def test_every_route_resolves_the_short_name_or_id_in_any_case(name, tmp_path):
    with app_on("sqlite", tmp_path) as api:
        for suffix in GETS:
            by_id = api.call("GET", f"/api/v1/trials/{TRIAL}{suffix}", "coordinator")
            other = api.call("GET", f"/api/v1/trials/{name}{suffix}", "coordinator")
            assert by_id.status_code == 200 and other.status_code == 200, (suffix, other.status_code, other.text)
            if suffix != "/audit":  # the trail itself grows with each call (nothing is logged for a read)
                assert other.content == by_id.content, suffix


def test_the_audit_route_takes_the_short_name_on_both_backends(backend, tmp_path):
    with app_on(backend, tmp_path) as api:
        api.enrolled(1)
        short = api.call("GET", "/api/v1/trials/STOP-2/audit", "coordinator")
        assert short.status_code == 200, short.text
        assert short.json() == api.call("GET", f"/api/v1/trials/{TRIAL}/audit", "coordinator").json()
        assert any(e["action"] == "participant.register" for e in short.json())


def test_an_unknown_trial_is_404_on_every_route_for_any_signed_in_role(backend, tmp_path):
    with app_on(backend, tmp_path) as api:
        for user in ("coordinator", "statistician", "admin"):
            for suffix in GETS:
                r = api.call("GET", f"/api/v1/trials/NCT00000000{suffix}", user)
                assert r.status_code == 404 and r.json()["code"] == "protocol_not_found", (user, suffix, r.text)
            r = api.call("POST", "/api/v1/trials/NO-SUCH-TRIAL/participants/P-1/unblind", user,
                         json={"reason": "anaphylaxis, need the arm", "password": PASSWORD})
            assert r.status_code == 404
        # a known trial the caller has no role in stays 403 (the role check), not 404
        r = api.call("GET", "/api/v1/trials/HCC-OPD/audit", "coordinator")
        assert r.status_code == 403
        # not signed in: 401 before anything about the trial
        assert api.client.get("/api/v1/trials/NCT00000000/audit").status_code == 401


# ---- the audit trail, paged --------------------------------------------------------------------

def test_the_audit_trail_is_paged_with_a_next_link_and_pages_tile_the_trail(backend, tmp_path):
    with app_on(backend, tmp_path) as api:
        for n in range(1, 5):
            api.enrolled(n)
        whole = api.call("GET", f"/api/v1/trials/{TRIAL}/audit?limit=1000", "coordinator")
        assert whole.status_code == 200 and "Link" not in whole.headers
        total = whole.json()
        assert len(total) >= 16 and int(whole.headers["X-Total-Count"]) == len(total)
        seen, url, pages = [], f"/api/v1/trials/{TRIAL}/audit?limit=5", 0
        while url:
            r = api.call("GET", url, "coordinator")
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
            page = r.json()
            assert 1 <= len(page) <= 5
            seen += page
            pages += 1
            link = r.headers.get("Link")
            url = link[1:link.index(">")] if link else None
            if url:
                assert link.endswith('rel="next"') and "limit=5" in url
        assert seen == total and pages == -(-len(total) // 5)
        assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})
        default = api.call("GET", f"/api/v1/trials/{TRIAL}/audit", "coordinator").json()
        assert len(default) == min(100, len(total))
        for bad in ("limit=0", "limit=1001", "after=-1", "after=x"):
            assert api.call("GET", f"/api/v1/trials/{TRIAL}/audit?{bad}", "coordinator").status_code == 422


# ---- masked outcome assessment -------------------------------------------------------------------

SCAN = {"date": "2026-06-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 25}]}


def test_where_outcome_assessors_are_masked_only_they_record_correct_or_retract_an_assessment(backend, tmp_path):
    from hostile_app import counts

    with app_on(backend, tmp_path) as api:
        pid = api.enrolled(1)
        assert api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).status_code == 200
        api.clock.set("2026-09-01")
        before = counts(api)
        for role in ("data_manager", "coordinator", "treating_oncologist", "enrolling_oncologist"):
            r = api.call("POST", f"{BASE}/{pid}/assessments", role, json=SCAN)
            assert r.status_code == 403 and "outcome_assessor" in r.json()["message"], (role, r.text)
        assert counts(api) == before
        ok = api.call("POST", f"{BASE}/{pid}/assessments", "outcome_assessor", json=SCAN)
        assert ok.status_code == 201, ok.text
        eid = ok.json()["id"]
        fixed = {**SCAN, "findings": [{"lesion": "L1", "diameter_mm": 24}]}
        assert api.call("PUT", f"{BASE}/{pid}/entries/{eid}", "data_manager",
                        json={"data": fixed, "reason": "re-measured"}).status_code == 403
        assert api.call("POST", f"{BASE}/{pid}/entries/{eid}/retract", "coordinator",
                        json={"reason": "entered in error"}).status_code == 403
        r = api.call("PUT", f"{BASE}/{pid}/entries/{eid}", "outcome_assessor", json={"data": fixed, "reason": "re-measured"})
        assert r.status_code == 200, r.text
        # the assessor records assessments only: other entries stay with the clinical team
        r = api.call("POST", f"{BASE}/{pid}/adverse-events", "outcome_assessor",
                     json={"date": "2026-04-02", "term": "Fatigue", "grade": 1})
        assert r.status_code == 403
        assert api.call("POST", f"{BASE}/{pid}/adverse-events", "data_manager",
                        json={"date": "2026-04-02", "term": "Fatigue", "grade": 1}).status_code == 201


def test_where_the_protocol_masks_no_assessor_the_clinical_team_records_assessments():
    from types import SimpleNamespace

    from oligotrial.errors import BlindingError
    from oligotrial.protocols import load_protocol
    from oligotrial.service.access import authorize_entry
    from oligotrial.service.ports import Actor

    open_trial = load_protocol("OPPRESS")
    assert "outcome_assessor" not in open_trial.masking.blinded_roles
    dm = Actor("dm", {open_trial.id: "data_manager"})
    assert authorize_entry(dm, open_trial, "assessment") == "data_manager"
    hcc = load_protocol("HCC-OPD")  # "Masking: Single (Outcomes Assessor)"
    with pytest.raises(BlindingError):
        authorize_entry(Actor("dm", {hcc.id: "data_manager"}), hcc, "assessment")
    assert authorize_entry(Actor("oa", {hcc.id: "outcome_assessor"}), hcc, "assessment") == "outcome_assessor"
    fake = SimpleNamespace(id="T", masking=SimpleNamespace(blinded_roles=["outcome_assessor"]))
    with pytest.raises(BlindingError):
        authorize_entry(Actor("oa", {"T": "outcome_assessor"}), fake, "event")

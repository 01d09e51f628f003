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
                login_window_s=60, login_backoff_base_s=30) as api:
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


def test_failed_logins_from_elsewhere_never_lock_the_account_out(backend, tmp_path):
    """Issue 26 item 2: "Five unauthenticated failed logins for a user name block that
    clinician's unblinding ... for 300 s": "Sign-in throttling counts (account, address) pairs
    with backoff"."""
    from fastapi.testclient import TestClient

    with app_on(backend, tmp_path, login_window_s=300) as api:
        attacker = TestClient(api.client.app, client=("203.0.113.9", 40000))
        codes = [attacker.post("/api/v1/auth/token", data={"username": "coordinator", "password": f"guess-{i}"})
                 .status_code for i in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}  # the attacker's own pair backs off
        # the clinician, from their own address, signs in at once (API and page)
        assert _login(api, "coordinator", PASSWORD).status_code == 200
        assert api.call("GET", "/api/v1/trials", "coordinator").status_code == 200


def test_emergency_unblinding_works_for_a_signed_in_clinician_whatever_others_typed(backend, tmp_path):
    """Issue 26 item 2: "Emergency unblinding must stay available to a signed-in clinician whatever
    others do ... no count refuses a correct password on the unblinding path, and a wrong one
    there is still 403 and audited"."""
    from fastapi.testclient import TestClient

    with app_on(backend, tmp_path, login_failures_per_account=5, login_window_s=300) as api:
        pid = api.enrolled(1)
        assert api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).status_code == 200
        api.headers("treating_oncologist")  # signed in before the flood
        attacker = TestClient(api.client.app, client=("203.0.113.9", 40000))
        for i in range(5):
            attacker.post("/api/v1/auth/token", data={"username": "treating_oncologist", "password": f"g{i}"})
        # the flood came from the clinician's own address too (a shared hospital NAT): still no lockout
        for i in range(5):
            _login(api, "treating_oncologist", f"g{i}")
        body = {"reason": "anaphylaxis, need the arm", "password": "not-my-password"}
        wrong = api.call("POST", f"{BASE}/{pid}/unblind", "coordinator", json=body)
        assert wrong.status_code == 403 and wrong.json()["code"] == "reauthentication_failed"
        r = api.call("POST", f"{BASE}/{pid}/unblind", "treating_oncologist", json={**body, "password": PASSWORD})
        assert r.status_code == 200, r.text
        assert r.json()["arm"] in ("sabr", "palliative") or r.json().get("arm_id") in ("sabr", "palliative")


def test_wrong_unblinding_passwords_end_the_token_not_the_clinicians_access(backend, tmp_path):
    """A stolen token does not buy unlimited guesses: the token that reaches the limit of wrong
    passwords on the unblinding path is ended; every wrong one was 403 and audited; the owner
    signs in again (from another address, at once) and unblinds."""
    from fastapi.testclient import TestClient

    with app_on(backend, tmp_path, login_failures_per_account=3, login_failures_per_address=1000,
                login_window_s=60, login_backoff_base_s=30) as api:
        pid = api.enrolled(1)
        assert api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={}).status_code == 200
        body = {"reason": "anaphylaxis, need the arm", "password": "guess"}
        codes = [api.call("POST", f"{BASE}/{pid}/unblind", "coordinator", json=body).status_code for _ in range(3)]
        assert codes == [403] * 3
        # the token used for the guesses is over
        r = api.call("POST", f"{BASE}/{pid}/unblind", "coordinator", json={**body, "password": PASSWORD})
        assert r.status_code == 401 and "arm" not in r.json() and "sign in again" in r.json()["message"]
        api._tokens.pop("coordinator")
        api._tokens["data_manager"] = api._tokens.get("data_manager") or _dm_token(api)
        # its thief cannot simply sign in again from there: the pair backs off
        assert _login(api, "coordinator", PASSWORD).status_code == 429
        # the clinician, elsewhere, signs in and unblinds
        own = TestClient(api.client.app, client=("198.51.100.7", 50000))
        tok = own.post("/api/v1/auth/token", data={"username": "coordinator", "password": PASSWORD})
        assert tok.status_code == 200
        ok = own.post(f"{BASE}/{pid}/unblind", json={**body, "password": PASSWORD},
                      headers={"Authorization": f"Bearer {tok.json()['access_token']}"})
        assert ok.status_code == 200, ok.text
        refused = [e for e in _trail(api, "data_manager") if e["action"] == "participant.unblind_refused"]
        assert len(refused) == 3  # every wrong password was audited


def test_the_throttle_backs_off_exponentially_by_pair_and_a_success_clears_the_pair():
    from oligotrial.adapters.web.throttle import LoginThrottle, LoginThrottled

    now = [0.0]
    t = LoginThrottle(per_account=3, per_address=100, window_s=100, backoff_base_s=2, clock=lambda: now[0])
    for _ in range(3):
        t.check("u", "a")
        t.failed("u", "a")
    with pytest.raises(LoginThrottled) as exc:
        t.check("u", "a")
    assert exc.value.retry_after_s == 2  # the limit reached: the first wait
    t.check("u", "b")  # the same account from another address is not held back
    now[0] = 2.5
    t.check("u", "a")
    t.failed("u", "a")
    with pytest.raises(LoginThrottled) as exc:
        t.check("u", "a")
    assert exc.value.retry_after_s == 4  # doubled
    now[0] += 4.5
    t.failed("u", "a")
    with pytest.raises(LoginThrottled) as exc:
        t.check("u", "a")
    assert exc.value.retry_after_s == 8  # doubled again
    # no backoff outlasts the moment the oldest counted failure leaves the window
    assert t.delay_s(20, 3) == 900.0  # capped
    for _ in range(20):
        t.failed("u", "a")
    with pytest.raises(LoginThrottled) as exc:
        t.check("u", "a")
    assert exc.value.retry_after_s <= 100
    # the unblinding path only counts
    assert t.reauth_failed("v", "a") == 1
    t.check("v", "a")
    t.succeeded("u", "a")
    t.check("u", "a")


# ---- failed unblinding attempts -----------------------------------------------------------------

def _dm_token(api) -> str:
    from fastapi.testclient import TestClient

    dm = TestClient(api.client.app, client=("198.51.100.8", 50000))
    return dm.post("/api/v1/auth/token", data={"username": "data_manager", "password": PASSWORD}).json()["access_token"]


def _trail(api, user: str = "coordinator") -> list[dict]:
    rows, url = [], f"/api/v1/trials/{TRIAL}/audit?limit=1000"
    while url:
        r = api.call("GET", url, user)
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

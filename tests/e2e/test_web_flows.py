"""The web interface on a fresh SQLite database (one account per role of STOP-2): signing in
and out, the session cookie's flags, CSRF on every form, the idle timeout, the login throttle
shared with the API, the offline API documentation, and entries and visits recorded and
corrected through the pages (a refused one saves nothing and names its field)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from oligotrial.adapters.web.pages import session as sess
from oligotrial.adapters.web.throttle import LoginThrottle
from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from page_crawl import page_strings
from trialops_e2e import PASSWORD, RECORD, RT_FOR_ARM, TRIAL
from web_demo import csrf_of, sign_in

STOP2 = load_protocol("STOP-2")
ARM_IDS, LABELS = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action"), "csrf": False})
        elif tag == "input" and a.get("name") == "csrf" and self.forms and a.get("value"):
            self.forms[-1]["csrf"] = True


def _forms(html: str) -> list[dict]:
    p = _Forms()
    p.feed(html)
    return p.forms


def _randomized(api) -> str:
    pid = api.enrolled(1)
    r = api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 200, r.text
    return pid


def _entries(api, pid: str) -> list[dict]:
    return api.call("GET", f"/api/v1/trials/{TRIAL}/participants/{pid}", "coordinator").json()["entries"]


def test_root_leads_to_sign_in_and_a_session_cookie_is_httponly_lax_and_secure_over_https(sqlite_api):
    c = sqlite_api.client
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = c.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=lax" in page.headers["set-cookie"]
    r = c.post("/login", data={"username": "coordinator", "password": PASSWORD, "csrf": csrf_of(page.text)},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/trials"
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(sess.COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    dash = c.get("/trials")
    assert dash.status_code == 200 and "Your role: <strong>coordinator</strong>" in dash.text
    assert "script-src" not in dash.headers["content-security-policy"]  # default-src 'self' covers scripts
    assert "default-src 'self'" in dash.headers["content-security-policy"]
    assert dash.headers["x-frame-options"] == "DENY" and dash.headers["cache-control"] == "no-store"
    assert "STOP-2: coordinator" in dash.text  # the role per trial, in the header of every page

    from fastapi.testclient import TestClient

    tls = TestClient(c.app, base_url="https://testserver")
    page = tls.get("/login")
    r = tls.post("/login", data={"username": "coordinator", "password": PASSWORD, "csrf": csrf_of(page.text)},
                 follow_redirects=False)
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(sess.COOKIE))
    assert "Secure" in cookie


def test_sign_in_refuses_a_missing_csrf_token_and_a_wrong_password_naming_no_more_than_needed(sqlite_api):
    c = sqlite_api.client
    c.get("/login")
    r = c.post("/login", data={"username": "coordinator", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "csrf" in r.text and sess.COOKIE not in r.headers.get("set-cookie", "")
    page = c.get("/login")
    r = c.post("/login", data={"username": "coordinator", "password": "wrong", "csrf": csrf_of(page.text)})
    assert r.status_code == 401 and "username or password: not recognised" in r.text
    assert c.get("/trials", follow_redirects=False).headers["location"] == "/login"


def test_failed_sign_ins_are_throttled_with_the_apis_counts(sqlite_api):
    c = sqlite_api.client
    c.app.state.login_throttle = LoginThrottle(per_account=2, per_address=100, window_s=60, backoff_base_s=60)
    for _ in range(2):
        page = c.get("/login")
        assert c.post("/login", data={"username": "dsmb", "password": "nope", "csrf": csrf_of(page.text)}).status_code == 401
    page = c.get("/login")
    r = c.post("/login", data={"username": "dsmb", "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "retry after" in r.text
    api = c.post("/api/v1/auth/token", data={"username": "dsmb", "password": PASSWORD})
    assert api.status_code == 429  # one throttle for the pages and the API


def test_an_idle_session_ends_and_signing_out_needs_the_form_token(sqlite_api):
    c = sqlite_api.client
    assert sign_in(c, "data_manager", PASSWORD).url.path == "/trials"
    c.app.state.page_idle_s = -1
    r = c.get("/trials", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?expired=1"
    assert "session ended after a time without activity" in c.get("/login?expired=1").text
    del c.app.state.page_idle_s
    sign_in(c, "data_manager", PASSWORD)
    c.app.state.page_idle_s = -1
    hx = c.get("/trials", headers={"HX-Request": "true"}, follow_redirects=False)  # an htmx fragment's request
    assert hx.status_code == 204 and hx.headers["HX-Redirect"] == "/login?expired=1"
    del c.app.state.page_idle_s
    dash = sign_in(c, "data_manager", PASSWORD)
    assert c.post("/logout", data={}).status_code == 403
    r = c.post("/logout", data={"csrf": csrf_of(dash.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/trials", follow_redirects=False).headers["location"] == "/login"


def test_api_docs_work_offline_and_the_api_is_unchanged(sqlite_api):
    c = sqlite_api.client
    docs = c.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert len(assets) >= 3 and all(a.startswith("/static/") for a in assets), assets
    assert all(c.get(a).status_code == 200 for a in assets)
    assert "cdn" not in docs.text and "https://" not in docs.text
    assert c.get("/redoc").status_code == 404
    assert c.get("/openapi.json").json()["info"]["title"] == "oligotrial"
    assert not any(p in c.get("/openapi.json").json()["paths"] for p in ("/", "/login", "/trials"))
    assert c.get("/api/v1/health").json() == {"status": "ok"}
    r = c.get("/api/v1/trials")
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed"


def test_an_error_on_a_page_is_a_page_with_the_apis_status(sqlite_api):
    c = sqlite_api.client
    sign_in(c, "coordinator", PASSWORD)
    r = c.get("/trials/NCT00000000/participants")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html") and "NCT00000000" in r.text
    r = c.get(f"/trials/{TRIAL}/participants/no-such-one")
    assert r.status_code == 404 and "<h1>Not done</h1>" in r.text


def test_an_adverse_event_is_refused_beside_its_field_then_recorded_and_corrected_with_a_reason(api):
    """On SQLite and PostgreSQL."""
    pid = _randomized(api)
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    assert page.status_code == 200 and "Arm: <strong>" in page.text  # the coordinator sees the arm
    posts = [f for f in _forms(page.text) if f["method"] == "post"]
    assert len(posts) >= 2 and all(f["csrf"] for f in posts), posts  # sign out, the AE form
    assert 'id="assessment-form"' not in page.text  # STOP-2 takes assessments from its masked assessor
    token = csrf_of(page.text)
    url = f"/trials/{TRIAL}/participants/{pid}/record/adverse_event"
    bad = c.post(url, data={"csrf": token, "date": "2026-03-04", "term": "Fatigue", "grade": "4"})
    assert bad.status_code == 422
    assert re.search(r'id="err-grade"[^>]*>grade: a grade CTCAE v5.0 defines for [^<]*Fatigue[^<]*\[1, 2, 3\]', bad.text)
    assert 'value="Fatigue"' in bad.text  # what was typed stays in the form
    assert c.post(url, data={"date": "2026-03-04", "term": "Fatigue", "grade": "2"}).status_code == 403  # no token
    assert _entries(api, pid) == []
    ok = c.post(url, data={"csrf": token, "date": "2026-03-04", "term": "Fatigue", "grade": "2"},
                follow_redirects=False)
    assert ok.status_code == 303
    [entry] = _entries(api, pid)
    assert entry["data"]["grade"] == 2 and entry["recorded_by"] == "coordinator"
    fix = f"/trials/{TRIAL}/participants/{pid}/entries/{entry['id']}/correct"
    form = c.get(fix)
    assert 'name="grade"' in form.text and all(f["csrf"] for f in _forms(form.text) if f["method"] == "post")
    r = c.post(fix, data={"csrf": token, "date": "2026-03-04", "term": "Fatigue", "grade": "3", "reason": ""})
    assert r.status_code == 422 and 'id="err-reason"' in r.text
    assert _entries(api, pid)[0]["version"] == 1
    r = c.post(fix, data={"csrf": token, "date": "2026-03-04", "term": "Fatigue", "grade": "3",
                          "reason": "re-graded at review"})
    assert r.status_code == 200 and "Fatigue, grade 3" in r.text and "re-graded at review" in r.text
    hist = c.get(f"/trials/{TRIAL}/participants/{pid}/entries/{entry['id']}/history", headers={"HX-Request": "true"})
    assert hist.text.lstrip().startswith('<div class="history">')  # a fragment, no page around it
    assert "adverse_event.correct" in hist.text and "re-graded at review" in hist.text
    audit = c.get(f"/trials/{TRIAL}/audit?participant=P-0001")  # the participant's own id
    assert "adverse_event.correct" in audit.text and "P-0001/" in audit.text
    verify = [f for f in _forms(audit.text) if f["action"].endswith("/audit/verify")]
    assert verify and verify[0]["csrf"]
    done = c.post(f"/trials/{TRIAL}/audit/verify", data={"csrf": token})
    assert done.status_code == 200 and "The chain is intact" in done.text


def test_the_masked_outcome_assessor_records_an_assessment_and_sees_no_arm(sqlite_api):
    api = sqlite_api
    pid = _randomized(api)
    c = api.client
    sign_in(c, "outcome_assessor", PASSWORD)
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    assert 'id="assessment-form"' in page.text and 'id="ae-form"' not in page.text and "Arm:" not in page.text
    url = f"/trials/{TRIAL}/participants/{pid}/record/assessment"
    data = {"csrf": csrf_of(page.text), "date": "2026-03-04", "modality": "CT", "findings[0].lesion": "L1",
            "findings[0].diameter_mm": "-4"}
    bad = c.post(url, data=data)
    assert bad.status_code == 422 and 'id="err-findings-0-diameter_mm"' in bad.text
    assert _entries(api, pid) == []
    ok = c.post(url, data={**data, "findings[0].diameter_mm": "17"}, follow_redirects=False)
    assert ok.status_code == 303
    [entry] = _entries(api, pid)
    assert entry["kind"] == "assessment" and entry["data"]["findings"][0]["diameter_mm"] == 17
    # the coordinator may not record an assessment in STOP-2: the service says so, as a page
    sign_in(c, "coordinator", PASSWORD)
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    r = c.post(url, data={**data, "csrf": csrf_of(page.text), "findings[0].diameter_mm": "17"})
    assert r.status_code == 403 and len(_entries(api, pid)) == 1


@pytest.mark.parametrize("role", ["statistician", "outcome_assessor", "enrolling_oncologist"])
def test_the_dashboard_shows_a_blinded_role_its_role_and_counts(sqlite_api, role):
    _randomized(sqlite_api)
    c = sqlite_api.client
    dash = sign_in(c, role, PASSWORD)
    assert f"Your role: <strong>{role.replace('_', ' ')}</strong>" in dash.text
    assert "1 enrolled of 194 planned" in dash.text and "<svg class=\"chart\"" in dash.text


def test_a_visit_outside_its_window_asks_for_a_reason_then_is_recorded(sqlite_api):
    api = sqlite_api
    pid = _randomized(api)
    base = f"/api/v1/trials/{TRIAL}/participants/{pid}"
    arm = api.call("GET", base, "coordinator").json()["allocation"]["arm"]
    end = "2026-03-14" if arm == "sabr" else "2026-03-10"
    assert api.call("POST", f"{base}/radiotherapy", "treating_oncologist",
                    json={"start": "2026-03-10", "end": end, **RT_FOR_ARM[arm]}).status_code == 200
    visit = api.call("GET", base, "coordinator").json()["visits"][0]
    late = (dt.date.fromisoformat(visit["latest"]) + dt.timedelta(days=2)).isoformat()
    api.clock.set(late)
    c = api.client
    sign_in(c, "coordinator", PASSWORD)
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    code = visit["code"]
    url = f"/trials/{TRIAL}/participants/{pid}/visits/{code}"
    assert f'action="{url}"' in page.text
    r = c.post(url, data={"csrf": csrf_of(page.text), "date": late})
    assert r.status_code == 422
    assert re.search(rf'id="err-v-{code}-out_of_window_reason"[^>]*>out_of_window_reason: a reason: {late} is outside '
                     rf'the window {visit["earliest"]}..{visit["latest"]}', r.text)
    assert api.call("GET", base, "coordinator").json()["visits"][0]["actual"] is None  # nothing saved
    r = c.post(url, data={"csrf": csrf_of(page.text), "date": late, "out_of_window_reason": "patient on holiday"})
    assert r.status_code == 200 and "patient on holiday" in r.text
    done = api.call("GET", base, "coordinator").json()["visits"][0]
    assert done["actual"] == late and done["status"] == "done_out_of_window" and done["note"] == "patient on holiday"


def _screened(api, n: int) -> str:
    base = f"/api/v1/trials/{TRIAL}/participants"
    r = api.call("POST", base, "coordinator", json={**RECORD, "id": f"P-{n:04d}"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert api.call("POST", f"{base}/{pid}/screen", "coordinator", json={}).status_code == 200
    return pid


@pytest.mark.parametrize("role", ["coordinator", "enrolling_oncologist"])
def test_consent_enrol_and_a_confirmed_randomization_from_the_page_show_the_arm_only_to_whom_may_see_it(
        sqlite_api, role):
    api = sqlite_api
    pid = _screened(api, 1)
    c = api.client
    sign_in(c, role, PASSWORD)
    step = f"/trials/{TRIAL}/participants/{pid}/step"
    page = c.get(f"/trials/{TRIAL}/participants/{pid}")
    assert 'id="consent-form"' in page.text and 'id="enrol-form"' not in page.text  # only the next step
    token = csrf_of(page.text)
    r = c.post(f"{step}/consent", data={"csrf": token, "date": "2026-03-02", "form_version": ""})
    assert r.status_code == 422 and 'id="err-c-form_version"' in r.text
    r = c.post(f"{step}/consent", data={"csrf": token, "date": "2026-03-02", "form_version": "v2"})
    assert r.status_code == 200 and 'id="enrol-form"' in r.text
    r = c.post(f"{step}/enrol", data={"csrf": token})
    assert r.status_code == 200 and 'id="randomize-form"' in r.text and "cannot be undone" in r.text
    r = c.post(f"{step}/randomize", data={"csrf": token})  # not confirmed: nothing allocated
    assert r.status_code == 422 and 'id="err-confirm"' in r.text
    view = api.call("GET", f"/api/v1/trials/{TRIAL}/participants/{pid}", "coordinator").json()
    assert view["state"] == "enrolled" and "allocation" not in view
    r = c.post(f"{step}/randomize", data={"csrf": token, "confirm": "on"})
    assert r.status_code == 200 and "Randomized " in r.text and 'id="randomize-form"' not in r.text
    view = api.call("GET", f"/api/v1/trials/{TRIAL}/participants/{pid}", "coordinator").json()
    assert view["state"] == "randomized"
    label = next(a.label for a in STOP2.arms if a.id == view["allocation"]["arm"])
    if role == "coordinator":
        assert f"Arm: <strong>{label}</strong>" in r.text
    else:  # STOP-2 blinds the enrolling oncologist: the page after randomizing names no arm
        assert "Arm:" not in r.text and find_arm_information(page_strings(r.text), ARM_IDS, LABELS) == []

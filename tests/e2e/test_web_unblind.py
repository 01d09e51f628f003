"""Emergency unblinding through the page, on a fresh SQLite database (one account per role of
STOP-2, which blinds the enrolling oncologist and the statistician): the page explains what
happens and asks a reason and the password again; a wrong password is refused beside the
password field and audited; the right one shows the arm on that response only (not in a cookie,
a URL or the participant's page afterwards, not cached); a role without the ``unblind``
permission gets 403; the arm never enters the audit trail; a wrong password counts against the
sign-in throttle, as on the API."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from oligotrial.adapters.web.throttle import LoginThrottle
from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from trialops_e2e import PASSWORD, TRIAL
from web_demo import csrf_of, sign_in

STOP2 = load_protocol("STOP-2")
ARM_IDS, LABELS = [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]
REASON = "anaphylaxis in the emergency room"


def _signed_in(api, username: str) -> TestClient:
    c = TestClient(api.client.app, raise_server_exceptions=False)
    r = sign_in(c, username, PASSWORD)
    assert r.status_code == 200 and r.url.path == "/trials", (username, r.status_code)
    return c


def _strings(html: str) -> list[str]:
    found = re.findall(r">([^<]+)<", html) + re.findall(r'="([^"]*)"', html)
    return [t.strip() for t in found if t.strip()]


def _arm_in(html: str) -> list[str]:
    return find_arm_information(_strings(html), ARM_IDS, LABELS)


@pytest.fixture
def randomized(sqlite_api) -> str:
    pid = sqlite_api.enrolled(1)
    r = sqlite_api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 200, r.text
    return pid


def _url(pid: str) -> str:
    return f"/trials/{TRIAL}/participants/{pid}/unblind"


def _audit(api) -> list[dict]:
    with api.container.ctx.uow() as uow:
        return uow.audit.audit_entries(TRIAL)


def _post(c: TestClient, pid: str, **data):
    page = c.get(_url(pid))
    assert page.status_code == 200, page.text
    return c.post(_url(pid), data={"csrf": csrf_of(page.text), **data}, follow_redirects=False)


def test_the_page_explains_what_happens_and_asks_a_reason_and_the_password_again(sqlite_api, randomized):
    c = _signed_in(sqlite_api, "enrolling_oncologist")
    page = c.get(_url(randomized))
    assert page.status_code == 200
    assert "shown to you" in page.text and "audit trail" in page.text and "coordinating centre" in page.text
    assert '<input id="f-password" name="password" type="password"' in page.text
    assert 'name="reason"' in page.text and "at least 10 characters" in page.text
    assert _arm_in(page.text) == []  # a blinded role: the page itself tells nothing


def test_a_wrong_password_is_refused_beside_the_field_and_audited(sqlite_api, randomized):
    c = _signed_in(sqlite_api, "enrolling_oncologist")
    r = _post(c, randomized, reason=REASON, password="not-my-password")
    assert r.status_code == 403
    assert re.search(r'<span class="field-error" id="err-password" role="alert">password: re-authentication failed',
                     r.text)
    assert 'aria-describedby="err-password"' in r.text and _arm_in(r.text) == []
    assert "not-my-password" not in r.text and REASON in r.text  # the reason stays, the password does not
    last = _audit(sqlite_api)[-1]
    assert last["action"] == "participant.unblind_refused" and last["actor"] == "enrolling_oncologist"
    assert last["new"] == {"refused": "reauthentication_failed", "field": "password"}
    r = _post(c, randomized, reason="short", password=PASSWORD)
    assert r.status_code == 422 and 'id="err-reason"' in r.text and "at least 10 characters" in r.text
    assert not any(e["action"] == "participant.unblind" for e in _audit(sqlite_api))


def test_the_right_password_shows_the_arm_to_that_user_on_that_response_only(sqlite_api, randomized):
    c = _signed_in(sqlite_api, "enrolling_oncologist")
    r = _post(c, randomized, reason=REASON, password=PASSWORD)
    assert r.status_code == 200 and "Allocation of" in r.text
    label = next(lab for lab in LABELS if lab in r.text)
    assert _arm_in(r.text)  # the arm is on this page
    assert r.headers["cache-control"] == "no-store" and "location" not in r.headers
    cookies = " ".join(v for k, v in r.headers.multi_items() if k == "set-cookie")
    assert not find_arm_information([cookies, str(r.url)], ARM_IDS, LABELS) and label not in cookies
    # and nowhere else: not on their next pages, not to another user
    assert _arm_in(c.get(f"/trials/{TRIAL}/participants/{randomized}").text) == []
    assert _arm_in(c.get(_url(randomized)).text) == []
    stat = _signed_in(sqlite_api, "statistician")
    assert _arm_in(stat.get(f"/trials/{TRIAL}/participants/{randomized}").text) == []
    # recorded: the audit entry, the participant's event, the coordinating centre's notification
    done = [e for e in _audit(sqlite_api) if e["action"] == "participant.unblind"]
    assert len(done) == 1 and done[0]["actor"] == "enrolling_oncologist" and done[0]["reason"] == REASON
    notes = sqlite_api.call("GET", f"/api/v1/trials/{TRIAL}/notifications", "coordinator").json()
    assert [n["kind"] for n in notes] == ["emergency_unblinding"]
    # the coordinating centre reads it on its dashboard; the blinded roles' dashboards have no such panel
    dash = _signed_in(sqlite_api, "coordinator").get("/trials").text
    panel = dash.split("Notifications to the coordinating centre", 1)[1].split("</table>", 1)[0]
    assert "emergency unblinding" in panel and REASON in panel
    assert f'href="/trials/{TRIAL}/participants/{randomized}"' in panel and _arm_in(panel) == []
    for role in ("enrolling_oncologist", "statistician", "data_manager"):
        assert "Notifications to the coordinating centre" not in _signed_in(sqlite_api, role).get("/trials").text


def test_the_arm_never_enters_the_audit_trail(sqlite_api, randomized):
    c = _signed_in(sqlite_api, "treating_oncologist")
    c_bad = _post(c, randomized, reason=REASON, password="wrong-password")
    assert c_bad.status_code == 403
    assert _post(c, randomized, reason=REASON, password=PASSWORD).status_code == 200
    rows = [e for e in _audit(sqlite_api) if e["action"].startswith("participant.unblind")]
    assert [e["action"] for e in rows] == ["participant.unblind_refused", "participant.unblind"]
    assert find_arm_information(json.loads(json.dumps(rows)), ARM_IDS, LABELS) == []
    # as the coordinator reads it on the audit page
    audit_page = _signed_in(sqlite_api, "coordinator").get(f"/trials/{TRIAL}/audit").text
    assert "participant.unblind" in audit_page
    rows_html = re.findall(r"<tr>.*?participant\.unblind.*?</tr>", audit_page, re.DOTALL)
    assert rows_html and all(_arm_in(row) == [] for row in rows_html)


@pytest.mark.parametrize("role", ["statistician", "outcome_assessor", "dsmb", "data_manager", "admin"])
def test_a_role_without_the_unblind_permission_gets_403_and_nothing_is_recorded_but_the_refusal(
        sqlite_api, randomized, role):
    c = _signed_in(sqlite_api, role)
    assert c.get(_url(randomized)).status_code == 403
    token = csrf_of(c.get("/trials").text)
    r = c.post(_url(randomized), data={"csrf": token, "reason": REASON, "password": PASSWORD},
               follow_redirects=False)
    assert r.status_code == 403 and "unblind" in r.text and _arm_in(r.text) == []
    rows = [e for e in _audit(sqlite_api) if e["action"].startswith("participant.unblind")]
    assert [(e["action"], e["new"]["refused"]) for e in rows] == [("participant.unblind_refused", "forbidden")]
    assert "/unblind" not in c.get(f"/trials/{TRIAL}/participants/{randomized}").text


def test_a_form_without_the_csrf_token_is_refused(sqlite_api, randomized):
    c = _signed_in(sqlite_api, "coordinator")
    r = c.post(_url(randomized), data={"reason": REASON, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and "csrf" in r.text and _arm_in(r.text) == []
    assert not any(e["action"].startswith("participant.unblind") for e in _audit(sqlite_api))


def test_wrong_passwords_never_lock_the_clinician_out_of_unblinding(sqlite_api, randomized):
    """Issue 26 item 2: "no count refuses a correct password on the unblinding path, and a wrong
    one there is still 403 and audited": failed sign-ins from elsewhere and the clinician's own
    typo leave the correct password working."""
    c = _signed_in(sqlite_api, "coordinator")
    c.app.state.login_throttle = LoginThrottle(per_account=3, per_address=100, window_s=60, backoff_base_s=60)
    elsewhere = TestClient(c.app, client=("203.0.113.9", 40000))
    for i in range(6):  # someone else types the clinician's user name
        page = elsewhere.get("/login")
        elsewhere.post("/login", data={"username": "coordinator", "password": f"guess-{i}", "csrf": csrf_of(page.text)})
    assert _post(c, randomized, reason=REASON, password="my-typo-typo").status_code == 403
    r = _post(c, randomized, reason=REASON, password=PASSWORD)
    assert r.status_code == 200 and "Allocation of" in r.text, r.text[:500]
    refused = [e for e in _audit(sqlite_api) if e["action"] == "participant.unblind_refused"]
    assert len(refused) == 1


def test_a_session_that_keeps_guessing_the_password_is_ended(sqlite_api, randomized):
    """A stolen session does not buy unlimited password guesses: at the limit of wrong passwords
    the page session ends (the copied cookie too) and signing in from there backs off."""
    c = _signed_in(sqlite_api, "coordinator")
    c.app.state.login_throttle = LoginThrottle(per_account=2, per_address=100, window_s=60, backoff_base_s=60)
    assert _post(c, randomized, reason=REASON, password="guess-guess").status_code == 403
    r = _post(c, randomized, reason=REASON, password="guess-again")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert _arm_in(r.text) == [] and "Allocation of" not in r.text
    assert c.get(_url(randomized), follow_redirects=False).headers["location"] == "/login"
    page = c.get("/login")
    again = c.post("/login", data={"username": "coordinator", "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert again.status_code == 429 and again.headers["retry-after"]


def test_a_participant_not_randomized_has_nothing_to_unblind(sqlite_api):
    pid = sqlite_api.enrolled(2)
    c = _signed_in(sqlite_api, "coordinator")
    page = c.get(_url(pid))
    assert page.status_code == 200 and "is not randomized" in page.text and 'id="unblind-form"' not in page.text

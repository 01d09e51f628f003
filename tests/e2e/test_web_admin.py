"""The administrator's account pages on a fresh SQLite database (one account per role of
STOP-2; ``admin`` holds the role for every trial): a user added through the form signs in; a
role granted or revoked shows on the user's next page; deactivation ends their session at once;
a password reset replaces the old one and ends the sessions and API tokens opened with it;
every change is in the audit trail by its action name,
never with a password; another role gets 403 and no link; bad input names its field beside it
and stores nothing; a form without the session's CSRF token is refused."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from oligotrial.service import users
from oligotrial.service.ports import SYSTEM
from trialops_e2e import PASSWORD, TRIAL
from web_demo import csrf_of, sign_in

STOP2 = load_protocol("STOP-2")
NEW_PW = "newcomer-password-1"


def _signed_in(api, username: str, password: str = PASSWORD) -> TestClient:
    c = TestClient(api.client.app, raise_server_exceptions=False)
    r = sign_in(c, username, password)
    assert r.status_code == 200 and r.url.path == "/trials", (username, r.status_code, r.url)
    return c


def _post(c: TestClient, path: str, data: dict, *, csrf: bool = True):
    token = csrf_of(c.get("/trials").text)  # the session's token (the sign-out form carries it)
    return c.post(path, data={**data, "csrf": token} if csrf else data, follow_redirects=False)


def _audit(api) -> list[dict]:
    with api.container.ctx.uow() as uow:
        return uow.audit.audit_entries()


def _accounts(api) -> list[dict]:
    return users.list_users(api.container.ctx, SYSTEM)


def _signs_in(api, username: str, password: str) -> bool:
    c = TestClient(api.client.app, raise_server_exceptions=False)
    return sign_in(c, username, password).url.path == "/trials"


@pytest.fixture
def admin(sqlite_api):
    return _signed_in(sqlite_api, "admin")


def test_the_admin_adds_a_user_who_can_then_sign_in(sqlite_api, admin):
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "<h1 id=\"top\">User accounts</h1>" in page.text
    assert page.headers["cache-control"] == "no-store"
    r = _post(admin, "/admin/users/add", {"username": "newcomer", "password": NEW_PW, "role": "dsmb",
                                          "trial": TRIAL, "site": ""})
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=add&username=newcomer"
    page = admin.get(r.headers["location"])
    assert "Done: added newcomer." in page.text
    assert re.search(r'<th scope="row">newcomer</th>\s*<td><span class="status active">active</span></td>\s*'
                     r"<td>STOP-2: dsmb</td>", page.text)
    newcomer = _signed_in(sqlite_api, "newcomer", NEW_PW)
    assert "STOP-2: dsmb" in newcomer.get("/trials").text


def test_a_role_granted_or_revoked_shows_on_the_users_next_page(sqlite_api, admin):
    dm = _signed_in(sqlite_api, "data_manager")
    assert dm.get(f"/trials/{TRIAL}/participants").status_code == 200
    r = _post(admin, "/admin/users/revoke", {"username": "data_manager", "trial": TRIAL})
    assert r.status_code == 303, r.text
    nxt = dm.get("/trials")
    assert nxt.status_code == 200 and "STOP-2: data manager" not in nxt.text
    assert dm.get(f"/trials/{TRIAL}/participants").status_code == 403
    r = _post(admin, "/admin/users/grant", {"username": "data_manager", "role": "coordinator", "trial": "STOP-2",
                                            "site": ""})
    assert r.status_code == 303, r.text
    assert "STOP-2: coordinator" in dm.get("/trials").text
    assert dm.get(f"/trials/{TRIAL}/participants").status_code == 200
    assert "STOP-2: coordinator" in admin.get("/admin/users").text


def test_deactivation_ends_the_users_session_at_once_and_reactivation_lets_them_back(sqlite_api, admin):
    dsmb = _signed_in(sqlite_api, "dsmb")
    r = _post(admin, "/admin/users/active", {"username": "dsmb", "active": "false"})
    assert r.status_code == 303 and "done=deactivate" in r.headers["location"]
    r = dsmb.get("/trials", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not _signs_in(sqlite_api, "dsmb", PASSWORD)
    assert re.search(r'<th scope="row">dsmb</th>\s*<td><span class="status retracted">inactive</span>',
                     admin.get("/admin/users").text)
    r = _post(admin, "/admin/users/active", {"username": "dsmb", "active": "true"})
    assert r.status_code == 303 and "done=activate" in r.headers["location"]
    assert _signs_in(sqlite_api, "dsmb", PASSWORD)


def test_a_password_reset_works_and_the_old_password_no_longer_does(sqlite_api, admin):
    r = _post(admin, "/admin/users/password", {"username": "statistician", "password": "fresh-password-9"})
    assert r.status_code == 303 and "done=password" in r.headers["location"]
    assert "Done: reset the password of statistician." in admin.get(r.headers["location"]).text
    assert not _signs_in(sqlite_api, "statistician", PASSWORD)
    assert _signs_in(sqlite_api, "statistician", "fresh-password-9")


def test_a_password_reset_ends_the_users_open_sessions_and_api_tokens(sqlite_api, admin):
    """Whoever held the statistician's session or token before the reset (a stolen password's
    reason to reset it) is out at once; a sign-in with the new password works."""
    page = _signed_in(sqlite_api, "statistician")
    assert page.get("/trials", follow_redirects=False).status_code == 200
    token = sqlite_api.client.post("/api/v1/auth/token", data={"username": "statistician", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert sqlite_api.client.get(f"/api/v1/trials/{TRIAL}/participants", headers=bearer).status_code == 200
    other = _signed_in(sqlite_api, "dsmb")  # another user's session is untouched

    r = _post(admin, "/admin/users/password", {"username": "statistician", "password": "fresh-password-9"})
    assert r.status_code == 303
    r = page.get("/trials", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = sqlite_api.client.get(f"/api/v1/trials/{TRIAL}/participants", headers=bearer)
    assert r.status_code == 401 and "password was changed" in r.text
    assert other.get("/trials", follow_redirects=False).status_code == 200
    assert admin.get("/admin/users", follow_redirects=False).status_code == 200
    fresh = _signed_in(sqlite_api, "statistician", "fresh-password-9")
    assert fresh.get("/trials", follow_redirects=False).status_code == 200


def test_a_token_or_session_without_a_credential_stamp_is_refused(sqlite_api):
    from oligotrial.adapters.web.pages import session as sess
    from oligotrial.adapters.web.security import issue_token

    settings = sqlite_api.container.settings
    uid = users.authenticate(sqlite_api.container.ctx, "coordinator", PASSWORD).id
    old = issue_token(settings.secret_key, uid, 5)  # as issued before stamps: no "pwd"
    r = sqlite_api.client.get(f"/api/v1/trials/{TRIAL}/participants", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401
    c = TestClient(sqlite_api.client.app, raise_server_exceptions=False)
    c.cookies.set(sess.COOKIE, sess.encode(settings.secret_key, sess.new_session(uid)))
    r = c.get("/trials", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_every_change_is_in_the_audit_trail_by_name_and_never_with_a_password(sqlite_api, admin):
    steps = [("/admin/users/add", {"username": "newcomer", "password": NEW_PW, "role": "dsmb", "trial": "*"}),
             ("/admin/users/grant", {"username": "newcomer", "role": "coordinator", "trial": TRIAL, "site": "site-a"}),
             ("/admin/users/revoke", {"username": "newcomer", "trial": "*"}),
             ("/admin/users/active", {"username": "newcomer", "active": "false"}),
             ("/admin/users/active", {"username": "newcomer", "active": "true"}),
             ("/admin/users/password", {"username": "newcomer", "password": "another-secret-7"})]
    for path, data in steps:
        assert _post(admin, path, data).status_code == 303, path
    mine = [e for e in _audit(sqlite_api) if e["entity_id"] == "newcomer"]
    assert [e["action"] for e in mine] == ["user.create", "user.grant", "user.grant", "user.revoke",
                                           "user.deactivate", "user.activate", "user.password_reset"]
    assert {e["actor"] for e in mine} == {"admin"}
    everything = json.dumps(_audit(sqlite_api))
    assert NEW_PW not in everything and "another-secret-7" not in everything
    page = admin.get("/admin/users").text  # the page's own list of recent account changes
    for action in ("user.create", "user.grant", "user.revoke", "user.deactivate", "user.activate",
                   "user.password_reset"):
        assert f"<td>{action}</td>" in page, action
    assert NEW_PW not in page and "another-secret-7" not in page
    # the trial's own audit page shows the grant in that trial too
    assert "user.grant" in admin.get(f"/trials/{TRIAL}/audit").text


@pytest.mark.parametrize("role", ["coordinator", "data_manager", "enrolling_oncologist", "statistician", "dsmb"])
def test_another_role_gets_403_on_every_admin_route_and_no_link(sqlite_api, role):
    c = _signed_in(sqlite_api, role)
    assert "/admin" not in c.get("/trials").text
    assert "/admin" not in c.get(f"/trials/{TRIAL}/participants").text
    r = c.get("/admin/users")
    assert r.status_code == 403 and "manage_users" in r.text and "data_manager" not in r.text.split("<main")[1]
    before = (len(_audit(sqlite_api)), _accounts(sqlite_api))
    for path, data in [("/admin/users/add", {"username": "sneaky", "password": NEW_PW, "role": "admin", "trial": "*"}),
                       ("/admin/users/grant", {"username": role, "role": "admin", "trial": "*"}),
                       ("/admin/users/revoke", {"username": "admin", "trial": "*"}),
                       ("/admin/users/active", {"username": "admin", "active": "false"}),
                       ("/admin/users/password", {"username": "admin", "password": "taken-over-1"})]:
        r = _post(c, path, data)
        assert r.status_code == 403 and "manage_users" in r.text, (path, r.status_code)
    assert (len(_audit(sqlite_api)), _accounts(sqlite_api)) == before


@pytest.mark.parametrize("path, data, form, field, words, status", [
    ("/admin/users/add", {"username": "newcomer", "password": "short", "role": "dsmb", "trial": TRIAL},
     "add", "password", "password: expected at least 8 characters", 422),
    ("/admin/users/add", {"username": "bad name!", "password": NEW_PW, "role": "dsmb", "trial": TRIAL},
     "add", "username", "username &#39;bad name!&#39;: expected 1-64 letters", 422),
    ("/admin/users/add", {"username": "newcomer", "password": NEW_PW, "role": "", "trial": TRIAL},
     "add", "role", "role &#39;&#39;: expected one of", 422),
    ("/admin/users/add", {"username": "newcomer", "password": NEW_PW, "role": "dsmb", "trial": "NCT00000000"},
     "add", "trial", "trial &#39;NCT00000000&#39;: expected one of", 404),
    ("/admin/users/add", {"username": "newcomer", "password": NEW_PW, "role": "dsmb", "trial": "*", "site": "a"},
     "add", "site", "site: a role limited to one site is granted in one trial", 422),
    ("/admin/users/grant", {"username": "ghost", "role": "dsmb", "trial": TRIAL},
     "grant", "username", "username &#39;ghost&#39;: expected an existing user", 422),
    ("/admin/users/revoke", {"username": "dsmb", "trial": "*"},
     "revoke", "trial", "trial &#39;*&#39;: user &#39;dsmb&#39; has no role there", 422),
    ("/admin/users/revoke", {"username": "admin", "trial": "*"},
     "revoke", "trial", "would end your own administration of every trial", 422),
    ("/admin/users/active", {"username": "admin", "active": "false"},
     "active", "username", "you cannot deactivate your own account", 422),
    ("/admin/users/active", {"username": "dsmb", "active": "maybe"},
     "active", "active", "active &#39;maybe&#39;: expected true or false", 422),
    ("/admin/users/password", {"username": "dsmb", "password": "short"},
     "password", "password", "password: expected at least 8 characters", 422),
], ids=["short-password", "bad-username", "no-role", "unknown-trial", "site-for-every-trial", "unknown-user",
        "no-such-grant", "own-admin-grant", "deactivate-self", "active-not-bool", "short-new-password"])
def test_bad_input_is_named_beside_its_field_and_nothing_is_stored(sqlite_api, admin, path, data, form, field,
                                                                    words, status):
    before = (len(_audit(sqlite_api)), _accounts(sqlite_api))
    r = _post(admin, path, data)
    assert r.status_code == status, r.text
    assert words in r.text
    # beside the field: the input says it is invalid and points at the message with its id
    assert f'aria-describedby="err-{form}-{field}"' in r.text
    assert re.search(rf'<span class="field-error" id="err-{form}-{field}" role="alert">{field}: ', r.text)
    assert (len(_audit(sqlite_api)), _accounts(sqlite_api)) == before
    if "password" in data:  # the password typed is never put back into the form
        assert f'value="{data["password"]}"' not in r.text


def test_a_form_without_the_sessions_csrf_token_is_refused_and_stores_nothing(sqlite_api, admin):
    before = (len(_audit(sqlite_api)), _accounts(sqlite_api))
    for path, data in [("/admin/users/add", {"username": "newcomer", "password": NEW_PW, "role": "dsmb",
                                             "trial": TRIAL}),
                       ("/admin/users/grant", {"username": "dsmb", "role": "coordinator", "trial": TRIAL}),
                       ("/admin/users/revoke", {"username": "dsmb", "trial": TRIAL}),
                       ("/admin/users/active", {"username": "dsmb", "active": "false"}),
                       ("/admin/users/password", {"username": "dsmb", "password": "taken-over-1"})]:
        r = _post(admin, path, data, csrf=False)
        assert r.status_code == 403 and "csrf" in r.text, path
        r = admin.post(path, data={**data, "csrf": "forged"}, follow_redirects=False)
        assert r.status_code == 403, path
    assert (len(_audit(sqlite_api)), _accounts(sqlite_api)) == before


def test_the_admin_page_shows_no_arm_and_every_link_on_it_opens(sqlite_api, admin):
    """What the crawler (test_web_crawl) requires of every page the administrator reaches."""
    pid = sqlite_api.enrolled(1)
    r = sqlite_api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/randomize", "coordinator", json={})
    assert r.status_code == 200, r.text
    page = admin.get("/admin/users")
    texts = re.findall(r">([^<]+)<", page.text) + re.findall(r'="([^"]*)"', page.text)
    assert find_arm_information([t.strip() for t in texts if t.strip()], [a.id for a in STOP2.arms],
                                [a.label for a in STOP2.arms]) == []
    links = set(re.findall(r'href="(/[^"#]*)', page.text)) - {"/docs"}
    assert links and all(admin.get(u).status_code < 400 for u in links if not u.startswith("/static/")), links

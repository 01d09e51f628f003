"""Issue 26 item 7: "Logging out leaves the old cookie valid until it idles out; sign-out ends
the session on the server. Cookies are `Secure` when `OLIGOTRIAL_PUBLIC_URL` (a new, documented
setting) starts with `https://`." On SQLite and PostgreSQL (the ended session is stored)."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient

from oligotrial.adapters.web.pages import session as sess
from trialops_e2e import PASSWORD
from web_demo import csrf_of, sign_in


def _session_cookie(response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(sess.COOKIE))


def test_signing_out_ends_the_session_on_the_server_so_a_copied_cookie_is_refused(api):
    c = api.client
    dash = sign_in(c, "coordinator", PASSWORD)
    stolen = c.cookies.get(sess.COOKIE)  # a copy taken before signing out (another tab, a proxy log)
    assert stolen
    r = c.post("/logout", data={"csrf": csrf_of(dash.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    other = TestClient(c.app)
    other.cookies.set(sess.COOKIE, stolen)
    again = other.get("/trials", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/login"
    # an htmx fragment with the copied cookie is sent to the sign-in page as well
    hx = other.get("/trials", headers={"HX-Request": "true"}, follow_redirects=False)
    assert hx.status_code == 204 and hx.headers["HX-Redirect"] == "/login"
    # the same user's other session (another browser) is not ended by this sign-out
    second = TestClient(c.app)
    sign_in(second, "coordinator", PASSWORD)
    other_browser = second.cookies.get(sess.COOKIE)
    fresh = TestClient(c.app)
    fresh.cookies.set(sess.COOKIE, other_browser)
    assert fresh.get("/trials", follow_redirects=False).status_code == 200
    # and signing in again on the first browser works
    assert sign_in(c, "coordinator", PASSWORD).url.path == "/trials"


def test_the_stored_session_id_is_not_the_form_token():
    s = sess.new_session(1, now=1_000_000.0, pwd="stamp")
    assert s.csrf not in s.sid and len(s.sid) == 40
    assert dataclasses.replace(s, csrf="other").sid != s.sid


def test_cookies_are_secure_when_the_public_url_is_https_behind_a_tls_ending_proxy(sqlite_api):
    c = sqlite_api.client
    container = c.app.state.container
    plain = c.get("/login")
    assert "Secure" not in plain.headers["set-cookie"]  # plain http, no public https address
    container.settings = container.settings.model_copy(update={"public_url": "https://trials.example.org/"})
    page = c.get("/login")  # the server itself still sees http (the proxy ended TLS)
    assert "Secure" in page.headers["set-cookie"]
    # the browser, on https at the proxy, sends the Secure sign-in cookie back (an http test
    # client would not: it is passed by hand)
    login_csrf = page.cookies.get(sess.LOGIN_CSRF_COOKIE)
    fresh = TestClient(c.app)
    r = fresh.post("/login", data={"username": "coordinator", "password": PASSWORD, "csrf": csrf_of(page.text)},
                   headers={"cookie": f"{sess.LOGIN_CSRF_COOKIE}={login_csrf}"}, follow_redirects=False)
    assert r.status_code == 303 and "Secure" in _session_cookie(r)


def test_public_url_is_a_documented_setting():
    from pathlib import Path

    from oligotrial.config import Settings

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    assert "`OLIGOTRIAL_PUBLIC_URL`" in doc
    assert Settings(public_url="https://x.example/").public_url == "https://x.example/"

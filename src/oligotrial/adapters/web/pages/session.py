"""The pages' sign-in session: a signed cookie, an idle timeout, and a CSRF token bound to it.

The cookie holds ``{uid, iat, seen, csrf, pwd}`` signed with HMAC-SHA256 under the server's
``secret_key`` and a purpose label of its own, so that a bearer token of the API is never a
valid cookie nor the reverse. It is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the
request came over https (OWASP Session Management Cheat Sheet, "Cookies"). Every page a signed-in
user opens re-issues it with a new ``seen``; a session idle for longer than :data:`IDLE_S`, or
older than :data:`ABSOLUTE_S`, is over (OWASP, "Session Expiration": idle 15-30 minutes for
high-value applications). Each form carries the session's CSRF token (the synchronizer-token
pattern: the token is bound to the session, compared in constant time); the sign-in form, before
any session, uses a double-submit cookie (OWASP CSRF Prevention Cheat Sheet).

Signing out ends the session on the server too: its :attr:`Session.sid` (a digest of its CSRF
secret) is recorded as ended (:func:`oligotrial.service.users.end_session`) and refused from then
on, so a copy of the cookie taken before no longer works (OWASP Session Management Cheat Sheet,
"Manual Session Expiration"). The cookie is ``Secure`` when the request came over https or the
server's public address (``OLIGOTRIAL_PUBLIC_URL``) starts with ``https://`` (behind a TLS-ending
proxy the request the server sees is plain http). The user's roles are read again on every request, so a
revoked role or an inactive account takes effect at once; ``pwd`` is the credential stamp of
the password the session was opened with (:func:`oligotrial.service.users.credential_stamp`),
so a password reset ends every session opened before it.

Times are seconds since the epoch by the one clock (:func:`oligotrial.clock.epoch_seconds`) unless
``now`` is given. Sessions expire by real time, not by the service's clock: a test that moves a
study clock by weeks (``tests/e2e/test_web_every_trial.py``) keeps its signed-in pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from oligotrial.clock import epoch_seconds

COOKIE = "oligotrial_session"
LOGIN_CSRF_COOKIE = "oligotrial_login_csrf"
#: a session unused for this long is over
IDLE_S = 30 * 60
#: a session is over this long after sign-in, however busy
ABSOLUTE_S = 12 * 3600
_PURPOSE = b"oligotrial.page-session/1:"


class SessionEnded(Exception):
    """No valid session: the page answers with the sign-in page (``why`` says what happened)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class CsrfRejected(Exception):
    """A form was posted without the CSRF token of the session it claims."""


@dataclass(frozen=True)
class Session:
    uid: int
    iat: int
    seen: int
    csrf: str
    pwd: str = ""

    @property
    def sid(self) -> str:
        """The session's id on the server (sign-out records it): a digest of its CSRF secret, so
        that the stored id cannot be turned back into a valid form token or cookie."""
        return hashlib.sha256(b"oligotrial.page-session-id/1:" + self.csrf.encode()).hexdigest()[:40]


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), _PURPOSE + payload.encode(), hashlib.sha256).digest())


def encode(secret: str, s: Session) -> str:
    payload = _b64(json.dumps({"uid": s.uid, "iat": s.iat, "seen": s.seen, "csrf": s.csrf, "pwd": s.pwd}).encode())
    return f"{payload}.{_sign(secret, payload)}"


def decode(
    secret: str, value: str | None, *, now: float | None = None, idle_s: int = IDLE_S, absolute_s: int = ABSOLUTE_S
) -> Session:
    """The session a cookie holds; :class:`SessionEnded` when there is none, it was tampered
    with, it idled out or it is too old."""
    if not value:
        raise SessionEnded("signin")
    now = epoch_seconds() if now is None else now
    try:
        payload, sig = value.split(".")
        if not hmac.compare_digest(sig, _sign(secret, payload)):
            raise ValueError
        d = json.loads(_unb64(payload))
        s = Session(int(d["uid"]), int(d["iat"]), int(d["seen"]), str(d["csrf"]), str(d.get("pwd", "")))
    except Exception:  # noqa: BLE001 -- any malformed cookie means "not signed in", never a 500
        raise SessionEnded("signin") from None
    if now - s.seen > idle_s or now - s.iat > absolute_s:
        raise SessionEnded("expired")
    return s


def new_session(uid: int, now: float | None = None, pwd: str = "") -> Session:
    t = int(epoch_seconds() if now is None else now)
    return Session(uid, t, t, secrets.token_urlsafe(32), pwd)


def touch(s: Session, now: float | None = None) -> Session:
    return Session(s.uid, s.iat, int(epoch_seconds() if now is None else now), s.csrf, s.pwd)


def is_https(request: Request) -> bool:
    """Whether cookies must be ``Secure``: the request came over https, or the server's public
    address (the ``public_url`` setting) is https."""
    if request.url.scheme == "https":
        return True
    container = getattr(request.app.state, "container", None)
    public_url = getattr(getattr(container, "settings", None), "public_url", None) or ""
    return public_url.lower().startswith("https://")


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=is_https(request))


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=is_https(request))


def check_csrf(expected: str | None, given: object) -> None:
    """Raise :class:`CsrfRejected` unless ``given`` equals ``expected`` (constant time)."""
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRejected("csrf: the form's token does not match this session; reload the page and try again")

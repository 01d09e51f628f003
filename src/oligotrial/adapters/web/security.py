"""Bearer tokens (HMAC-SHA256 signed, expiring), the FastAPI dependencies that resolve them and
the trial a path names, and the login throttle of the app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer

from oligotrial.clock import epoch_seconds
from oligotrial.service import users
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor
from oligotrial.service.users import AuthenticationError

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def issue_token(secret: str, user_id: int, ttl_minutes: int, stamp: str = "", *, now: float | None = None) -> str:
    """A bearer token for ``user_id``, expiring after ``ttl_minutes``, carrying the credential
    stamp it was issued under (:func:`oligotrial.service.users.credential_stamp`) and an id of its
    own (``jti``, RFC 7519 section 4.1.7), by which the server can end it alone
    (:func:`oligotrial.service.users.end_session`). ``now``: seconds since the epoch (default: the
    one clock, :func:`oligotrial.clock.epoch_seconds`; bearer tokens, like page sessions, expire by
    real time, not by a study clock a test moves)."""
    t = epoch_seconds() if now is None else now
    payload = _b64(
        json.dumps(
            {"sub": user_id, "exp": int(t) + ttl_minutes * 60, "pwd": stamp, "jti": secrets.token_urlsafe(18)}
        ).encode()
    )
    sig = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"v1.{payload}.{sig}"


def read_token(secret: str, token: str, *, now: float | None = None) -> tuple[int, str, str | None]:
    """The user id, credential stamp and id (``jti``; None in a token issued before ids) a valid,
    unexpired token holds (a token without a stamp holds ``""``, which no password matches).
    ``now`` as in :func:`issue_token`."""
    try:
        version, payload, sig = token.split(".")
        good = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
        if version != "v1" or not hmac.compare_digest(sig, good):
            raise ValueError
        data = json.loads(_unb64(payload))
        if int(data["exp"]) < (epoch_seconds() if now is None else now):
            raise AuthenticationError("token: expired; request a new one", field="token")
        jti = data.get("jti")
        return int(data["sub"]), str(data.get("pwd", "")), (f"token:{jti}" if isinstance(jti, str) else None)
    except AuthenticationError:
        raise
    except Exception:  # noqa: BLE001 -- any malformed token is "not valid", never a 500
        raise AuthenticationError("token: not valid", field="token") from None


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.container.ctx


def current_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    if not token:
        raise AuthenticationError(
            "Authorization: a bearer token is required (POST /api/v1/auth/token)", field="Authorization"
        )
    settings = request.app.state.container.settings
    user_id, stamp, token_id = read_token(settings.secret_key, token)
    request.state.token_id = token_id  # the unblinding route ends this token after too many wrong passwords
    return users.actor_for(get_ctx(request), user_id, stamp, session_id=token_id)


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


def resolve_trial(
    ctx: Ctx,
    actor: CurrentActor,
    trial: Annotated[str, Path(min_length=1, max_length=64, description="NCT id or short name (any case)")],
) -> str:
    """The trial a path names, as its registry id: an NCT id or the short name, in any case,
    resolved the same way on every route (the protocol loader's rule), after the caller is
    authenticated. An unknown trial is 404 (``protocol_not_found``) for every authenticated
    caller: the protocol library is public (the registry's own records), so that a trial exists
    is no secret; what the caller may do in it is the service's role check (403)."""
    return ctx.load_protocol(trial).id


TrialId = Annotated[str, Depends(resolve_trial)]


def login_throttle(request: Request):
    """The app's :class:`~oligotrial.adapters.web.throttle.LoginThrottle`."""
    return request.app.state.login_throttle

"""Bearer tokens (HMAC-SHA256 signed, expiring) and the FastAPI dependencies that resolve them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from oligotrial.service import users
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor
from oligotrial.service.users import AuthenticationError

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def issue_token(secret: str, user_id: int, ttl_minutes: int) -> str:
    payload = _b64(json.dumps({"sub": user_id, "exp": int(time.time()) + ttl_minutes * 60}).encode())
    sig = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"v1.{payload}.{sig}"


def read_token(secret: str, token: str) -> int:
    try:
        version, payload, sig = token.split(".")
        good = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
        if version != "v1" or not hmac.compare_digest(sig, good):
            raise ValueError
        data = json.loads(_unb64(payload))
        if int(data["exp"]) < time.time():
            raise AuthenticationError("token: expired; request a new one", field="token")
        return int(data["sub"])
    except AuthenticationError:
        raise
    except Exception:
        raise AuthenticationError("token: not valid", field="token") from None


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.container.ctx


def current_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    if not token:
        raise AuthenticationError("Authorization: a bearer token is required (POST /api/v1/auth/token)",
                                  field="Authorization")
    settings = request.app.state.container.settings
    return users.actor_for(get_ctx(request), read_token(settings.secret_key, token))


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
CurrentActor = Annotated[Actor, Depends(current_actor)]

"""User accounts: add a user with a role in a trial; authenticate by password."""

from __future__ import annotations

from oligotrial.domain.trial.blinding import ROLES
from oligotrial.errors import BlindingError, OligotrialError
from oligotrial.service import audit
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import SYSTEM, Actor, User


class AuthenticationError(BlindingError):
    """Username or password wrong, or the account inactive (never says which)."""

    code = "authentication_failed"


def check_site_code(site: str) -> str:
    """A site code: 1-64 letters, digits, '.', '_' or '-' (e.g. ``shanghai-chest``)."""
    s = (site or "").strip()
    if not s or len(s) > 64 or not s.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise OligotrialError(f"site {site!r}: expected a site code of 1-64 letters, digits, '.', '_' or '-'",
                              code="bad_site", field="site")
    return s


def add_user(ctx: ServiceContext, username: str, password: str, role: str, trial: str,
             actor: Actor = SYSTEM, site: str | None = None) -> User:
    """Create (or grant another trial to) a user; the password is stored only as a KDF hash."""
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise OligotrialError(f"username {username!r}: expected 1-64 letters, digits, '.', '_' or '-'",
                              code="bad_username", field="username")
    if role not in ROLES:
        raise OligotrialError(f"role {role!r}: expected one of {list(ROLES)}", code="bad_role", field="role")
    trial_id = "*" if trial == "*" else ctx.load_protocol(trial).id
    if site is not None:
        site = check_site_code(site)
        if trial_id == "*":
            raise OligotrialError("site: a role limited to one site is granted in one trial, not '*'",
                                  code="bad_site", field="site")
    if len(password or "") < 8:
        raise OligotrialError("password: expected at least 8 characters", code="weak_password", field="password")
    with ctx.uow() as uow:
        user = uow.repo.get_user_by_name(username)
        if user is None:
            user = uow.repo.add_user(User(None, username, ctx.hasher.hash(password)))
            audit.record(uow, ctx, actor, trial=None, action="user.create", entity_type="user",
                         entity_id=username, new={"username": username})
        elif not ctx.hasher.verify(user.password_hash, password):
            raise OligotrialError(f"password: user {username!r} exists; give their current password to "
                                  "grant another role", code="user_exists", field="password")
        uow.repo.grant(user.id, trial_id, role, site)
        audit.record(uow, ctx, actor, trial=None if trial_id == "*" else trial_id, action="user.grant",
                     entity_type="user", entity_id=username, new={"trial": trial_id, "role": role, "site": site})
        uow.commit()
        user.roles[trial_id] = role
        if site is not None:
            user.sites[trial_id] = site
        return user


def authenticate(ctx: ServiceContext, username: str, password: str) -> User:
    with ctx.uow() as uow:
        user = uow.repo.get_user_by_name(username or "")
    if user is None or not user.active or not ctx.hasher.verify(user.password_hash, password or ""):
        raise AuthenticationError("username or password: not recognised", field="password")
    return user


def actor_for(ctx: ServiceContext, user_id: int) -> Actor:
    with ctx.uow() as uow:
        user = uow.repo.get_user(user_id)
    if user is None or not user.active:
        raise AuthenticationError("token: the user no longer exists or is inactive", field="token")
    return Actor(user.username, dict(user.roles), user.id, dict(user.sites))

"""User accounts: add a user with a role in a trial; authenticate by password; and the
administrator's account management (list, grant, revoke, deactivate or reactivate, reset a
password), each authorized (``manage_users``: the administrator of every trial) and audited.

An administrator never locks themself out: they cannot deactivate their own account, nor revoke
or replace their own grant that makes them an administrator of every trial. A password is kept
only as a KDF hash and never enters the audit trail or a listing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from oligotrial.domain.trial.audit import readable
from oligotrial.domain.trial.blinding import ROLES
from oligotrial.errors import BlindingError, OligotrialError
from oligotrial.service import audit
from oligotrial.service.access import PERMISSIONS, authorize
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import SYSTEM, Actor, UnitOfWork, User

#: passwords shorter than this are refused (NIST SP 800-63B section 5.1.1.2: at least 8 characters)
MIN_PASSWORD = 8


class AuthenticationError(BlindingError):
    """Username or password wrong, or the account inactive (never says which)."""

    code = "authentication_failed"


def check_site_code(site: str) -> str:
    """A site code: 1-64 letters, digits, '.', '_' or '-' (e.g. ``shanghai-chest``)."""
    s = (site or "").strip()
    if not s or len(s) > 64 or not s.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise OligotrialError(
            f"site {site!r}: expected a site code of 1-64 letters, digits, '.', '_' or '-'",
            code="bad_site",
            field="site",
        )
    return s


def _check_username(username: str) -> str:
    username = (username or "").strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise OligotrialError(
            f"username {username[:80]!r}: expected 1-64 letters, digits, '.', '_' or '-'",
            code="bad_username",
            field="username",
        )
    return username


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise OligotrialError(
            f"password: expected at least {MIN_PASSWORD} characters", code="weak_password", field="password"
        )


def _grant_args(ctx: ServiceContext, role: str, trial: str, site: str | None) -> tuple[str, str | None]:
    """The grant's trial id (``"*"``: every trial) and site, checked."""
    if role not in ROLES:
        raise OligotrialError(f"role {role!r}: expected one of {list(ROLES)}", code="bad_role", field="role")
    trial_id = "*" if trial == "*" else ctx.load_protocol(trial).id
    if site is not None:
        site = check_site_code(site)
        if trial_id == "*":
            raise OligotrialError(
                "site: a role limited to one site is granted in one trial, not '*'", code="bad_site", field="site"
            )
    return trial_id, site


def _may_manage(roles: dict[str, str]) -> bool:
    return Actor("", roles).role_in("*") in PERMISSIONS["manage_users"]


def _authorize(actor: Actor) -> None:
    """Account management is the administrator of every trial's (``manage_users`` for ``"*"``):
    an administrator of one trial could otherwise grant themself a role in another."""
    authorize(actor, "*", "manage_users")


def add_user(
    ctx: ServiceContext,
    username: str,
    password: str,
    role: str,
    trial: str,
    actor: Actor = SYSTEM,
    site: str | None = None,
) -> User:
    """Create (or grant another trial to) a user; the password is stored only as a KDF hash.
    ``actor`` (the operator's CLI: :data:`SYSTEM`) must be an administrator of every trial."""
    _authorize(actor)
    username = _check_username(username)
    trial_id, site = _grant_args(ctx, role, trial, site)
    _check_password(password)
    with ctx.uow() as uow:
        user = uow.users.get_user_by_name(username)
        if user is None:
            user = uow.users.add_user(User(None, username, ctx.hasher.hash(password)))
            audit.record(
                uow,
                ctx,
                actor,
                trial=None,
                action="user.create",
                entity_type="user",
                entity_id=username,
                new={"username": username},
            )
        elif not ctx.hasher.verify(user.password_hash, password):
            raise OligotrialError(
                f"password: user {username!r} exists; give their current password to grant another role",
                code="user_exists",
                field="password",
            )
        assert user.id is not None  # a stored user has its id
        uow.users.grant(user.id, trial_id, role, site)
        audit.record(
            uow,
            ctx,
            actor,
            trial=None if trial_id == "*" else trial_id,
            action="user.grant",
            entity_type="user",
            entity_id=username,
            new={"trial": trial_id, "role": role, "site": site},
        )
        uow.commit()
        user.roles[trial_id] = role
        if site is not None:
            user.sites[trial_id] = site
        return user


#: a hash of a random password per hasher, checked for unknown user names (see :func:`authenticate`)
_STAND_IN: dict[int, str] = {}


def _stand_in_hash(hasher: Any) -> str:
    key = id(hasher)
    if key not in _STAND_IN:
        _STAND_IN[key] = hasher.hash(secrets.token_urlsafe(24))
    return _STAND_IN[key]


def authenticate(ctx: ServiceContext, username: str, password: str) -> User:
    """The user whose name and password these are. An unknown user name, or an inactive account,
    is checked against a stand-in hash all the same, so that the answer takes as long as for a
    real user and user names cannot be told apart by timing (OWASP Authentication Cheat Sheet,
    "Authentication and Error Messages": response times; CWE-208, observable timing
    discrepancy)."""
    with ctx.uow() as uow:
        user = uow.users.get_user_by_name(username or "")
    stored = user.password_hash if user is not None else _stand_in_hash(ctx.hasher)
    good = ctx.hasher.verify(stored, password or "")
    if user is None or not user.active or not good:
        raise AuthenticationError("username or password: not recognised", field="password")
    return user


def credential_stamp(user: User) -> str:
    """A short digest of the user's stored password hash. A bearer token or a page session
    carries the stamp of the password it was issued under; when the password is reset the hash,
    and so the stamp, changes and every token and session issued before ends at once (Django's
    "session invalidation on password change", ``get_session_auth_hash``; OWASP ASVS 4.0
    V3.3.3: the user may end all other sessions after a password change)."""
    return hashlib.sha256(b"oligotrial.credential/1:" + user.password_hash.encode()).hexdigest()[:20]


def actor_for(ctx: ServiceContext, user_id: int, stamp: str | None = None, *, session_id: str | None = None) -> Actor:
    """The actor of an authenticated request: the user's roles read anew. With ``stamp`` (every
    token and session carries one: :func:`credential_stamp`), the credential it was issued
    under must still be the user's: after a password reset it is refused. With ``session_id``
    (a page session's), a session ended by signing out (:func:`end_session`) is refused."""
    with ctx.uow() as uow:
        user = uow.users.get_user(user_id)
        ended = session_id is not None and uow.users.session_ended(session_id)
    if user is None or not user.active:
        raise AuthenticationError("token: the user no longer exists or is inactive", field="token")
    if ended:
        raise AuthenticationError(
            "session: ended (signed out, or too many wrong passwords); sign in again", field="session"
        )
    if stamp is not None and not hmac.compare_digest(stamp, credential_stamp(user)):
        raise AuthenticationError("token: issued before the password was changed; sign in again", field="token")
    return Actor(user.username, dict(user.roles), user.id, dict(user.sites))


def end_session(ctx: ServiceContext, user_id: int, session_id: str, keep_for: dt.timedelta) -> None:
    """Sign-out ends the page session on the server, not only in the browser: its id is kept
    for ``keep_for`` (at least the rest of the session's absolute lifetime, after which it would have
    ended anyway; older records are dropped) and :func:`actor_for`
    refuses it, so a copy of the cookie taken before signing out no longer works (OWASP
    Session Management Cheat Sheet, "Manual Session Expiration"; OWASP ASVS 4.0 V3.3.1:
    "logout and expiration invalidate the session token, such that the back button or a
    downstream relying party does not resume an authenticated session")."""
    with ctx.uow() as uow:
        now = ctx.clock()
        uow.users.end_session(
            session_id,
            user_id,
            now.isoformat(timespec="microseconds"),
            (now + keep_for).isoformat(timespec="microseconds"),
        )
        uow.commit()


# ---- account management (the administrator) ------------------------------------------------------


def _account(user: User) -> dict[str, Any]:
    """A user as the administrator sees them: never the password hash."""
    return {
        "username": user.username,
        "active": user.active,
        "grants": [
            {"trial": trial, "role": role, "site": user.sites.get(trial)} for trial, role in sorted(user.roles.items())
        ],
    }


def _existing(uow: UnitOfWork, username: str) -> User:
    user = uow.users.get_user_by_name((username or "").strip()) if isinstance(username, str) else None
    if user is None:
        raise OligotrialError(
            f"username {str(username)[:80]!r}: expected an existing user", code="unknown_user", field="username"
        )
    return user


def _lockout(actor: Actor, user: User, roles_after: dict[str, str], what: str) -> None:
    if user.username == actor.username and _may_manage(user.roles) and not _may_manage(roles_after):
        raise OligotrialError(
            f"trial: {what} would end your own administration of every trial; expected another administrator to do it",
            code="self_lockout",
            field="trial",
        )


def list_users(ctx: ServiceContext, actor: Actor) -> list[dict[str, Any]]:
    """Every account, by username: active or not, and its role (and site) per trial."""
    _authorize(actor)
    with ctx.uow() as uow:
        return [_account(u) for u in sorted(uow.users.list_users(), key=lambda u: u.username)]


def grant(
    ctx: ServiceContext, actor: Actor, username: str, trial: str, role: str, site: str | None = None
) -> dict[str, Any]:
    """Give an existing user ``role`` in ``trial`` (``"*"``: every trial), in place of any role
    they had there; audited as ``user.grant``."""
    _authorize(actor)
    trial_id, site = _grant_args(ctx, role, trial, site)
    with ctx.uow() as uow:
        user = _existing(uow, username)
        assert user.id is not None  # a stored user has its id
        _lockout(actor, user, {**user.roles, trial_id: role}, f"role {role!r} in trial {trial_id!r}")
        replaces = {"role": user.roles[trial_id], "site": user.sites.get(trial_id)} if trial_id in user.roles else None
        uow.users.grant(user.id, trial_id, role, site)
        audit.record(
            uow,
            ctx,
            actor,
            trial=None if trial_id == "*" else trial_id,
            action="user.grant",
            entity_type="user",
            entity_id=user.username,
            new={"trial": trial_id, "role": role, "site": site, "replaces": replaces},
        )
        uow.commit()
        user.roles[trial_id] = role
        user.sites.pop(trial_id, None)
        if site is not None:
            user.sites[trial_id] = site
        return _account(user)


def revoke(ctx: ServiceContext, actor: Actor, username: str, trial: str) -> dict[str, Any]:
    """Take away the user's role in ``trial`` (``"*"``: their grant for every trial); audited
    as ``user.revoke``. Their next request no longer has it."""
    _authorize(actor)
    with ctx.uow() as uow:
        user = _existing(uow, username)
        assert user.id is not None  # a stored user has its id
        trial_id = trial if trial in user.roles else ("*" if trial == "*" else ctx.load_protocol(trial).id)
        if trial_id not in user.roles:
            raise OligotrialError(
                f"trial {trial_id!r}: user {user.username!r} has no role there; expected one of {sorted(user.roles)}",
                code="no_grant",
                field="trial",
            )
        after = {k: v for k, v in user.roles.items() if k != trial_id}
        _lockout(actor, user, after, f"revoking role {user.roles[trial_id]!r} in trial {trial_id!r}")
        revoked = {"trial": trial_id, "role": user.roles[trial_id], "site": user.sites.get(trial_id)}
        uow.users.revoke(user.id, trial_id)
        audit.record(
            uow,
            ctx,
            actor,
            trial=None if trial_id == "*" else trial_id,
            action="user.revoke",
            entity_type="user",
            entity_id=user.username,
            new={"revoked": revoked},
        )
        uow.commit()
        user.roles, user.sites = after, {k: v for k, v in user.sites.items() if k != trial_id}
        return _account(user)


def set_active(ctx: ServiceContext, actor: Actor, username: str, active: bool) -> dict[str, Any]:
    """Deactivate (or reactivate) an account: an inactive one cannot sign in, and its sessions
    and tokens end at once (:func:`actor_for` refuses it on the next request). Audited as
    ``user.deactivate`` or ``user.activate``; nothing is written when it is already so."""
    _authorize(actor)
    if not isinstance(active, bool):
        raise OligotrialError(f"active {active!r}: expected true or false", code="bad_active", field="active")
    with ctx.uow() as uow:
        user = _existing(uow, username)
        assert user.id is not None  # a stored user has its id
        if not active and user.username == actor.username:
            raise OligotrialError(
                f"username {user.username!r}: you cannot deactivate your own account; expected "
                "another administrator to do it",
                code="self_lockout",
                field="username",
            )
        if user.active != active:
            uow.users.set_active(user.id, active)
            audit.record(
                uow,
                ctx,
                actor,
                trial=None,
                action="user.activate" if active else "user.deactivate",
                entity_type="user",
                entity_id=user.username,
                new={"active": active},
            )
            uow.commit()
        user.active = active
        return _account(user)


def reset_password(ctx: ServiceContext, actor: Actor, username: str, new_password: str) -> dict[str, Any]:
    """Give the user a new password (at least :data:`MIN_PASSWORD` characters); the old one
    stops working at once, and so does every token and page session issued under it
    (:func:`credential_stamp`). Audited as ``user.password_reset``, without the password."""
    _authorize(actor)
    _check_password(new_password)
    with ctx.uow() as uow:
        user = _existing(uow, username)
        assert user.id is not None  # a stored user has its id
        uow.users.set_password(user.id, ctx.hasher.hash(new_password))
        audit.record(
            uow,
            ctx,
            actor,
            trial=None,
            action="user.password_reset",
            entity_type="user",
            entity_id=user.username,
            new={"password_reset": True},
        )
        uow.commit()
        return _account(user)


def account_history(ctx: ServiceContext, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The latest ``limit`` audit entries about accounts (``entity_type`` user), newest first."""
    _authorize(actor)
    with ctx.uow() as uow:
        rows = uow.audit.user_audit(max(1, min(int(limit), 500)))
    return [
        {k: readable(r).get(k) for k in ("seq", "at", "actor", "action", "trial", "entity_id", "old", "new", "reason")}
        for r in rows
    ]

"""Accounts, their grants and ended page sessions, in SQL (the users aggregate)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, insert, select, update

from oligotrial.adapters.db import tables as t
from oligotrial.adapters.db.session import SqlSession
from oligotrial.service.ports import User


class SqlUserRepository:
    """:class:`~oligotrial.service.ports.UserRepository` on the unit of work's connection."""

    def __init__(self, session: SqlSession) -> None:
        self._s = session

    def add_user(self, user: User) -> User:
        from oligotrial.service.ports import utc_now

        res = self._s.exec(
            insert(t.users)
            .values(
                username=user.username,
                password_hash=user.password_hash,
                active=user.active,
                created_at=utc_now().isoformat(),
            )
            .returning(t.users.c.id)
        )
        user.id = res.scalar_one()
        return user

    def _user(self, row: Any) -> User | None:
        if row is None:
            return None
        grants = self._s.exec(select(t.user_roles).where(t.user_roles.c.user_id == row.id)).all()
        return User(
            row.id,
            row.username,
            row.password_hash,
            row.active,
            {r.trial: r.role for r in grants},
            {r.trial: r.site for r in grants if r.site is not None},
        )

    def get_user_by_name(self, username: str) -> User | None:
        return self._user(self._s.exec(select(t.users).where(t.users.c.username == username)).first())

    def get_user(self, user_id: int) -> User | None:
        return self._user(self._s.exec(select(t.users).where(t.users.c.id == user_id)).first())

    def grant(self, user_id: int, trial: str, role: str, site: str | None = None) -> None:
        key = and_(t.user_roles.c.user_id == user_id, t.user_roles.c.trial == trial)
        if self._s.exec(select(t.user_roles).where(key)).first():
            self._s.exec(update(t.user_roles).where(key).values(role=role, site=site))
        else:
            self._s.exec(insert(t.user_roles).values(user_id=user_id, trial=trial, role=role, site=site))

    def list_users(self) -> list[User]:
        grants: dict[int, list[Any]] = {}
        for r in self._s.exec(select(t.user_roles)).all():
            grants.setdefault(r.user_id, []).append(r)
        return [
            User(
                u.id,
                u.username,
                u.password_hash,
                u.active,
                {r.trial: r.role for r in grants.get(u.id, [])},
                {r.trial: r.site for r in grants.get(u.id, []) if r.site is not None},
            )
            for u in self._s.exec(select(t.users).order_by(t.users.c.username)).all()
        ]

    def revoke(self, user_id: int, trial: str) -> None:
        self._s.exec(
            t.user_roles.delete().where(and_(t.user_roles.c.user_id == user_id, t.user_roles.c.trial == trial))
        )

    def set_active(self, user_id: int, active: bool) -> None:
        self._s.exec(update(t.users).where(t.users.c.id == user_id).values(active=active))

    def set_password(self, user_id: int, password_hash: str) -> None:
        self._s.exec(update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash))

    def end_session(self, sid: str, user_id: int, ended_at: str, expires_at: str) -> None:
        # sessions past their expiry need no record: a cookie that old is refused anyway
        self._s.exec(t.ended_sessions.delete().where(t.ended_sessions.c.expires_at < ended_at))
        if self._s.exec(select(t.ended_sessions.c.sid).where(t.ended_sessions.c.sid == sid)).first() is None:
            self._s.exec(
                insert(t.ended_sessions).values(sid=sid, user_id=user_id, ended_at=ended_at, expires_at=expires_at)
            )

    def session_ended(self, sid: str) -> bool:
        return self._s.exec(select(t.ended_sessions.c.sid).where(t.ended_sessions.c.sid == sid)).first() is not None

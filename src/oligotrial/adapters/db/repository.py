"""The SQL unit of work (SQLAlchemy Core): one transaction per unit of work, shared by one
repository per aggregate (:mod:`.participants`, :mod:`.allocation`, :mod:`.audit_log`,
:mod:`.users`, :mod:`.queries`) through a :class:`~.session.SqlSession`."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from oligotrial.adapters.db.allocation import SqlAllocationRepository
from oligotrial.adapters.db.audit_log import SqlAuditRepository
from oligotrial.adapters.db.participants import SqlParticipantRepository
from oligotrial.adapters.db.queries import SqlQueryRepository
from oligotrial.adapters.db.session import SqlSession, wrap
from oligotrial.adapters.db.users import SqlUserRepository
from oligotrial.service.ports import RandomizationList, UnitOfWorkFactory


class SqlUnitOfWork:
    """A transaction on one connection; anything not committed is rolled back on exit.
    Database exceptions are wrapped in :class:`~oligotrial.errors.StorageError`."""

    def __init__(
        self, engine: Engine, lists: dict[str, RandomizationList] | None = None, after_audit_commit: Any = None
    ) -> None:
        self.engine = engine
        self.lists = lists
        self.after_audit_commit = after_audit_commit  # called with the number of entries committed

    def __enter__(self) -> Self:
        try:
            self.conn = self.engine.connect()
            self.tx = self.conn.begin()
        except SQLAlchemyError as exc:
            raise wrap(exc) from None
        self.session = session = SqlSession(self.conn)
        self.participants = SqlParticipantRepository(session)
        self.audit = SqlAuditRepository(session)
        self.allocation = SqlAllocationRepository(session, self.participants, self.audit, self.lists)
        self.users = SqlUserRepository(session)
        self.queries = SqlQueryRepository(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.tx.is_active:
                self.tx.rollback()
        except SQLAlchemyError:
            pass
        finally:
            self.conn.close()
        if isinstance(exc, SQLAlchemyError):
            raise wrap(exc) from None

    def commit(self) -> None:
        try:
            self.session.commit_deferred()
            self.tx.commit()
        except SQLAlchemyError as exc:
            raise wrap(exc) from None
        appended, self.session.appended = self.session.appended, 0
        if appended and self.after_audit_commit is not None:
            self.after_audit_commit(appended)

    def rollback(self) -> None:
        self.tx.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lists: dict[str, RandomizationList] = {}  # live randomization lists, once read
        self.after_audit_commit: Any = None  # set by the composition root (periodic checkpoints)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.lists, self.after_audit_commit)


if TYPE_CHECKING:  # mypy checks the SQL unit of work against the service's port, repository by repository

    def _satisfies_port(factory: SqlUnitOfWorkFactory) -> UnitOfWorkFactory:
        return factory

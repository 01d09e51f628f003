"""The state a unit of work's repositories share: one connection in one transaction, and the
writes held back to be sent with COMMIT (PostgreSQL)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from oligotrial.adapters.db import tables as t
from oligotrial.errors import OligotrialError, StorageError


class SqlSession:
    """On PostgreSQL the writes whose result nothing reads before commit (an allocation row, the
    audit append) are held back and sent with COMMIT, in one round trip (pipeline mode), so the
    audit-chain head is locked for that round trip only. Any other statement sends them first,
    so reads always see them; a unit of work left without commit never sends them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.deferred: list[tuple[str, dict[str, Any]]] = []  # (driver SQL, parameters)
        self.appended = 0  # audit entries appended in this unit of work (for periodic checkpoints)

    def driver(self) -> Any:
        """The driver's own connection (psycopg on PostgreSQL)."""
        driver = self.conn.connection.driver_connection
        assert driver is not None, "the connection is open for the unit of work"
        return driver

    def exec(self, statement: Any, params: Any = None) -> Any:
        if self.deferred:
            self.flush()
        return self.conn.execute(statement) if params is None else self.conn.execute(statement, params)

    def flush(self) -> None:
        """Send the held-back writes now, in order."""
        deferred, self.deferred = self.deferred, []
        for sql, params in deferred:
            self.conn.exec_driver_sql(sql, params)

    def commit_deferred(self) -> bool:
        """Send the held-back writes and COMMIT in one round trip; False when there were none
        (the caller commits as usual). After this the driver has no transaction open, so the
        caller's own commit sends nothing."""
        deferred, self.deferred = self.deferred, []
        if not deferred:
            return False
        driver = self.driver()
        try:
            if psycopg.Pipeline.is_supported():
                with driver.pipeline():
                    for sql, params in deferred:
                        driver.execute(sql, params)
                    driver.commit()
            else:  # libpq < 14: one round trip per statement
                for sql, params in deferred:
                    driver.execute(sql, params)
                driver.commit()
        except psycopg.Error as exc:  # raised by the driver itself, not through SQLAlchemy
            raise wrap(exc) from None
        return True

    def driver_one(self, sql: str, params: dict[str, Any], *, as_dict: bool = False, commit: bool = False) -> Any:
        """One row (or None) of a statement sent by the driver itself (PostgreSQL hot paths),
        after the held-back writes, all in one round trip (pipeline mode; with BEGIN when the
        transaction has not started, and with COMMIT when ``commit``). Rows as dicts when
        ``as_dict``."""
        deferred, self.deferred = self.deferred, []
        driver = self.driver()
        try:
            with driver.pipeline(), driver.cursor(row_factory=dict_row if as_dict else tuple_row) as cur:
                for d_sql, d_params in deferred:
                    cur.execute(d_sql, d_params)
                cur.execute(sql, params)
                row = cur.fetchone()
                if commit:
                    driver.commit()
                return row
        except psycopg.Error as exc:  # raised by the driver itself, not through SQLAlchemy
            raise wrap(exc) from None

    def allocate_round_trip(self, sql: str, params: dict[str, Any]) -> Any:
        """:data:`pg_hotpath.ALLOCATE` with the stratum's and the chain head's locks released
        before the commit's WAL flush, and the call returning only once it is durable.

        With ``synchronous_commit`` on, every allocation holds the two hot rows until its commit
        record is flushed to disk, so allocations serialise on the disk's flush latency. Here
        the allocating transaction commits with ``synchronous_commit = off`` (its locks are
        released as soon as its commit record is written), then a second, synchronous
        transaction that only takes a transaction id commits: its commit waits until the WAL is
        flushed up to its own record, which lies after the allocation's, so when it returns the
        allocation is on disk (and on any synchronous standby). Flushes now overlap across
        clients (group commit) instead of queueing behind the hot rows. What the caller is told
        (the arm) is never lost by a crash; an allocation nobody was told of may be (another
        session could have read it in the moment before the flush), and its slot is then
        simply taken again, in order. Everything goes in one pipeline: BEGIN, the setting, the
        statement, COMMIT, the barrier and its COMMIT, with one wait for the results."""
        deferred, self.deferred = self.deferred, []
        driver = self.driver()
        if not deferred and driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return self._allocate_autocommit(driver, sql, params)
        try:
            with driver.pipeline(), driver.cursor() as cur, driver.cursor() as result:
                for d_sql, d_params in deferred:
                    cur.execute(d_sql, d_params)
                cur.execute("SET LOCAL synchronous_commit TO off")
                result.execute(sql, params)
                driver.commit()  # the hot rows are released here, before the flush
                cur.execute("SELECT txid_current()")  # the durability barrier
                driver.commit()
                return result.fetchone()
        except psycopg.Error as exc:  # raised by the driver itself, not through SQLAlchemy
            raise wrap(exc) from None

    def _allocate_autocommit(self, driver: Any, sql: str, params: dict[str, Any]) -> Any:
        """:meth:`allocate_round_trip` when nothing else ran in the unit of work (the usual
        case): the driver leaves transaction control to the statements (autocommit), so the
        pipeline holds four commands instead of seven: BEGIN, the setting and the statement,
        COMMIT, and the barrier as a transaction of its own (synchronous: it commits only once
        the WAL is flushed past the allocation's commit)."""
        driver.autocommit = True
        try:
            with driver.pipeline(), driver.cursor() as cur, driver.cursor() as result:
                cur.execute("BEGIN")
                cur.execute("SET LOCAL synchronous_commit TO off")
                result.execute(sql, params)
                cur.execute("COMMIT")  # the hot rows are released here, before the flush
                cur.execute("SELECT txid_current()")  # the durability barrier
                return result.fetchone()
        except psycopg.Error as exc:
            if driver.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                driver.execute("ROLLBACK")
            raise wrap(exc) from None
        finally:
            driver.autocommit = False

    def count(self, table: str) -> int:
        """The number of rows in ``table`` (the CLI's empty-database check, tests, benchmarks)."""
        return self.exec(select(func.count()).select_from(t.metadata.tables[table])).scalar_one()


def wrap(exc: SQLAlchemyError | psycopg.Error) -> OligotrialError:
    """The database's error as the :class:`~oligotrial.errors.StorageError` the services report."""
    if isinstance(exc, DataError | psycopg.DataError):
        # inputs are checked before they get here; this is the safety net (PostgreSQL refuses
        # text longer than its column or holding U+0000, where SQLite stores it)
        return StorageError(
            "the database refused a value (too long for its field, or a character it cannot store); nothing was saved",
            code="value_rejected",
        )
    if isinstance(exc, IntegrityError | psycopg.IntegrityError):
        return StorageError(
            "the database refused the write (a uniqueness or reference rule); nothing was saved", code="conflict"
        )
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        return StorageError("the database is unavailable or busy; nothing was saved", code="unavailable")
    return StorageError(f"the database refused the request ({type(exc).__name__}); nothing was saved")

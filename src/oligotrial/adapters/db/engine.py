"""Engines: SQLite (embedded default, WAL, write lock taken at BEGIN) or PostgreSQL (psycopg)."""

from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.engine import make_url

from oligotrial.errors import StorageError


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3; SQLite URLs pass through."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 10,
                ping_after_idle_s: float = 5.0) -> Engine:
    try:
        parsed = make_url(normalise_url(url))
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
        raise StorageError(f"database_url: cannot be parsed ({type(exc).__name__}); expected sqlite:///PATH "
                           "or postgresql://USER@HOST:PORT/DB", field="database_url") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_on_connect(dbapi_conn, _record):  # pragma: no cover - exercised via every test
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn):
            # Take the database write lock up front: allocations and audit appends are
            # serialised, the SQLite equivalent of SELECT ... FOR UPDATE.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_timeout=60,
                           connect_args=connect_args)
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Pessimistic disconnect handling for connections that sat idle in the pool.

    ``pool_pre_ping`` pings on every checkout: one more round trip for every unit of work, the
    cost of a whole statement on the randomization path. A connection checked in moments ago was
    alive then; one idle longer than ``idle_s`` (a server restart, a firewall's idle cut) is
    pinged first, and a dead one is replaced before anything runs on it (raising
    ``DisconnectionError`` from ``checkout`` makes the pool retry with a new connection; the
    pattern in SQLAlchemy's "Dealing with Disconnects"). A server that dies under a busy pool is
    met by the optimistic path: the statement fails, the unit of work stores nothing and reports
    the database unavailable, and SQLAlchemy invalidates the pool's connections.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= idle_s:
            return  # a new connection, or one in use moments ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:  # the driver's error for a dead connection
            alive = False
        if not alive:
            raise DisconnectionError("pooled connection found dead after idling; reconnecting")

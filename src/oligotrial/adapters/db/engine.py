"""Engines: SQLite (embedded default, WAL, write lock taken at BEGIN) or PostgreSQL (psycopg)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from oligotrial.errors import StorageError


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3; SQLite URLs pass through."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> Engine:
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
    return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         pool_timeout=60, connect_args=connect_args)

"""Backups that restore: a consistent copy of a live database, and its restore into an empty one,
each checked by recomputing the audit chain of exactly the data copied.

- **SQLite**: SQLite's online backup API (``sqlite3.Connection.backup``, all pages in one step)
  copies the database as of one read transaction while writers go on (WAL mode: a reader does
  not block them). Copying the file of a live database is not a backup: a write in progress,
  or one still in the ``-wal`` file, is torn or missing. https://www.sqlite.org/backup.html
- **PostgreSQL**: ``pg_dump --format=custom`` of the settings' schema. The dump reads one
  snapshot, exported by a REPEATABLE READ transaction opened here (``pg_export_snapshot``);
  the audit chain is verified inside that same snapshot (``SET TRANSACTION SNAPSHOT``), so the
  chain checked is the chain dumped. Restore is ``pg_restore`` into a database whose schema
  holds no table yet. PostgreSQL 15 documentation: pg_dump (``--snapshot``), pg_restore,
  section 13.2.2 (snapshot import).

The chain is recomputed by the audit service (:func:`oligotrial.service.audit.verify`), the
same check as ``oligotrial audit verify``; checkpoints signed after the copy was taken are
notes, not failures. A restore whose chain verifies signs a restore checkpoint (the backup's
head and the time) into the live checkpoint log (:func:`oligotrial.service.audit.record_restore`):
``audit verify`` then passes with the live keys, and reads the checkpoints the restore rolled
back as information.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import make_url

from oligotrial.adapters.db.engine import make_engine, normalise_url
from oligotrial.errors import StorageError


def _sqlite_path(url: str) -> Path:
    path = make_url(normalise_url(url)).database
    if not path or path == ":memory:":
        raise StorageError(
            f"database_url {url!r}: an in-memory database has nothing to back up; expected sqlite:///PATH",
            field="database_url",
        )
    return Path(path)


def _libpq_url(url: str) -> str:
    u = make_url(normalise_url(url)).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise StorageError(
            f"{name}: not found on PATH; expected the PostgreSQL client tools (Debian: "
            "apt-get install postgresql-client)",
            field=name,
        )
    return found


def _verify(ctx: Any) -> Any:
    """The copy's chain report: checkpoints signed after the copy was taken (the live chain went
    on) are reported as notes, not as a truncation."""
    from oligotrial.service import audit

    return audit.verify(ctx, later_ok=True)


def _record_restore(ctx: Any, path: Path) -> Any:
    """Verify the restored chain and sign the restore checkpoint (the backup's head, the time)
    into the checkpoint log, so that ``audit verify`` with the live keys reads the checkpoints
    signed after the backup as rolled back by this restore (:func:`oligotrial.service.audit.record_restore`)."""
    from oligotrial.service import audit

    rep, cp = audit.record_restore(ctx, f"backup {path.name}")
    if cp is not None:
        rep.notes.insert(
            0, f"restore checkpoint signed: seq {cp['seq']} hash {cp['hash']} at {cp['at']} ({cp.get('note')})"
        )
    return rep


def _ctx_on(ctx: Any, engine: Any) -> Any:
    from oligotrial.adapters.db.repository import SqlUnitOfWorkFactory

    return dataclasses.replace(ctx, uow=SqlUnitOfWorkFactory(engine))


def _refuse_existing(path: Path) -> None:
    if path.exists():
        raise StorageError(
            f"backup {path}: already exists; expected a new file (a backup is never overwritten)", field="path"
        )


# ---- SQLite --------------------------------------------------------------------------------------


def _sqlite_backup(settings: Any, ctx: Any, path: Path) -> Any:
    src_path = _sqlite_path(settings.database_url)
    if not src_path.exists():
        raise StorageError(f"database {src_path}: does not exist; nothing to back up", field="database_url")
    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(src_path, timeout=60)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)  # pages=-1: one step, one consistent read of the whole database
    finally:
        dst.close()
        src.close()
    report = _sqlite_report(ctx, tmp)
    if not report.ok:
        tmp.unlink(missing_ok=True)
        return report
    os.replace(tmp, path)
    return report


def _sqlite_report(ctx: Any, path: Path) -> Any:
    engine = make_engine(f"sqlite:///{path}")
    try:
        return _verify(_ctx_on(ctx, engine))
    finally:
        engine.dispose()


def _sqlite_tables(path: Path) -> list[str]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        con.close()


def _sqlite_restore(settings: Any, ctx: Any, path: Path) -> Any:
    target = _sqlite_path(settings.database_url)
    tables = _sqlite_tables(target)
    if tables:
        raise StorageError(
            f"database {target}: holds {len(tables)} table(s) ({', '.join(sorted(tables)[:5])}); "
            "expected an empty database to restore into",
            field="database_url",
        )
    report = _sqlite_report(ctx, path)
    if not report.ok:
        return report
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    engine = make_engine(f"sqlite:///{target}")
    try:
        return _record_restore(_ctx_on(ctx, engine), path)
    finally:
        engine.dispose()


# ---- PostgreSQL ----------------------------------------------------------------------------------


def _snapshot_engine(settings: Any, snapshot: str) -> Any:
    """An engine whose every transaction reads ``snapshot`` (REPEATABLE READ, imported)."""
    engine = make_engine(settings.database_url, schema=settings.database_schema, pool_size=1, ping_after_idle_s=3600)

    @event.listens_for(engine, "begin")
    def _import_snapshot(conn: Any) -> None:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")

    return engine


def _pg_backup(settings: Any, ctx: Any, path: Path) -> Any:
    import psycopg

    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    cmd = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={tmp}"]
    if settings.database_schema:
        cmd.append(f"--schema={settings.database_schema}")
    with psycopg.connect(_libpq_url(settings.database_url), autocommit=True) as holder:
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")  # explicit: the snapshot's owner
        exported = holder.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None  # the function returns one row
        snapshot = exported[0]
        engine = _snapshot_engine(settings, snapshot)
        try:
            report = _verify(_ctx_on(ctx, engine))
        finally:
            engine.dispose()
        if not report.ok:
            return report
        done = subprocess.run(
            [*cmd, f"--snapshot={snapshot}", f"--dbname={_libpq_url(settings.database_url)}"],
            capture_output=True,
            text=True,
            check=False,  # the return code is read below
        )
        holder.execute("ROLLBACK")
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"pg_dump: exit {done.returncode}: {done.stderr.strip()[:500]}", field="pg_dump")
    os.replace(tmp, path)
    return report


def _pg_tables(settings: Any) -> list[str]:
    engine = make_engine(settings.database_url, schema=settings.database_schema, pool_size=1)
    try:
        return inspect(engine).get_table_names(schema=settings.database_schema)
    finally:
        engine.dispose()


def _pg_restore(settings: Any, ctx: Any, path: Path) -> Any:
    tables = _pg_tables(settings)
    if tables:
        where = settings.database_schema or "the default schema"
        raise StorageError(
            f"database: {where} holds {len(tables)} table(s) ({', '.join(sorted(tables)[:5])}); "
            "expected an empty database to restore into",
            field="database_url",
        )
    listing = subprocess.run([_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise StorageError(
            f"backup {path}: not a pg_dump custom-format archive ({listing.stderr.strip()[:300]})", field="path"
        )
    done = subprocess.run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={_libpq_url(settings.database_url)}",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,  # the return code is read below
    )
    if done.returncode != 0:
        raise StorageError(f"pg_restore: exit {done.returncode}: {done.stderr.strip()[:500]}", field="pg_restore")
    engine = make_engine(settings.database_url, schema=settings.database_schema, pool_size=1)
    try:
        return _record_restore(_ctx_on(ctx, engine), path)
    finally:
        engine.dispose()


# ---- entry points --------------------------------------------------------------------------------


def backup(settings: Any, ctx: Any, path: str | Path) -> Any:
    """Write a backup of the settings' database to ``path`` (a new file) and return the audit
    chain report of the data copied; when the chain does not verify, no file is left and the
    report says why."""
    target = Path(path)
    _refuse_existing(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if settings.database_url.startswith("sqlite"):
        return _sqlite_backup(settings, ctx, target)
    return _pg_backup(settings, ctx, target)


def restore(settings: Any, ctx: Any, path: str | Path) -> Any:
    """Restore the backup at ``path`` into the settings' database, which must hold no table yet,
    and return the audit chain report of the restored data (on SQLite a backup whose chain does
    not verify is not restored at all)."""
    source = Path(path)
    if not source.is_file():
        raise StorageError(f"backup {source}: not found", field="path")
    if settings.database_url.startswith("sqlite"):
        return _sqlite_restore(settings, ctx, source)
    return _pg_restore(settings, ctx, source)

"""Issue 19 item 6: backups that restore, on SQLite and PostgreSQL.

A writer thread registers participants while ``backup`` runs; the backup is restored into a
fresh, empty database; the audit chain of the restored data verifies, and every write
acknowledged before the backup started is there. Restore refuses a database that holds
tables; backup refuses to overwrite a file. Before this there was no backup command at all
(``oligotrial db`` had ``upgrade`` only)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import pytest
from typer.testing import CliRunner

from hostile_app import PG_URL, RECORD, TRIAL, settings_for
from oligotrial.adapters.cli.main import app as cli
from trialops_db import fake_screener, require_postgres

runner = CliRunner()


@contextlib.contextmanager
def _fresh_target(backend: str, tmp_path, source_settings):
    """Settings of an empty database to restore into: a new SQLite file, or a new PostgreSQL
    database (the dump recreates the source's schema there). The audit keys are the source's:
    they are kept outside the database, so outside its backup, by design."""
    from oligotrial.adapters.db.anchor import default_key_dir
    from oligotrial.config import Settings

    keys = source_settings.audit_key_dir or str(default_key_dir(source_settings.database_url,
                                                                source_settings.database_schema))
    if backend == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'restored.db'}", audit_key_dir=keys)
        return
    import psycopg

    name = f"ot_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=PG_URL.rsplit("/", 1)[0] + f"/{name}",
                       database_schema=source_settings.database_schema, audit_key_dir=keys)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _container(settings, migrate=True):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    return bootstrap(settings, migrate=migrate, screener=fake_screener(), hasher=Argon2Hasher(fast=True))


def _actor(c):
    from oligotrial.service import users

    users.add_user(c.ctx, "writer", "writer-password-1", "coordinator", TRIAL)
    return users.actor_for(c.ctx, users.authenticate(c.ctx, "writer", "writer-password-1").id)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_backup_taken_under_write_load_restores_with_every_acknowledged_write_and_a_sound_chain(backend,
                                                                                                   tmp_path):
    from oligotrial.adapters.db.backup import backup, restore
    from oligotrial.service import enrolment

    with settings_for(backend, tmp_path, name="live") as settings:
        live = _container(settings)
        try:
            actor = _actor(live)
            acknowledged: list[str] = []
            stop = threading.Event()
            failures: list[BaseException] = []

            def write() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        enrolment.register(live.ctx, actor, TRIAL, {**RECORD, "id": f"W-{n:05d}"})
                    except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                        failures.append(exc)
                        return
                    acknowledged.append(f"W-{n:05d}")

            writer = threading.Thread(target=write)
            writer.start()
            try:
                while len(acknowledged) < 10 and writer.is_alive():
                    time.sleep(0.01)
                before = list(acknowledged)  # acknowledged before the backup started
                path = tmp_path / "trial.backup"
                report = backup(settings, live.ctx, path)
                during = len(acknowledged) - len(before)
            finally:
                stop.set()
                writer.join()
            assert not failures, failures
            assert report.ok and report.checked > len(before), report.to_dict()
            assert during > 0 or backend == "sqlite", "the writer kept writing while pg_dump ran"
            with pytest.raises(Exception, match="already exists"):
                backup(settings, live.ctx, path)
            with pytest.raises(Exception, match="expected an empty database"):
                restore(settings, live.ctx, path)  # the live database holds tables
        finally:
            live.dispose()

        with _fresh_target(backend, tmp_path, settings) as target:
            fresh = _container(target, migrate=False)
            try:
                restored = restore(target, fresh.ctx, path)
                assert restored.ok and restored.checked == report.checked, restored.to_dict()
                with fresh.ctx.uow() as uow:
                    ids = {p.external_id for p in uow.participants.list_participants(TRIAL)}
                assert set(before) <= ids, sorted(set(before) - ids)[:5]
                from oligotrial.service import audit

                assert audit.verify(fresh.ctx).ok
            finally:
                fresh.dispose()


def test_the_db_commands_back_up_and_restore_through_the_cli(tmp_path, monkeypatch):
    live = tmp_path / "live.db"
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{live}")
    monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", str(tmp_path / "audit-keys"))  # kept apart from the data
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(cli, ["users", "add", "--username", "cc", "--role", "coordinator", "--trial", "STOP-2"],
                      input="a-long-password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["db", "backup", str(tmp_path / "b1.sqlite")])
    assert r.exit_code == 0 and "audit chain intact" in r.output, r.output
    r = runner.invoke(cli, ["db", "backup", str(tmp_path / "b1.sqlite")])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(cli, ["db", "restore", str(tmp_path / "b1.sqlite")])
    assert r.exit_code == 2 and "expected an empty database" in r.output
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    r = runner.invoke(cli, ["db", "restore", str(tmp_path / "b1.sqlite")])
    assert r.exit_code == 0 and "audit chain intact" in r.output, r.output
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0 and "intact" in r.output, r.output
    # restored under other audit keys, every entry fails its keyed digest: exit 1, and the hint
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", str(tmp_path / "other-keys"))
    r = runner.invoke(cli, ["db", "restore", str(tmp_path / "b1.sqlite")])
    assert r.exit_code == 1 and "BROKEN" in r.output and "OLIGOTRIAL_AUDIT_KEY_DIR" in r.output, r.output


def test_a_backup_whose_chain_is_broken_is_refused_and_no_file_is_left(tmp_path, monkeypatch):
    import sqlite3

    live = tmp_path / "live.db"
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{live}")
    r = runner.invoke(cli, ["users", "add", "--username", "cc", "--role", "coordinator", "--trial", "STOP-2"],
                      input="a-long-password\n")
    assert r.exit_code == 0, r.output
    con = sqlite3.connect(live)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    con.commit()
    con.close()
    r = runner.invoke(cli, ["db", "backup", str(tmp_path / "b.sqlite")])
    assert r.exit_code == 1 and "NOT written" in r.output, r.output
    assert not (tmp_path / "b.sqlite").exists()


@pytest.mark.postgres
def test_postgres_client_tools_are_there():
    """pg_dump and pg_restore come with the PostgreSQL the tests use (scripts/test.sh installs
    Debian's postgresql, which depends on postgresql-client)."""
    import shutil

    require_postgres()
    assert shutil.which("pg_dump") and shutil.which("pg_restore")

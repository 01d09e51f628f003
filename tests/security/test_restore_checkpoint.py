"""Issue 26 item 5: "A legitimate restore looks like an attack. Restoring a backup with the live
checkpoint log fails `audit verify` 9 times out of 9 (it sees a rollback). The restore records
itself (a signed restore checkpoint naming the backup's head), verifies against it."

A backup is taken under write load; the live chain goes on and is checkpointed past the backup;
the backup is restored into an empty database with the live keys: the restore signs a restore
checkpoint (the backup's head seq and hash, the time), ``audit verify`` passes and reads the
checkpoints signed after the backup as rolled back by that restore. A rollback that no signed
restore explains still fails."""

from __future__ import annotations

import threading
import time

import pytest
from test_backup_restore import _actor, _container, _fresh_target
from typer.testing import CliRunner

from hostile_app import RECORD, TRIAL, settings_for
from oligotrial.service import audit, enrolment
from owner_db import as_owner, rows

BACKENDS = ["sqlite", "postgres"]


def _writes(c, actor, prefix: str, n: int) -> None:
    for k in range(n):
        enrolment.register(c.ctx, actor, TRIAL, {**RECORD, "id": f"{prefix}-{k:04d}"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_restore_under_the_live_checkpoint_log_records_itself_and_verifies(backend, tmp_path):
    from oligotrial.adapters.db.backup import backup, restore

    with settings_for(backend, tmp_path, name="live", audit_key_dir=str(tmp_path / "keys")) as settings:
        live = _container(settings)
        try:
            actor = _actor(live)
            stop, failures = threading.Event(), []

            def write() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    try:
                        enrolment.register(live.ctx, actor, TRIAL, {**RECORD, "id": f"W-{n:05d}"})
                    except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                        failures.append(exc)
                        return

            writer = threading.Thread(target=write)
            writer.start()
            try:
                time.sleep(0.3)
                path = tmp_path / "trial.backup"
                taken = backup(settings, live.ctx, path)  # under write load
            finally:
                stop.set()
                writer.join()
            assert not failures and taken.ok, (failures, taken.to_dict())
            _writes(live, actor, "L", 3)  # the live chain goes on past the backup ...
            after = audit.checkpoint(live.ctx)  # ... and is signed there
            assert after["seq"] > taken.last_seq
        finally:
            live.dispose()

        with _fresh_target(backend, tmp_path, settings) as target:
            fresh = _container(target, migrate=False)
            try:
                restored = restore(target, fresh.ctx, path)
                assert restored.ok and restored.last_seq == taken.last_seq, restored.to_dict()
                cp = fresh.ctx.anchor.checkpoints()[-1]
                head = rows(fresh)[-1]
                assert cp["kind"] == "restore" and (cp["seq"], cp["hash"]) == (head["seq"], head["hash"])
                assert cp["note"] == "backup trial.backup" and cp["seq"] == taken.last_seq
                rep = audit.verify(fresh.ctx)  # with the live keys and the live checkpoint log
                assert rep.ok, rep.to_dict()
                assert any(f"checkpoint at seq {after['seq']}" in n and f"rolled back by the restore of {cp['at']}"
                           in n for n in rep.notes), rep.notes
                # the restored database goes on; its checkpoints follow the restore's
                actor2 = _actor_of(fresh)
                _writes(fresh, actor2, "R", 2)
                nxt = audit.checkpoint(fresh.ctx)
                assert nxt["seq"] > cp["seq"] and audit.verify(fresh.ctx).ok
                # a rollback no signed restore explains still fails: the owner truncates to the restore
                keep = next(r for r in rows(fresh) if r["seq"] == cp["seq"])
                as_owner(fresh, "DELETE FROM audit_log WHERE seq > :k",
                         "UPDATE audit_head SET last_seq = :k, last_hash = :h",
                         params={"k": keep["seq"], "h": keep["hash"]})
                rep = audit.verify(fresh.ctx)
                assert not rep.ok and any(f"checkpoint at seq {nxt['seq']}" in p for p in rep.checkpoint_problems)
            finally:
                fresh.dispose()


def _actor_of(c):
    from oligotrial.service import users

    return users.actor_for(c.ctx, users.authenticate(c.ctx, "writer", "writer-password-1").id)


def test_an_unsigned_rollback_to_a_backup_fails_and_db_restore_prints_its_checkpoint(tmp_path, monkeypatch):
    """The same backup copied into place by other means than ``oligotrial db restore`` (no restore
    checkpoint) is a rollback: ``audit verify`` fails; ``db restore`` of it passes and says what it
    signed and what it rolled back."""
    import sqlite3

    from oligotrial.adapters.cli.main import app as cli

    runner = CliRunner()
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    monkeypatch.setenv("OLIGOTRIAL_AUDIT_KEY_DIR", str(tmp_path / "keys"))
    for name in ("cc", "dd"):
        r = runner.invoke(cli, ["users", "add", "--username", name, "--role", "coordinator", "--trial", "STOP-2"],
                          input="a-long-password\n")
        assert r.exit_code == 0, r.output
    assert runner.invoke(cli, ["db", "backup", str(tmp_path / "b.sqlite")]).exit_code == 0
    r = runner.invoke(cli, ["users", "add", "--username", "ee", "--role", "coordinator", "--trial", "STOP-2"],
                      input="a-long-password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["audit", "checkpoint"])
    assert r.exit_code == 0, r.output
    # by other means: the backup file copied into place
    src, dst = sqlite3.connect(tmp_path / "b.sqlite"), sqlite3.connect(tmp_path / "copied.db")
    src.backup(dst)
    src.close()
    dst.close()
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'copied.db'}")
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 1 and "BROKEN" in r.output and "the entry is missing" in r.output, r.output
    # through the restore command: signed, verified, and the rolled-back checkpoint named
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'restored.db'}")
    r = runner.invoke(cli, ["db", "restore", str(tmp_path / "b.sqlite")])
    assert r.exit_code == 0 and "restore checkpoint signed: seq" in r.output, r.output
    assert "rolled back by the restore of" in r.output, r.output
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0 and "intact" in r.output and "rolled back by the restore" in r.output, r.output

"""The operations CLI through typer's runner: db upgrade, users add, randomization generate and
verify, audit verify (including a tampered chain)."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app

runner = CliRunner()


def test_operations_commands(tmp_path, monkeypatch):
    db = tmp_path / "cli.db"
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{db}")
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0 and "0006_audit" in r.output  # the head revision
    r = runner.invoke(app, ["users", "add", "--username", "cc", "--role", "coordinator", "--trial", "STOP-2"],
                      input="a-long-password\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "--username", "x", "--role", "emperor", "--trial", "STOP-2"],
                      input="a-long-password\n")
    assert r.exit_code == 2 and "role" in r.output
    r = runner.invoke(app, ["randomization", "generate", "--trial", "STOP-2", "--seed", "1", "--size", "20"])
    assert r.exit_code == 0 and "commitment sha256:" in r.output
    r = runner.invoke(app, ["randomization", "generate", "--trial", "STOP-2"])
    assert r.exit_code == 1 and "already exists" in r.output
    assert runner.invoke(app, ["randomization", "verify", "--trial", "STOP-2"]).exit_code == 0
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0 and "intact" in r.output
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    con.commit()
    con.close()
    r = runner.invoke(app, ["audit", "verify", "--json"])
    assert r.exit_code == 1 and '"altered": [1]' in r.output


def test_default_secret_refused_outside_development(tmp_path, monkeypatch):
    monkeypatch.setenv("OLIGOTRIAL_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("OLIGOTRIAL_ENVIRONMENT", "production")
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 2 and "secret_key" in r.output


def test_serve_is_registered():
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--port" in r.output and "--host" in r.output

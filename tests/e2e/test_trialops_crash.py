"""Crash: the server (uvicorn on 127.0.0.1) is SIGKILLed under write load and restarted;
every acknowledged write is present, nothing is half-written, the audit chain verifies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from trialops_db import PgSchema, require_postgres
from trialops_e2e import PG_URL, RECORD, TRIAL

SERVE = ("import sys; from oligotrial.adapters.cli.main import main; "
         "sys.argv = ['oligotrial', *sys.argv[1:]]; main()")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode())
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.fixture(params=["sqlite", "postgres"])
def server_env(request, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLIGOTRIAL_")}
    schema = None
    if request.param == "sqlite":
        env["OLIGOTRIAL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'crash.db'}"
    else:
        require_postgres()
        schema = PgSchema()
        env.update(OLIGOTRIAL_DATABASE_URL=PG_URL, OLIGOTRIAL_DATABASE_SCHEMA=schema.name,
                   OLIGOTRIAL_AUDIT_KEY_DIR=str(tmp_path / "keys"))  # not under ~/.local
    try:
        yield env
    finally:
        if schema is not None:
            schema.drop()


def test_sigkill_under_write_load_loses_no_acknowledged_write(server_env):
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.service import audit, users

    settings = Settings(database_url=server_env["OLIGOTRIAL_DATABASE_URL"],
                        database_schema=server_env.get("OLIGOTRIAL_DATABASE_SCHEMA"),
                        audit_key_dir=server_env.get("OLIGOTRIAL_AUDIT_KEY_DIR"))
    c = bootstrap(settings)
    users.add_user(c.ctx, "cc", "crash-password", "coordinator", TRIAL)
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    proc = _start(server_env, port)
    try:
        tok = httpx.post(f"{base}/auth/token", data={"username": "cc", "password": "crash-password"}).json()
        headers = {"Authorization": f"Bearer {tok['access_token']}"}
        acked: list[str] = []
        stop = threading.Event()
        lock = threading.Lock()

        def writer(w: int) -> None:
            n = 0
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    n += 1
                    try:
                        r = client.post(f"{base}/trials/{TRIAL}/participants", headers=headers,
                                        json={**RECORD, "id": f"W{w}-{n}"})
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        with lock:
                            acked.append(r.json()["id"])

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while len(acked) < 40 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
        assert len(acked) >= 40
        proc = _start(server_env, port)
        with httpx.Client(timeout=10, headers=headers) as client:
            for pid in acked:
                assert client.get(f"{base}/trials/{TRIAL}/participants/{pid}").status_code == 200, pid
            listed = client.get(f"{base}/trials/{TRIAL}/participants").json()
            rep = client.get(f"{base}/audit/verify").json()
        assert rep["ok"], rep
        # nothing half-written: each stored participant has exactly its audit entry, and back
        entries = [e for e in audit.trail(c.ctx, users.actor_for(c.ctx, 1), TRIAL)
                   if e["action"] == "participant.register"]
        assert sorted(e["entity_id"] for e in entries) == sorted(p["id"] for p in listed)
    finally:
        proc.kill()
        proc.wait(10)
        c.dispose()

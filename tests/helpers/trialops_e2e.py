"""Shared by the e2e and security tests: constants, the FastAPI app on a fresh database of each
backend (SQLite file, PostgreSQL schema) with one user per role in STOP-2 and a generated list,
and the logged-in API client helper."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trialops_db import PgSchema, StudyClock, fake_screener, require_postgres

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
PASSWORD = "role-password-1"
#: a course that fits each STOP-2 arm's registered regimen (8 Gy/1; SABR 16-60 Gy in 1-8 fractions)
RT_FOR_ARM = {
    "palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
    "sabr": {"dose_gy": 37.5, "fractions": 5, "technique": "SABR"},
}
PG_URL = os.environ.get("OLIGOTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class Api:
    def __init__(self, client, container, clock: StudyClock | None = None) -> None:
        self.client = client
        self.container = container
        self.clock = clock
        self._tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            r = self.client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    def call(self, method: str, path: str, user: str, **kw):
        return self.client.request(method, path, headers=self.headers(user), **kw)

    def enrolled(self, n: int, user: str = "coordinator") -> str:
        base = f"/api/v1/trials/{TRIAL}/participants"
        r = self.call("POST", base, user, json={**RECORD, "id": f"P-{n:04d}"})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        assert self.call("POST", f"{base}/{pid}/screen", user, json={}).status_code == 200
        assert (
            self.call(
                "POST", f"{base}/{pid}/consent", user, json={"date": "2026-03-01", "form_version": "v2"}
            ).status_code
            == 200
        )
        assert self.call("POST", f"{base}/{pid}/enrol", user, json={}).status_code == 200
        return pid


@contextlib.contextmanager
def settings_for(backend: str, tmp_path: Path, name: str = "sec", **overrides: Any) -> Iterator[Any]:
    """Settings of a fresh database of ``backend`` (``sqlite`` or ``postgres``)."""
    from oligotrial.config import Settings

    if backend == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / f'{name}.db'}", **overrides)
        return
    require_postgres()
    schema = PgSchema()
    try:
        yield Settings(
            database_url=PG_URL,
            database_schema=schema.name,
            db_pool_size=5,
            **{"audit_key_dir": str(tmp_path / f"{name}.keys"), **overrides},
        )
    finally:
        schema.drop()


@contextlib.contextmanager
def app_on(backend: str, tmp_path: Path, **overrides: Any) -> Iterator[Api]:
    """An :class:`Api` (logged-in client helper) over the app on a fresh ``backend`` database:
    the server's clock a :class:`StudyClock`, a fake screener, a fast password hasher, an account
    per role of STOP-2 (password :data:`PASSWORD`) and a generated randomization list."""
    from fastapi.testclient import TestClient

    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.adapters.web.app import create_app
    from oligotrial.bootstrap import bootstrap
    from oligotrial.domain.trial.blinding import ROLES
    from oligotrial.service import randomization, users

    with settings_for(backend, tmp_path, **overrides) as settings:
        clock = StudyClock()
        c = bootstrap(settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
        try:
            for role in ROLES:
                users.add_user(c.ctx, role, PASSWORD, role, "*" if role == "admin" else TRIAL)
            randomization.generate_list(c.ctx, TRIAL, seed=77, size_per_stratum=60)
            with TestClient(create_app(c), raise_server_exceptions=False) as client:
                yield Api(client, c, clock)
        finally:
            c.dispose()

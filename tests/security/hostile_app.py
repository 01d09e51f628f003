"""Shared by the input, access and backup attack tests: the FastAPI app on a fresh database of
each backend (SQLite file, PostgreSQL schema), one user per role in STOP-2, a generated list,
and helpers to send raw JSON (lone surrogates and NaN cannot be sent through ``json=``) and to
count what a request stored."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

_TESTS = Path(__file__).parents[1]
for _dir in ("integration", "e2e"):
    if str(_TESTS / _dir) not in sys.path:
        sys.path.insert(0, str(_TESTS / _dir))

from trialops_db import PG_URL, PgSchema, fake_screener, require_postgres
from trialops_e2e import PASSWORD, RECORD, RT_FOR_ARM, TRIAL, Api, StudyClock

BASE = f"/api/v1/trials/{TRIAL}/participants"
#: the tables a write touches; a refused request leaves each count unchanged
TABLES = ("participants", "clinical_entries", "audit_log", "allocations", "visits", "notifications")

__all__ = ["BASE", "PASSWORD", "PG_URL", "RECORD", "RT_FOR_ARM", "TRIAL", "Api", "api", "app_on", "counts",
           "raw", "settings_for"]


@contextlib.contextmanager
def settings_for(backend: str, tmp_path: Path, name: str = "sec", **overrides: Any):
    """Settings of a fresh database of ``backend`` (``sqlite`` or ``postgres``)."""
    from oligotrial.config import Settings

    if backend == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / f'{name}.db'}", **overrides)
        return
    require_postgres()
    schema = PgSchema()
    try:
        yield Settings(database_url=PG_URL, database_schema=schema.name, db_pool_size=5,
                       **{"audit_key_dir": str(tmp_path / f"{name}.keys"), **overrides})
    finally:
        schema.drop()


@contextlib.contextmanager
def app_on(backend: str, tmp_path: Path, **overrides: Any):
    """An :class:`Api` (logged-in client helper) over the app on a fresh ``backend`` database."""
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


@pytest.fixture(params=["sqlite", "postgres"])
def api(request, tmp_path):
    with app_on(request.param, tmp_path) as a:
        yield a


def raw(api: Api, method: str, path: str, user: str, body: Any, **kw: Any):
    """Send ``body`` as JSON text written by Python (NaN, Infinity and lone surrogates, as
    ``\\udXXX`` escapes, pass through; a ``bytes`` body is sent as is)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**api.headers(user), "Content-Type": "application/json"}
    return api.client.request(method, path, headers=headers, content=content, **kw)


def counts(api: Api) -> dict[str, int]:
    """Rows per table that a write touches."""
    with api.container.ctx.uow() as uow:
        return {t: uow.session.count(t) for t in TABLES}

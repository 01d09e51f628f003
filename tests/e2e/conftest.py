"""End-to-end fixtures: the FastAPI app on a fresh database (SQLite and PostgreSQL), one user
per role in STOP-2, a generated list, and helpers to log in and walk the workflow."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from trialops_db import PgSchema, fake_screener, require_postgres
from trialops_e2e import PASSWORD, PG_URL, TRIAL, Api, StudyClock

from oligotrial.domain.trial.blinding import ROLES


def _make_api(settings, clock=None):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.adapters.web.app import create_app
    from oligotrial.bootstrap import bootstrap
    from oligotrial.service import randomization, users

    c = bootstrap(settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    for role in ROLES:
        users.add_user(c.ctx, role, PASSWORD, role, "*" if role == "admin" else TRIAL)
    randomization.generate_list(c.ctx, TRIAL, seed=77, size_per_stratum=60)
    return c, TestClient(create_app(c), raise_server_exceptions=False)


@pytest.fixture(params=["sqlite", "postgres"])
def api(request, tmp_path):
    from oligotrial.config import Settings

    schema = None
    if request.param == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'api.db'}")
    else:
        require_postgres()
        schema = PgSchema()
        settings = Settings(database_url=PG_URL, database_schema=schema.name, db_pool_size=5,
                            audit_key_dir=str(tmp_path / "keys"))
    clock = StudyClock()
    c, client = _make_api(settings, clock)
    try:
        with client:
            yield Api(client, c, clock)
    finally:
        c.dispose()
        if schema is not None:
            schema.drop()


@pytest.fixture
def sqlite_api(tmp_path):
    from oligotrial.config import Settings

    clock = StudyClock()
    c, client = _make_api(Settings(database_url=f"sqlite:///{tmp_path / 'api.db'}"), clock)
    try:
        with client:
            yield Api(client, c, clock)
    finally:
        c.dispose()

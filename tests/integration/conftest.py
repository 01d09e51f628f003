"""Integration fixtures: a fresh database per test on SQLite (temp file) and PostgreSQL (own schema)."""

from __future__ import annotations

import pytest

from trialops_db import PG_URL, PgSchema, fake_screener, require_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request, tmp_path):
    """Settings for a fresh, migrated-on-bootstrap database of each backend."""
    from oligotrial.config import Settings

    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'trial.db'}")
        return
    require_postgres()
    schema = PgSchema()
    try:
        yield Settings(database_url=PG_URL, database_schema=schema.name, db_pool_size=10,
                       audit_key_dir=str(tmp_path / "keys"))
    finally:
        schema.drop()


@pytest.fixture
def pg_settings(tmp_path):
    from oligotrial.config import Settings

    require_postgres()
    schema = PgSchema()
    try:
        yield Settings(database_url=PG_URL, database_schema=schema.name, db_pool_size=30,
                       audit_key_dir=str(tmp_path / "keys"))
    finally:
        schema.drop()


@pytest.fixture
def container(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True))
    try:
        yield c
    finally:
        c.dispose()

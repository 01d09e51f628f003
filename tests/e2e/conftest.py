"""End-to-end fixtures: the FastAPI app on a fresh database (SQLite and PostgreSQL), one user
per role in STOP-2, a generated list (``trialops_e2e.app_on``, in tests/helpers/)."""

from __future__ import annotations

import pytest

from trialops_e2e import app_on


@pytest.fixture(params=["sqlite", "postgres"])
def api(request, tmp_path):
    with app_on(request.param, tmp_path, name="api") as a:
        yield a


@pytest.fixture
def sqlite_api(tmp_path):
    with app_on("sqlite", tmp_path, name="api") as a:
        yield a

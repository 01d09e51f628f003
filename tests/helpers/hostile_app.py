"""Shared by the input, access and backup attack tests: the FastAPI app on a fresh database of
each backend (``app_on``, from trialops_e2e), the ``api`` fixture over both backends, and helpers to send raw JSON (lone surrogates and NaN cannot be sent through ``json=``) and to
count what a request stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from trialops_e2e import PASSWORD, PG_URL, RECORD, RT_FOR_ARM, TRIAL, Api, app_on, settings_for

BASE = f"/api/v1/trials/{TRIAL}/participants"
#: the tables a write touches; a refused request leaves each count unchanged
TABLES = ("participants", "clinical_entries", "audit_log", "allocations", "visits", "notifications")

__all__ = [
    "BASE",
    "PASSWORD",
    "PG_URL",
    "RECORD",
    "RT_FOR_ARM",
    "TRIAL",
    "Api",
    "api",
    "app_on",
    "counts",
    "raw",
    "settings_for",
]


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

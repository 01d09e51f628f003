"""Database helpers shared by the integration and e2e fixtures: a fresh database per test on SQLite (temp file) and on PostgreSQL
(its own schema, dropped afterwards). PostgreSQL comes from OLIGOTRIAL_TEST_POSTGRES_URL; when
it is unreachable the PostgreSQL cases fail under CI=true and skip (with the reason) otherwise."""

from __future__ import annotations

import datetime as dt
import functools
import os
import uuid

import pytest

PG_URL = os.environ.get("OLIGOTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def _pg_problem() -> str | None:
    """Why PostgreSQL cannot be used (None when it can), asked once, on the first PostgreSQL case:
    a run that selects none (``-m "not postgres"``, ``scripts/test.sh --fast``) never waits on it."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 -- any connection failure skips the PostgreSQL tests, naming why
        return f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}"


def require_postgres() -> None:
    problem = _pg_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {problem}")
    pytest.skip(problem)


class PgSchema:
    def __init__(self) -> None:
        import psycopg

        self.name = f"ot_{uuid.uuid4().hex[:12]}"
        self._psycopg = psycopg
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{self.name}"')

    def drop(self) -> None:
        with self._psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


class FakeOutcome:
    def __init__(self, verdict: str) -> None:
        self.verdict = verdict

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "criteria": []}


def fake_screener(verdict: str = "eligible"):
    def screen(patient, protocol, *, assume_attested=False):
        return FakeOutcome(verdict)
    return screen


class StudyClock:
    """The server's clock in these tests: the study calendar starts on 5 March 2026 (so the
    example records' March dates are in the past) and moves only when a test moves it, the way
    follow-up is entered as it happens."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.UTC)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(microseconds=1)
        return self.now

    def set(self, day: str) -> None:
        """Move the calendar to ``day`` (ISO date), never backwards."""
        target = dt.datetime.fromisoformat(day).replace(hour=9, tzinfo=dt.UTC)
        self.now = max(self.now, target)

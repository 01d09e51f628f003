"""Shared by the e2e tests: constants and the logged-in API client helper."""

from __future__ import annotations

import datetime as dt

import json
import os
from pathlib import Path

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
PASSWORD = "role-password-1"
#: a course that fits each STOP-2 arm's registered regimen (8 Gy/1; SABR 16-60 Gy in 1-8 fractions)
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 37.5, "fractions": 5, "technique": "SABR"}}
PG_URL = os.environ.get("OLIGOTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


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
        assert self.call("POST", f"{base}/{pid}/consent", user,
                         json={"date": "2026-03-01", "form_version": "v2"}).status_code == 200
        assert self.call("POST", f"{base}/{pid}/enrol", user, json={}).status_code == 200
        return pid



"""Shared by the e2e tests: constants and the logged-in API client helper."""

from __future__ import annotations

import json
import os
from pathlib import Path

from trialops_db import StudyClock  # the study calendar, shared with the integration tests

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
PASSWORD = "role-password-1"
#: a course that fits each STOP-2 arm's registered regimen (8 Gy/1; SABR 16-60 Gy in 1-8 fractions)
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 37.5, "fractions": 5, "technique": "SABR"}}
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
        assert self.call("POST", f"{base}/{pid}/consent", user,
                         json={"date": "2026-03-01", "form_version": "v2"}).status_code == 200
        assert self.call("POST", f"{base}/{pid}/enrol", user, json={}).status_code == 200
        return pid



"""Text the database cannot store is refused as bad input (422, the place named), the same on
SQLite and PostgreSQL: a NUL character anywhere, a record id longer than its column. On
PostgreSQL these used to reach the database and come back as 5xx."""

from __future__ import annotations

import pytest

from trialops_e2e import RECORD, TRIAL

BASE = f"/api/v1/trials/{TRIAL}/participants"


@pytest.mark.parametrize("body,field", [
    ({**RECORD, "id": "P-\u0000-1"}, "id"),
    ({**RECORD, "id": "P-" + "9" * 200}, "id"),
    ({**RECORD, "id": "P-2", "lesions": [{**RECORD["lesions"][0], "location": "right\u0000 lobe"},
                                         *RECORD["lesions"][1:]]}, "lesions[0].location"),
])
def test_register_refuses_text_the_database_cannot_store(api, body, field):
    r = api.call("POST", BASE, "coordinator", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert api.call("GET", BASE, "coordinator").json() == []


def test_nul_in_paths_forms_and_nested_bodies_is_422_never_5xx(api):
    pid = api.enrolled(1)
    cases = [
        ("GET", f"{BASE}/a%00b", None, "pid"),
        ("POST", f"{BASE}/{pid}/consent", {"date": "2026-03-01", "form_version": "v\u00002"}, "form_version"),
        ("POST", f"{BASE}/{pid}/adverse-events", {"date": "2026-03-20", "term": "Nausea", "grade": 1,
                                                  "specify": "x\u0000"}, "specify"),
        ("PUT", f"{BASE}/{pid}/record", {"record": RECORD, "reason": "typo\u0000"}, "reason"),
        ("POST", f"{BASE}/{pid}/unblind", {"reason": "anaphylaxis\u0000 now", "password": "x"}, "reason"),
    ]
    for method, url, body, field in cases:
        r = api.call(method, url, "coordinator", json=body) if body is not None else api.call(method, url, "coordinator")
        assert r.status_code == 422, (url, r.status_code, r.text)
        assert r.json()["field"] == field and r.json()["code"] == "nul_character"
    r = api.client.post("/api/v1/auth/token", data={"username": "coordinator\u0000", "password": "x"})
    assert r.status_code == 422 and r.json()["field"] == "username"
    assert api.call("GET", f"{BASE}/{pid}", "coordinator").json()["consent"]["form_version"] == "v2"

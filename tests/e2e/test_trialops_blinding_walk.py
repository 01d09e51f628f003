"""Blinding: every route, walked as each blinded role of STOP-2, reveals no arm information:
not in bodies, errors, audit views or counts by arm. (The one deliberate disclosure, a
successful emergency unblinding with a reason and the caller's password, is tested apart.)"""

from __future__ import annotations

import csv
import io
import re

import pytest

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.protocols import load_protocol
from trialops_e2e import RECORD, RT_FOR_ARM, TRIAL

STOP2 = load_protocol("STOP-2")
ARM_IDS = [a.id for a in STOP2.arms]
LABELS = [a.label for a in STOP2.arms]


def _bodies(path: str, method: str, pid_code: str) -> list:
    body = {
        "/participants": [{**RECORD, "id": "P-0900"}, {**RECORD, "birth_date": "bad"}],
        "/record": [{"record": {**RECORD, "id": "P-0001", "sex": "male"}, "reason": "correction by role"}],
        "/screen": [{}],
        "/consent": [{"date": "2026-03-01", "form_version": "v2"}],
        "/enrol": [{}],
        "/randomize": [{}, {"strata": {"x": "y"}}],
        "/unblind": [{"reason": "walk test: wrong password", "password": "wrong-password"}],
        "/radiotherapy": [{"start": "2026-03-10", "end": "2026-03-14", "dose_gy": 37.5, "fractions": 5,
                           "technique": "SABR"}],
        "/{code}": [{"date": "2026-04-07"}, {"date": "2030-01-01"}],
        "/adverse-events": [{"date": "2026-04-01", "term": "Fatigue", "grade": 1}],
        "/qol": [{"date": "2026-04-01", "instrument": "EQ-5D-5L", "responses": {"mobility": 1}}],
        "/assessments": [{"date": "2026-04-01", "modality": "CT"}],
        "/events": [{"date": "2026-04-01", "kind": "progression"}],
    }
    for suffix, bodies in body.items():
        if path.endswith(suffix):
            return bodies
    return [None]


@pytest.mark.parametrize("role", STOP2.masking.blinded_roles)
def test_blinded_role_walks_every_route_and_sees_no_arm(api, role):
    assert role in ("enrolling_oncologist", "statistician", "outcome_assessor")
    # participants in every state, randomized ones treated with arm-revealing radiotherapy
    # (each gets the course that fits their arm: 37.5 Gy/5 SABR or 8 Gy/1, checked on recording)
    treated = []
    for n in range(4):
        pid = api.enrolled(n + 1)
        r = api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/randomize", "coordinator", json={})
        assert r.status_code == 200
        end = "2026-03-14" if r.json()["arm"] == "sabr" else "2026-03-10"
        assert api.call("POST", f"/api/v1/trials/{TRIAL}/participants/{pid}/radiotherapy", "treating_oncologist",
                        json={"start": "2026-03-10", "end": end, **RT_FOR_ARM[r.json()["arm"]]}).status_code == 200
        treated.append(pid)
    waiting = api.enrolled(20)
    targets = [*treated, waiting, "no-such-participant"]
    seen = 0
    for path, ops in api.client.app.openapi()["paths"].items():
        if not path.startswith("/api/v1") or path == "/api/v1/auth/token":
            continue
        for method in sorted(m.upper() for m in ops):
            for pid in (targets if "{pid}" in path else [None]):
                url = path.replace("{trial}", TRIAL).replace("{pid}", pid or "").replace("{code}", "rt_toxicity_4w")
                for body in _bodies(path, method, pid or ""):
                    r = api.call(method, url, role, json=body) if body is not None else api.call(method, url, role)
                    assert r.status_code < 500, (method, url, r.text)
                    ctype = r.headers.get("content-type", "")
                    data = (r.json() if ctype.startswith("application/json") else
                            list(csv.DictReader(io.StringIO(r.text))) if ctype.startswith("text/csv") else r.text)
                    leaks = find_arm_information(data, ARM_IDS, LABELS)
                    assert leaks == [], (role, method, url, r.status_code, leaks)
                    text = r.text
                    assert not re.search(r"(?<![\d.:])37\.5(?!\d)", text), (role, method, url)
                    seen += 1
    assert seen > 60
    # the coordinating centre does see arms: the check above is not vacuous
    coord = api.call("GET", f"/api/v1/trials/{TRIAL}/participants/{treated[0]}", "coordinator").json()
    assert find_arm_information(coord, ARM_IDS, LABELS)
    dsmb = api.call("GET", f"/api/v1/trials/{TRIAL}", "dsmb").json()
    assert sum(dsmb["by_arm"].values()) >= 4  # the walk itself may randomize the waiting participant

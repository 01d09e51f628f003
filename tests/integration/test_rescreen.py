"""Protocol versions in the enrolment workflow, on SQLite and PostgreSQL, with the real screening
engine: a screening and an enrolment keep the version they were judged under; an amendment
never re-judges a participant by itself; re-screening under a named version is an explicit
action with a reason, which keeps the previous screening and is in the audit trail.

The amendment is the test fixture ``tests/data/protocol_amendments/NCT06918951_stop2_r2.yaml``
(STOP-2 2026-06-01.r2: ECOG 0-1 instead of 0-2, restaging within 8 weeks instead of 12, ...),
read through ``OLIGOTRIAL_PROTOCOL_DIRS``. The study calendar starts on 2026-03-05, when r1 is
the current version; r2 takes effect on 2026-06-01.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from oligotrial.errors import ProtocolError, RecordError, WorkflowError
from oligotrial.protocols import loader
from oligotrial.service import audit, enrolment
from oligotrial.service.ports import Actor
from trialops_db import StudyClock

AMENDMENTS = Path(__file__).parents[1] / "data" / "protocol_amendments"
TRIAL = "NCT06918951"
R1, R2 = "2025-12-15.r1", "2026-06-01.r2"
COORD = Actor("coord", {TRIAL: "coordinator"})
REASON = "Amendment r2 took effect on 2026-06-01 (ECOG 0-1); re-screen before randomization"


def _record(n: int) -> dict:
    """The STOP-2 eligible example with ECOG 2: eligible under r1 (ECOG 0-2), not under r2 (0-1)."""
    rec = json.loads(resources.files("oligotrial.examples").joinpath("stop2_eligible.json").read_text())
    rec["performance"] = [{**rec["performance"][0], "score": 2}]
    return {**rec, "id": f"RS-{n:04d}"}


@pytest.fixture
def study(db_settings, monkeypatch):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    monkeypatch.setenv(loader.ENV_DIRS, str(AMENDMENTS))
    clock = StudyClock()
    c = bootstrap(db_settings, hasher=Argon2Hasher(fast=True), clock=clock)  # the real screener
    try:
        yield c, clock
    finally:
        c.dispose()


def _screened(ctx, n: int = 1) -> str:
    pid = enrolment.register(ctx, COORD, TRIAL, _record(n))["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02", assume_attested=True)
    return pid


def _stored(ctx, pid):
    with ctx.uow() as uow:
        return uow.participants.get_participant(TRIAL, pid), uow.audit.audit_entries(TRIAL)


def test_screening_and_enrolment_store_the_version_current_on_the_study_date(study):
    c, _ = study
    ctx = c.ctx
    pid = _screened(ctx)
    p, trail = _stored(ctx, pid)
    assert p.screening["protocol_version"] == R1 and p.screening["verdict"] == "eligible"
    screen_entry = [e for e in trail if e["action"] == "participant.screen"][-1]
    assert screen_entry["new"]["protocol_version"] == R1
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-03", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    p, _ = _stored(ctx, pid)
    assert p.enrolment["protocol_version"] == R1


@pytest.mark.parametrize("reason", [None, "", "   ", "too short"])
def test_rescreen_without_a_reason_is_refused_and_stores_nothing(study, reason):
    c, clock = study
    ctx = c.ctx
    pid = _screened(ctx)
    clock.set("2026-06-02")
    before, trail = _stored(ctx, pid)
    with pytest.raises(RecordError) as e:
        enrolment.rescreen(ctx, COORD, TRIAL, pid, version=R2, reason=reason)
    assert e.value.field == "reason"
    after, trail_after = _stored(ctx, pid)
    assert after.screening == before.screening and len(trail_after) == len(trail)


def test_rescreen_under_an_unknown_or_not_yet_effective_version_is_refused(study):
    c, _ = study
    ctx = c.ctx
    pid = _screened(ctx)
    before, trail = _stored(ctx, pid)
    with pytest.raises(ProtocolError) as e:
        enrolment.rescreen(ctx, COORD, TRIAL, pid, version="2030-01-01.r9", reason=REASON)
    assert e.value.code == "protocol_version_not_found"
    with pytest.raises(WorkflowError) as e:  # the calendar is at 2026-03-05: r2 is not in effect yet
        enrolment.rescreen(ctx, COORD, TRIAL, pid, version=R2, reason=REASON)
    assert e.value.code == "version_not_in_effect"
    unscreened = enrolment.register(ctx, COORD, TRIAL, _record(2))["id"]
    with pytest.raises(WorkflowError) as e:
        enrolment.rescreen(ctx, COORD, TRIAL, unscreened, version=R1, reason=REASON)
    assert e.value.code == "not_screened"
    after, trail_after = _stored(ctx, pid)
    assert after.screening == before.screening
    assert len(trail_after) == len(trail) + 1  # only the registration of the second candidate


def test_an_amendment_does_not_silently_rejudge_a_screened_participant(study):
    c, clock = study
    ctx = c.ctx
    pid = _screened(ctx)
    clock.set("2026-06-02")  # r2 is now the current version
    before, trail = _stored(ctx, pid)
    with pytest.raises(WorkflowError) as e:
        enrolment.screen(ctx, COORD, TRIAL, pid, assume_attested=True)
    assert e.value.code == "rescreen_required" and R1 in e.value.message and R2 in e.value.message
    after, trail_after = _stored(ctx, pid)
    assert after.screening == before.screening and len(trail_after) == len(trail)
    # a candidate first screened now is screened under the current version
    fresh = enrolment.register(ctx, COORD, TRIAL, _record(3))["id"]
    view = enrolment.screen(ctx, COORD, TRIAL, fresh, assume_attested=True)
    assert view["screening"]["protocol_version"] == R2


def test_rescreen_with_a_reason_stores_the_new_version_keeps_the_old_screening_and_is_audited(study):
    c, clock = study
    ctx = c.ctx
    pid = _screened(ctx)
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-03", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    first, _ = _stored(ctx, pid)
    clock.set("2026-06-02")
    view = enrolment.rescreen(ctx, COORD, TRIAL, pid, version=R2, reason=REASON, assume_attested=True)
    assert view["screening"]["protocol_version"] == R2 and view["state"] == "enrolled"

    p, trail = _stored(ctx, pid)
    s = p.screening
    assert s["protocol_version"] == R2 and s["as_of"] == "2026-06-02"
    assert s["verdict"] == "ineligible"
    ecog = next(r for r in s["result"]["criteria"] if r["id"] == "STOP2-IN-05")
    assert ecog["verdict"] == "not_met"
    assert s["rescreen"] == {"reason": REASON, "by": "coord", "previous_protocol_version": R1}
    assert s["previous_screenings"] == [first.screening]
    # the participant stays enrolled under the version they were enrolled under
    assert p.state == "enrolled" and p.enrolment["protocol_version"] == R1

    entry = trail[-1]
    assert entry["action"] == "participant.rescreen" and entry["entity_id"] == pid
    assert entry["reason"] == REASON
    assert entry["old"] == {"verdict": "eligible", "protocol_version": R1, "as_of": "2026-03-02"}
    assert entry["new"] == {"verdict": "ineligible", "protocol_version": R2, "as_of": "2026-06-02"}

    # a second re-screening keeps both earlier screenings, oldest first
    enrolment.rescreen(ctx, COORD, TRIAL, pid, version=R1, reason="Checking the verdict under r1 again",
                       on="2026-03-02", assume_attested=True)
    p, trail = _stored(ctx, pid)
    assert p.screening["protocol_version"] == R1
    assert [x["protocol_version"] for x in p.screening["previous_screenings"]] == [R1, R2]
    assert "previous_screenings" not in p.screening["previous_screenings"][1]
    assert [e["action"] for e in trail].count("participant.rescreen") == 2
    assert audit.verify(ctx).ok


def test_rescreen_and_versions_routes(study):
    from fastapi.testclient import TestClient

    from oligotrial.adapters.web.app import create_app
    from oligotrial.service import users

    c, clock = study
    users.add_user(c.ctx, "coordinator", "a long test password", "coordinator", TRIAL)
    pid = _screened(c.ctx)
    with TestClient(create_app(c), raise_server_exceptions=False) as client:
        tok = client.post("/api/v1/auth/token", data={"username": "coordinator",
                                                       "password": "a long test password"}).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        r = client.get(f"/api/v1/trials/{TRIAL}/versions", headers=h)
        assert r.status_code == 200, r.text
        assert [v["version"] for v in r.json()["versions"]] == [R1, R2]
        assert r.json()["current_version"] == R1 and r.json()["versions"][1]["amends"] == R1
        url = f"/api/v1/trials/{TRIAL}/participants/{pid}/rescreen"
        r = client.post(url, headers=h, json={"version": R2, "reason": "short"})
        assert r.status_code == 422
        clock.set("2026-06-02")
        assert client.get(f"/api/v1/trials/{TRIAL}/versions", headers=h).json()["current_version"] == R2
        r = client.post(url, headers=h, json={"version": R2, "reason": REASON, "date": "2026-06-02"})
        assert r.status_code == 200, r.text
        assert r.json()["screening"]["protocol_version"] == R2
        assert r.json()["screening"]["previous_screenings"][0]["protocol_version"] == R1
        trail = client.get(f"/api/v1/trials/{TRIAL}/audit", headers=h).json()
        assert trail[-1]["action"] == "participant.rescreen" and trail[-1]["reason"] == REASON

"""The enrolment workflow with the real screening engine wired by bootstrap (no fake screener):
the stored verdict is the engine's, with the protocol version, and an ineligible participant
cannot be enrolled without a documented override."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from oligotrial.errors import WorkflowError
from oligotrial.service import enrolment
from oligotrial.service.ports import Actor

TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})


def _example(name: str) -> dict:
    rec = json.loads(resources.files("oligotrial.examples").joinpath(f"{name}.json").read_text())
    # STOP-2 EX-01 asks for the investigator's answer on other serious comorbidities (review fix)
    rec["attestations"] = list(rec.get("attestations") or []) + [
        {"key": "serious_comorbidity_precludes_radiotherapy", "value": False, "by": "Dr Review", "date": rec["as_of"]}]
    return rec


@pytest.fixture
def real_container(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    c = bootstrap(db_settings, hasher=Argon2Hasher(fast=True))
    try:
        yield c
    finally:
        c.dispose()


def _screened(ctx, name):
    record = _example(name)
    pid = enrolment.register(ctx, COORD, TRIAL, record)["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on=record["as_of"])  # screened on the day the example describes
    return pid


def test_the_server_screens_on_the_screening_date_not_the_records_own_date(real_container):
    """A record written months ago is judged as of the screening date (today unless given): the
    STOP-2 example's imaging is within the 12-week window on its own date and far outside it on
    today's, so today's screening must not pass the imaging criterion."""
    ctx = real_container.ctx
    record = _example("stop2_eligible")
    pid = enrolment.register(ctx, COORD, TRIAL, record)["id"]
    view = enrolment.screen(ctx, COORD, TRIAL, pid)
    today = ctx.today().isoformat()
    assert view["screening"]["as_of"] == today and today > record["as_of"]
    assert view["screening"]["verdict"] != "eligible"
    with ctx.uow() as uow:
        stored = uow.participants.get_participant(TRIAL, pid).screening
    assert stored["as_of"] == today
    windowed = [c for c in stored["result"]["criteria"] if c["verdict"] != "met" and "days before screening" in
                (c.get("reason") or "")]
    assert windowed, "a criterion with a window counted back from today's date"
    again = enrolment.screen(ctx, COORD, TRIAL, pid, on=record["as_of"])
    assert again["screening"]["verdict"] == "eligible" and again["screening"]["as_of"] == record["as_of"]


def test_real_engine_verdicts_are_stored_with_the_protocol_version(real_container):
    ctx = real_container.ctx
    from oligotrial.protocols import load_protocol

    version = load_protocol(TRIAL).version
    for name, verdict in (("stop2_eligible", "eligible"), ("stop2_ineligible", "ineligible")):
        pid = _screened(ctx, name)
        with ctx.uow() as uow:
            stored = uow.participants.get_participant(TRIAL, pid).screening
        assert stored["verdict"] == verdict and stored["protocol_version"] == version
        crit = {c["id"]: c["verdict"] for c in stored["result"]["criteria"]}
        assert crit["STOP2-IN-07"] == ("met" if verdict == "eligible" else "not_met")


def test_ineligible_by_the_real_engine_needs_an_override(real_container):
    ctx = real_container.ctx
    pid = _screened(ctx, "stop2_ineligible")
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    with pytest.raises(WorkflowError):
        enrolment.enrol(ctx, COORD, TRIAL, pid)

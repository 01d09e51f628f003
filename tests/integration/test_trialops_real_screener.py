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
    return json.loads(resources.files("oligotrial.examples").joinpath(f"{name}.json").read_text())


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
    pid = enrolment.register(ctx, COORD, TRIAL, _example(name))["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid)
    return pid


def test_real_engine_verdicts_are_stored_with_the_protocol_version(real_container):
    ctx = real_container.ctx
    from oligotrial.protocols import load_protocol

    version = load_protocol(TRIAL).version
    for name, verdict in (("stop2_eligible", "eligible"), ("stop2_ineligible", "ineligible")):
        pid = _screened(ctx, name)
        with ctx.uow() as uow:
            stored = uow.repo.get_participant(TRIAL, pid).screening
        assert stored["verdict"] == verdict and stored["protocol_version"] == version
        crit = {c["id"]: c["verdict"] for c in stored["result"]["criteria"]}
        assert crit["STOP2-IN-07"] == ("met" if verdict == "eligible" else "not_met")


def test_ineligible_by_the_real_engine_needs_an_override(real_container):
    ctx = real_container.ctx
    pid = _screened(ctx, "stop2_ineligible")
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    with pytest.raises(WorkflowError):
        enrolment.enrol(ctx, COORD, TRIAL, pid)

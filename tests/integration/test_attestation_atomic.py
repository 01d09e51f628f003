"""A clinician's attestation from the screening worklist is one transaction, on SQLite and
PostgreSQL: the record correction and the new screening are stored together or not at all
(a screening that fails leaves the record, the screening and the audit trail as they were),
and the attestation is added to the stored record as it is when the attestation is recorded
(read under the participant's row lock, in the same transaction as the write), so a correction
made by someone else since the coordinator's page was read is kept, not written over.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib import resources

import pytest

from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.service import audit, enrolment
from oligotrial.service import screening_worklist as sw
from oligotrial.service.ports import Actor
from trialops_db import StudyClock

TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
KEY = "life_expectancy_6_months"


def _record() -> dict:
    rec = json.loads(resources.files("oligotrial.examples").joinpath("stop2_eligible.json").read_text())
    rec["id"] = "AT-0001"
    rec["attestations"] = [a for a in rec["attestations"] if a["key"] != KEY]
    return rec


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    c = bootstrap(db_settings, hasher=Argon2Hasher(fast=True), clock=StudyClock())  # the real screener
    try:
        yield c
    finally:
        c.dispose()


def _attest(ctx, pid):
    return sw.attest(ctx, COORD, TRIAL, pid, {"key": KEY, "value": "yes", "by": "Dr Ames", "date": "2026-03-01",
                                              "reason": "tumour board minutes"})


def _state(ctx, pid):
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    return copy.deepcopy(view["record"]), copy.deepcopy(view["screening"]), len(audit.trail(ctx, COORD, TRIAL))


def test_a_screening_that_fails_leaves_the_record_and_the_trail_as_they_were(study):
    ctx = study.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, _record())["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid)
    before = _state(ctx, pid)
    assert before[1]["verdict"] == "needs_review"

    def broken(*args, **kw):
        raise RuntimeError("the screener failed half-way")

    with pytest.raises(RuntimeError):
        _attest(dataclasses.replace(ctx, screener=broken), pid)
    assert _state(ctx, pid) == before  # no corrected record without its screening, no audit entry

    out = _attest(ctx, pid)  # the same attestation, the screener working: both stored
    assert (out["before"]["verdict"], out["after"]["verdict"]) == ("needs_review", "eligible")
    record, screening, n = _state(ctx, pid)
    assert next(a for a in record["attestations"] if a["key"] == KEY)["by"] == "Dr Ames"
    assert screening["verdict"] == "eligible" and n == before[2] + 2


def test_a_correction_made_since_the_page_was_read_is_kept(study):
    ctx = study.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, _record())["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid)
    page = enrolment.get_participant(ctx, COORD, TRIAL, pid)  # what the coordinator's page showed
    # meanwhile a data manager corrects the ECOG score on the stored record
    fixed = copy.deepcopy(page["record"])
    fixed["performance"] = [{**fixed["performance"][0], "score": 0}]
    enrolment.correct_record(ctx, COORD, TRIAL, pid, {"record": fixed, "reason": "ECOG re-read from the letter"})
    _attest(ctx, pid)
    record = enrolment.get_participant(ctx, COORD, TRIAL, pid)["record"]
    assert record["performance"][0]["score"] == 0  # the other correction is kept
    assert any(a["key"] == KEY for a in record["attestations"])


def test_the_screening_is_the_engines_on_the_corrected_record(study):
    ctx = study.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, _record())["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid)
    out = _attest(ctx, pid)
    from oligotrial.domain.record.patient import parse_patient

    record = enrolment.get_participant(ctx, COORD, TRIAL, pid)["record"]
    protocol = ctx.load_protocol(TRIAL)
    expected = screen_patient(parse_patient({**record, "as_of": ctx.today().isoformat()}), protocol)
    assert out["after"]["verdict"] == expected.verdict == "eligible"

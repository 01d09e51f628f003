"""Closing and reopening a candidate's screening (issue 25 item 5), on SQLite and PostgreSQL:
"reason is exactly one of the three strings" (declined, not eligible, other); "A closed candidate
leaves the worklist; its participant view ... shows the reason and note; it appears in the
screening log with its reason and counts in CONSORT; reopen-screening ... reopens it."

CONSORT 2010 flow diagram (Schulz et al., BMJ 2010;340:c332, Figure 1), Enrollment: "Excluded
(n= ): Not meeting inclusion criteria (n= ), Declined to participate (n= ), Other reasons (n= )"."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.service import audit, consort, enrolment, randomization
from oligotrial.service import screening_worklist as sw
from oligotrial.service.ports import Actor
from trialops_db import StudyClock, fake_screener

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()),
          "events": []}
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
INVESTIGATOR = Actor("inv", {TRIAL: "enrolling_oncologist"})
DM = Actor("dm", {TRIAL: "data_manager"})
STAT = Actor("stat", {TRIAL: "statistician"})


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    clock = StudyClock()
    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    try:
        yield c.ctx, clock
    finally:
        c.dispose()


def _screened(ctx, rid: str) -> str:
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": rid})["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02")
    return pid


def _trail(ctx) -> list[dict]:
    with ctx.uow() as uow:
        return uow.audit.audit_entries(TRIAL)


def _flow(ctx):
    return consort.consort_flow(ctx, ctx.load_protocol(TRIAL), data_cut=dt.date(2026, 12, 31), arm_of={})


def test_a_closed_candidate_leaves_the_worklist_shows_why_is_logged_and_counts_in_consort(study):
    ctx, clock = study
    declined = _screened(ctx, "P-0001")
    other = _screened(ctx, "P-0002")
    unscreened = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-0003"})["id"]
    consented = _screened(ctx, "P-0004")
    enrolment.consent(ctx, COORD, TRIAL, consented, {"date": "2026-03-04", "form_version": "v2"})
    waiting = _screened(ctx, "P-0005")
    clock.set("2026-03-09")
    out = enrolment.close_screening(ctx, COORD, TRIAL, declined, {"reason": "declined", "note": "prefers no trial"})
    assert out["state"] == "screening_closed"
    assert {k: out["closure"][k] for k in ("reason", "note", "date", "by", "state", "verdict")} == {
        "reason": "declined", "note": "prefers no trial", "date": "2026-03-09", "by": "coord", "state": "screened",
        "verdict": "eligible"}
    enrolment.close_screening(ctx, INVESTIGATOR, TRIAL, other, {"reason": "other", "note": "moved abroad"})
    enrolment.close_screening(ctx, COORD, TRIAL, unscreened, {"reason": "not eligible"})  # no note needed
    enrolment.close_screening(ctx, COORD, TRIAL, consented, {"reason": "declined", "note": "changed their mind"})

    # leaves the worklist
    assert [r["id"] for r in sw.worklist(ctx, COORD, TRIAL)] == [waiting]
    # the participant view, read back from the database, shows the reason and note
    view = enrolment.get_participant(ctx, COORD, TRIAL, declined)
    assert view["state"] == "screening_closed"
    assert view["closure"]["reason"] == "declined" and view["closure"]["note"] == "prefers no trial"
    assert enrolment.get_participant(ctx, COORD, TRIAL, unscreened)["closure"]["note"] is None
    # the screening log: each closed candidate with its reason
    log = sw.screening_log(ctx, COORD, TRIAL)
    rows = {r["participant"]: r for r in log["rows"]}
    assert (rows["P-0001"]["closed_reason"], rows["P-0001"]["closed_note"], rows["P-0001"]["closed_on"]) == (
        "declined", "prefers no trial", "2026-03-09")
    assert rows["P-0003"]["closed_reason"] == "not eligible" and rows["P-0005"]["closed_reason"] == ""
    assert log["by_closure"] == {"declined": 2, "not eligible": 1, "other": 1}
    assert sorted(c["participant"] for c in log["closed"]) == ["P-0001", "P-0002", "P-0003", "P-0004"]
    # CONSORT: excluded, with its reason
    assert _flow(ctx)["not_randomized"]["reasons"] == {"declined": 2, "not eligible": 1, "other": 1,
                                                       "not yet decided at the data cut": 1}
    actions = [e["action"] for e in _trail(ctx)][-4:]
    assert actions == ["participant.not_enrolled"] * 4
    assert audit.verify(ctx).ok


def test_a_reopened_candidate_is_back_on_the_worklist_where_it_was_and_no_longer_excluded(study):
    ctx, clock = study
    pid = _screened(ctx, "P-0001")
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-04", "form_version": "v2"})
    enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "declined", "note": "wants to think"})
    assert _flow(ctx)["not_randomized"]["reasons"] == {"declined": 1}
    clock.set("2026-03-10")
    out = enrolment.reopen_screening(ctx, INVESTIGATOR, TRIAL, pid, {"reason": "called back: wishes to take part"})
    assert out["state"] == "consented" and out["closure"] is None  # back to the step reached
    assert [r["id"] for r in sw.worklist(ctx, COORD, TRIAL)] == [pid]
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["closure"] is None
    assert sw.screening_log(ctx, COORD, TRIAL)["by_closure"] == {}
    assert _flow(ctx)["not_randomized"]["reasons"] == {"not yet decided at the data cut": 1}
    last = _trail(ctx)[-1]
    assert last["action"] == "participant.screening_reopened" and last["reason"] == "called back: wishes to take part"
    assert last["old"]["reason"] == "declined" and last["new"] == {"state": "consented"}
    # and the workflow goes on
    assert enrolment.enrol(ctx, COORD, TRIAL, pid)["state"] == "enrolled"
    # a screening closed again after reopening counts once, with the newer reason
    other = _screened(ctx, "P-0002")
    enrolment.close_screening(ctx, COORD, TRIAL, other, {"reason": "declined"})
    enrolment.reopen_screening(ctx, COORD, TRIAL, other, {"reason": "entered in error"})
    assert enrolment.get_participant(ctx, COORD, TRIAL, other)["state"] == "screened"
    enrolment.close_screening(ctx, COORD, TRIAL, other, {"reason": "other", "note": "moved abroad"})
    assert _flow(ctx)["not_randomized"]["reasons"] == {"not yet decided at the data cut": 1, "other": 1}


def test_the_reason_is_exactly_one_of_three_and_a_refusal_stores_nothing(study):
    ctx, _clock = study
    pid = _screened(ctx, "P-0001")
    before = len(_trail(ctx))
    for bad in ("bored", "Declined", "declined ", "not_eligible", "", None, 3, ["declined"]):
        with pytest.raises(RecordError) as e:
            enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": bad})
        assert e.value.field == "reason" and "not eligible, declined, other" in e.value.message
    with pytest.raises(RecordError) as e:
        enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "other", "note": "x" * 501})
    assert e.value.field == "note"
    assert len(_trail(ctx)) == before
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["state"] == "screened"


def test_only_a_candidate_before_enrolment_is_closed_and_only_a_closed_one_reopened(study):
    ctx, _clock = study
    randomization.generate_list(ctx, TRIAL, seed=3, size_per_stratum=20)
    pid = _screened(ctx, "P-0001")
    with pytest.raises(WorkflowError) as e:
        enrolment.reopen_screening(ctx, COORD, TRIAL, pid, {"reason": "entered in error"})
    assert e.value.field == "state" and "screened" in e.value.message
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-04", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    with pytest.raises(WorkflowError) as e:
        enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "declined"})
    assert e.value.field == "state" and "enrolled" in e.value.message
    closed = _screened(ctx, "P-0002")
    enrolment.close_screening(ctx, COORD, TRIAL, closed, {"reason": "declined"})
    for step, call in (("consent", lambda: enrolment.consent(ctx, COORD, TRIAL, closed,
                                                             {"date": "2026-03-04", "form_version": "v2"})),
                       ("screen", lambda: enrolment.screen(ctx, COORD, TRIAL, closed)),
                       ("close again", lambda: enrolment.close_screening(ctx, COORD, TRIAL, closed,
                                                                         {"reason": "other"}))):
        with pytest.raises(WorkflowError) as e:
            call()
        assert e.value.field == "state" and "screening_closed" in e.value.message, step
    with pytest.raises(WorkflowError) as e:  # nor re-screened under another version while closed
        enrolment.rescreen(ctx, COORD, TRIAL, closed, version=ctx.load_protocol(TRIAL).version,
                           reason="amendment of the protocol")
    assert e.value.field == "state" and "screening_closed" in e.value.message
    with pytest.raises(RecordError) as e:
        enrolment.reopen_screening(ctx, COORD, TRIAL, closed, {"reason": ""})
    assert e.value.field == "reason"


def test_a_role_that_may_not_close_or_reopen_is_refused(study):
    ctx, _clock = study
    pid = _screened(ctx, "P-0001")
    for who in (DM, STAT):  # the data manager screens, but does not close a candidate
        with pytest.raises(BlindingError) as e:
            enrolment.close_screening(ctx, who, TRIAL, pid, {"reason": "declined"})
        assert e.value.code == "forbidden" and "close_screening" in e.value.message
    enrolment.close_screening(ctx, COORD, TRIAL, pid, {"reason": "declined"})
    with pytest.raises(BlindingError):
        enrolment.reopen_screening(ctx, DM, TRIAL, pid, {"reason": "entered in error"})
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["state"] == "screening_closed"

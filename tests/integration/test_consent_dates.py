"""Dates around consent (issue 25 item 4), on SQLite and PostgreSQL: "Consent must not be in the
future; nothing that needs consent may precede it; the consent date is correctable (PUT
.../participants/{pid}/consent {"date", "form_version", "reason"}), audited with old and new,
and a corrected date may not fall after anything that needs consent."

"Today" is the service's clock (StudyClock: 5 March 2026, moved by the tests). A consent dated in
the future used to be stored; the tests that plant one in the database (as the old code
stored it) show what such a participant now meets: every step that needs consent is refused
before the consent date, and correcting the consent lets the trial go on. Why every adverse
event was refused after a future consent: an adverse event must be dated on or after consent
and not after today, so with consent after today no date was left; the refusal now says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.service import audit, enrolment, followup, randomization
from oligotrial.service.ports import Actor
from trialops_db import StudyClock, fake_screener

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()),
          "events": []}
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
DM = Actor("dm", {TRIAL: "data_manager"})
STAT = Actor("stat", {TRIAL: "statistician"})
TREATER = Actor("rt", {TRIAL: "treating_oncologist"})
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}
#: the last fraction at the earliest date each course allows (one fraction a day)
LAST_FRACTION = {"palliative": "2026-03-10", "sabr": "2026-03-14"}


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    clock = StudyClock()  # today: 2026-03-05
    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    randomization.generate_list(c.ctx, TRIAL, seed=3, size_per_stratum=20)
    try:
        yield c.ctx, clock
    finally:
        c.dispose()


def _screened(ctx, rid: str) -> str:
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": rid})["id"]
    enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02")
    return pid


def _randomized(ctx, rid: str, consent_on: str = "2026-03-03") -> tuple[str, str]:
    pid = _screened(ctx, rid)
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": consent_on, "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, pid)
    return pid, randomization.randomize(ctx, COORD, TRIAL, pid, {})["arm"]


def _plant_consent(ctx, pid: str, day: str) -> None:
    """Store a consent dated ``day`` as the old code let one be stored (a date after today)."""
    with ctx.uow() as uow:
        p = uow.participants.get_participant(TRIAL, pid, for_update=True)
        p.consent = {**(p.consent or {"form_version": "v2", "obtained_by": "coord"}), "date": day}
        if p.state == "screened":
            p.state = "consented"
        uow.participants.save_participant(p)
        uow.commit()


def _trail(ctx) -> list[dict]:
    with ctx.uow() as uow:
        return uow.audit.audit_entries(TRIAL)


def test_a_consent_dated_after_today_is_refused_and_nothing_is_stored(study):
    ctx, _clock = study
    pid = _screened(ctx, "P-0001")
    before = len(_trail(ctx))
    with pytest.raises(RecordError) as e:  # "Consent must not be in the future"
        enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-06", "form_version": "v2"})
    assert e.value.field == "date" and "2026-03-06" in e.value.message and "2026-03-05" in e.value.message
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    assert view["state"] == "screened" and view["consent"] is None and len(_trail(ctx)) == before
    out = enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-05", "form_version": "v2"})  # today is fine
    assert out["state"] == "consented" and out["consent"]["date"] == "2026-03-05"


def test_enrolment_is_refused_before_a_consent_dated_after_today(study):
    """"nothing that needs consent may precede it": a consent stored in the future (old data)
    leaves the participant consented, and enrolment today would precede it."""
    ctx, _clock = study
    pid = _screened(ctx, "P-0001")
    _plant_consent(ctx, pid, "2026-03-20")
    with pytest.raises(RecordError) as e:
        enrolment.enrol(ctx, COORD, TRIAL, pid)
    assert e.value.field == "consent.date" and "2026-03-20" in e.value.message and "enrolment" in e.value.message
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["state"] == "consented"
    enrolment.correct_consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-04", "form_version": "v2",
                                                       "reason": "date typed as the planned visit"})
    assert enrolment.enrol(ctx, COORD, TRIAL, pid)["state"] == "enrolled"


def test_radiotherapy_a_visit_and_follow_up_entries_may_not_precede_consent(study):
    ctx, clock = study
    pid, arm = _randomized(ctx, "P-0001")
    _plant_consent(ctx, pid, "2026-03-12")  # after randomization (old data)
    clock.set("2026-03-15")
    course = {"start": "2026-03-10", "end": LAST_FRACTION[arm], **RT_FOR_ARM[arm]}
    with pytest.raises(RecordError) as e:
        enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, course)
    assert e.value.field == "start" and "consent (2026-03-12)" in e.value.message
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["radiotherapy"] is None
    with pytest.raises(RecordError) as e:  # an adverse event "from consent on"
        followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event",
                              {"date": "2026-03-11", "term": "Fatigue", "grade": 1})
    assert e.value.field == "date" and "2026-03-12" in e.value.message

    _plant_consent(ctx, pid, "2026-03-03")
    enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, course)  # now after consent: accepted
    clock.set("2026-04-20")
    _plant_consent(ctx, pid, "2026-04-10")  # old data again, after the course
    with pytest.raises(RecordError) as e:  # 28 days after the course: 2026-04-07, before consent
        enrolment.record_visit(ctx, COORD, TRIAL, pid, "rt_toxicity_4w", {"date": "2026-04-07"})
    assert e.value.field == "date" and "consent (2026-04-10)" in e.value.message
    visits = {v["code"]: v for v in enrolment.get_participant(ctx, COORD, TRIAL, pid)["visits"]}
    assert visits["rt_toxicity_4w"]["actual"] is None


def test_why_every_adverse_event_was_refused_after_a_future_consent_and_how_correcting_it_helps(study):
    ctx, clock = study
    pid, _arm = _randomized(ctx, "P-0001")
    _plant_consent(ctx, pid, "2026-04-01")
    clock.set("2026-03-10")
    ae = {"date": "2026-03-09", "term": "Fatigue", "grade": 1}
    with pytest.raises(RecordError) as e:  # before consent: refused, and why no date can do
        followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event", ae)
    assert "dated after today (2026-03-10): correct it first" in e.value.message
    with pytest.raises(RecordError):  # on or after consent is after today: refused too
        followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event", {**ae, "date": "2026-04-01"})
    enrolment.correct_consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-03", "form_version": "v2",
                                                       "reason": "month typed wrong (source: signed form)"})
    out = followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event", ae)
    assert out["data"]["date"] == "2026-03-09"


def test_a_consent_correction_is_audited_with_old_and_new_and_the_reason(study):
    ctx, _clock = study
    pid = _screened(ctx, "P-0001")
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-04", "form_version": "v1"})
    out = enrolment.correct_consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-02", "form_version": "v2",
                                                             "reason": "per the signed form"})
    assert out["consent"]["date"] == "2026-03-02" and out["consent"]["form_version"] == "v2"
    assert out["consent"]["obtained_by"] == "coord" and out["consent"]["corrected"]["reason"] == "per the signed form"
    stored = enrolment.get_participant(ctx, COORD, TRIAL, pid)  # read back
    assert stored["consent"]["date"] == "2026-03-02" and stored["state"] == "consented"
    last = _trail(ctx)[-1]
    assert last["action"] == "participant.consent_correct" and last["reason"] == "per the signed form"
    assert last["old"] == {"date": "2026-03-04", "form_version": "v1"}
    assert last["new"] == {"date": "2026-03-02", "form_version": "v2"}
    assert audit.verify(ctx).ok


def test_a_corrected_consent_may_not_fall_after_anything_that_needs_consent(study):
    ctx, clock = study
    pid, arm = _randomized(ctx, "P-0001")  # consent 2026-03-03, enrolled and randomized 2026-03-05
    clock.set("2026-03-12")
    enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, {"start": "2026-03-10", "end": LAST_FRACTION[arm],
                                                             **RT_FOR_ARM[arm]})
    followup.record_entry(ctx, DM, TRIAL, pid, "adverse_event", {"date": "2026-03-11", "term": "Fatigue", "grade": 1})
    before = len(_trail(ctx))
    body = {"form_version": "v2", "reason": "per the signed form"}
    for day, first in (("2026-03-06", "enrolment (2026-03-05)"), ("2026-03-11", "enrolment (2026-03-05)"),
                       ("2026-03-12", "enrolment (2026-03-05)")):
        with pytest.raises(RecordError) as e:
            enrolment.correct_consent(ctx, COORD, TRIAL, pid, {**body, "date": day})
        assert e.value.field == "date" and first in e.value.message
    with pytest.raises(RecordError) as e:  # "Consent must not be in the future", when corrected too
        enrolment.correct_consent(ctx, COORD, TRIAL, pid, {**body, "date": "2026-03-13"})
    assert e.value.field == "date" and "not after today (2026-03-12)" in e.value.message
    assert len(_trail(ctx)) == before
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["consent"]["date"] == "2026-03-03"
    assert enrolment.correct_consent(ctx, COORD, TRIAL, pid, {**body, "date": "2026-03-05"})["consent"]["date"] \
        == "2026-03-05"  # on the day of enrolment: accepted


def test_what_needs_consent_is_every_step_and_entry_after_it(study):
    """The list a corrected date is checked against, for a participant who has everything."""
    ctx, clock = study
    pid, arm = _randomized(ctx, "P-0001")
    clock.set("2026-04-20")
    enrolment.record_radiotherapy(ctx, TREATER, TRIAL, pid, {"start": "2026-03-10", "end": LAST_FRACTION[arm],
                                                             **RT_FOR_ARM[arm]})
    enrolment.record_visit(ctx, COORD, TRIAL, pid, "rt_toxicity_4w", {"date": "2026-04-06"})
    followup.record_entry(ctx, DM, TRIAL, pid, "lab", {"date": "2026-03-04", "test": "hemoglobin", "value": 12,
                                                     "unit": "g/dL"})
    followup.record_entry(ctx, DM, TRIAL, pid, "event", {"date": "2026-04-15", "kind": "progression"})
    with ctx.uow() as uow:
        p = uow.participants.get_participant(TRIAL, pid)
        got = [(d.isoformat(), what.split(" entry")[0]) for d, what in
               enrolment.needs_consent(p, uow.participants.visits(pid), uow.participants.entries(pid))]
    assert got == [("2026-03-04", "lab"), ("2026-03-05", "enrolment"), ("2026-03-05", "randomization"),
                   ("2026-03-10", "radiotherapy"), ("2026-04-06", "visit rt_toxicity_4w"), ("2026-04-15", "event")]
    with pytest.raises(RecordError) as e:  # the lab of 2026-03-04 comes first
        enrolment.correct_consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-05", "form_version": "v2",
                                                           "reason": "per the signed form"})
    assert "lab entry" in e.value.message and "2026-03-04" in e.value.message


def test_a_consent_correction_needs_a_consent_a_reason_and_a_role_that_records_consent(study):
    ctx, _clock = study
    pid = _screened(ctx, "P-0001")
    body = {"date": "2026-03-04", "form_version": "v2", "reason": "per the signed form"}
    with pytest.raises(WorkflowError) as e:
        enrolment.correct_consent(ctx, COORD, TRIAL, pid, body)
    assert e.value.field == "consent" and e.value.code == "not_consented"
    enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-04", "form_version": "v1"})
    with pytest.raises(RecordError) as e:
        enrolment.correct_consent(ctx, COORD, TRIAL, pid, {**body, "reason": " "})
    assert e.value.field == "reason"
    for who in (DM, STAT):
        with pytest.raises(BlindingError) as e:
            enrolment.correct_consent(ctx, who, TRIAL, pid, body)
        assert e.value.code == "forbidden"
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["consent"]["form_version"] == "v1"

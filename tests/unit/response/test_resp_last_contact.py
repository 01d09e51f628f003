"""The last contact that censors overall survival and time to next treatment (issue 25 item 6).

The rule (docs/endpoints.md): "Last contact is the latest date on which the participant was seen
or reported alive by any recorded entry"; a loss-to-follow-up declaration ("no contact after
three attempts") or a withdrawal is not a contact, and a death is an event, not a censoring date.
Each test's expected date is written by hand from the record it builds.
"""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.response import endpoints as ep
from oligotrial.protocols import load_protocol
from oligotrial.service.assessment import derive_endpoints

ORIGIN = dt.date(2026, 1, 10)          # randomization
OPPRESS = "NCT06523673"                # endpoints PFS, OS, TTNT (death not an event of TTNT)


def _day(n: int) -> str:
    return (ORIGIN + dt.timedelta(days=n)).isoformat()


BASE = {"id": "C", "as_of": "2026-01-02",   # the screening date: not a contact
        "lesions": [{"id": "L1", "kind": "metastasis", "organ": "lung"}],
        "assessments": [{"date": "2026-01-02", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]}]}


def _endpoint(rec: dict, eid: str, contacts=None) -> dict:
    doc = derive_endpoints(parse_patient(rec, today=dt.date(2027, 1, 1)), load_protocol(OPPRESS), start=ORIGIN,
                           arm="sbrt", contacts=contacts)
    return next(e for e in doc["endpoints"] if e["endpoint"] == eid)


def test_sbrt_a_visit_and_adverse_events_to_day_116_censor_os_at_day_116_not_day_0():
    # the participant: SBRT, a visit and AEs to day 116, no scan after randomization;
    # before the fix OS was censored at the origin (day 0)
    rec = {**BASE, "radiotherapy": [{"start": _day(7), "end": _day(11), "lesions": ["L1"], "dose_gy": 35,
                                     "fractions": 5, "technique": "SBRT"}],
           "adverse_events": [{"date": _day(40), "term": "Fatigue", "grade": 1},
                              {"date": _day(116), "term": "Pneumonitis", "grade": 2}]}
    visit = [ep.Candidate(ORIGIN + dt.timedelta(days=90), "visit week 12 done")]
    os_ = _endpoint(rec, "os", contacts=visit)
    assert (os_["event"], os_["date"], os_["days"]) == (False, _day(116), 116), os_["reason"]
    assert "adverse event Pneumonitis onset" in os_["reason"] and "seen or reported alive" in os_["reason"]
    ttnt = _endpoint(rec, "ttnt", contacts=visit)
    assert (ttnt["event"], ttnt["days"]) == (False, 116)


def test_a_loss_to_follow_up_or_withdrawal_declaration_is_not_a_contact():
    # "no contact after three attempts" on day 200: the participant was last seen on day 116
    for event in ({"kind": "lost_to_follow_up", "detail": "no contact after three attempts"},
                  {"kind": "withdrawal", "scope": "follow_up"}):
        rec = {**BASE, "adverse_events": [{"date": _day(116), "term": "Fatigue", "grade": 1}],
               "events": [{"date": _day(200), **event}]}
        os_ = _endpoint(rec, "os")
        assert (os_["event"], os_["days"]) == (False, 116), (event, os_["reason"])


def test_without_any_contact_after_it_the_time_is_censored_at_the_origin():
    os_ = _endpoint(BASE, "os")
    assert (os_["event"], os_["date"], os_["days"]) == (False, ORIGIN.isoformat(), 0)
    assert "randomization" in os_["reason"]


SOURCES = {  # one entry of each kind, dated day 150, and nothing later
    "tumour assessment": {"assessments": [*BASE["assessments"], {"date": _day(150), "modality": "CT",
                                                                 "findings": [{"lesion": "L1", "diameter_mm": 29}]}]},
    "adverse event onset": {"adverse_events": [{"date": _day(150), "term": "Fatigue", "grade": 1}]},
    "adverse event resolved": {"adverse_events": [{"date": _day(20), "term": "Fatigue", "grade": 1,
                                                   "resolved_on": _day(150)}]},
    "quality of life": {"quality_of_life": [{"date": _day(150), "instrument": "EQ-5D-5L", "responses": {
        "mobility": 2, "self_care": 1, "usual_activities": 2, "pain_discomfort": 2, "anxiety_depression": 1,
        "vas": 70}}]},
    "lab": {"labs": [{"date": _day(150), "test": "hemoglobin", "value": 11.8, "unit": "g/dL"}]},
    "performance status": {"performance": [{"date": _day(150), "scale": "ECOG", "score": 1}]},
    "radiotherapy fraction": {"radiotherapy": [{"start": _day(146), "end": _day(150), "lesions": ["L1"]}]},
    "systemic therapy started": {"systemic_therapy": [{"line": 2, "agents": ["docetaxel"], "start": _day(150)}]},
    "progression recorded": {"events": [{"date": _day(150), "kind": "progression"}]},
    "metastasis-directed therapy": {"events": [{"date": _day(150), "kind": "metastasis_directed_therapy"}]},
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_kind_of_entry_that_shows_the_participant_alive_is_a_contact(source):
    os_ = _endpoint({**BASE, **SOURCES[source]}, "os")
    assert (os_["event"], os_["days"]) == (False, 150), (source, os_["reason"])


def test_visits_done_consent_and_enrolment_are_contacts_given_by_the_trial():
    visit = [ep.Candidate(ORIGIN + dt.timedelta(days=61), "visit week 8 done")]
    os_ = _endpoint(BASE, "os", contacts=visit)
    assert os_["days"] == 61 and "visit week 8 done" in os_["reason"]


def test_a_death_is_the_os_event_and_censors_ttnt_at_its_date_but_is_never_a_contact():
    rec = {**BASE, "adverse_events": [{"date": _day(30), "term": "Fatigue", "grade": 1}],
           "events": [{"date": _day(80), "kind": "death"}]}
    os_ = _endpoint(rec, "os")
    assert (os_["event"], os_["days"]) == (True, 80)
    # TTNT: "death_is_event: false": no next line before the death, follow-up complete to it
    ttnt = _endpoint(rec, "ttnt")
    assert (ttnt["event"], ttnt["days"]) == (False, 80) and "death" in ttnt["reason"]
    assert ep.last_contact(parse_patient(rec)) == ORIGIN + dt.timedelta(days=30)


def test_a_contact_dated_after_a_recorded_death_is_not_counted():
    # the record refuses its own entries after a death; a visit recorded outside it is bounded too
    rec = {**BASE, "adverse_events": [{"date": _day(30), "term": "Fatigue", "grade": 1}],
           "events": [{"date": _day(60), "kind": "death"}]}
    late_visit = [ep.Candidate(ORIGIN + dt.timedelta(days=90), "visit done")]
    assert ep.last_known_alive(parse_patient(rec), late_visit).date == ORIGIN + dt.timedelta(days=30)


def test_a_course_s_last_fraction_is_named_like_its_first_so_that_the_reason_cannot_tell_the_arm():
    # STOP-2 is triple-blind: SABR (several fractions) vs 8 Gy in 1 fraction; a censoring reason
    # that said "last fraction" would tell a blinded reader the course had more than one
    multi = {**BASE, "radiotherapy": [{"start": _day(146), "end": _day(150), "lesions": ["L1"]}]}
    single = {**BASE, "radiotherapy": [{"start": _day(150), "end": _day(150), "lesions": ["L1"]}]}
    reasons = {_endpoint(rec, "os")["reason"] for rec in (multi, single)}
    assert len(reasons) == 1 and "radiotherapy fraction" in reasons.pop()

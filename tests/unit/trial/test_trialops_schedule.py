"""The visit schedule derived from its anchors: dates, windows, status as of a date, visits waiting
for their anchor, and the blinding rule on the last-fraction anchor."""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.protocol.schedule_schema import Schedule, parse_schedule
from oligotrial.domain.trial.schedule import derive, status_on
from oligotrial.protocols import list_protocols, load_protocol

D = dt.date


def _spec(**extra):
    base = {"registry_gives_schedule": True, "source_text": "test schedule", "visits": [
        {"code": "tox", "label": "toxicity", "anchor": "radiotherapy_start", "day": 28, "window_before_days": 7,
         "window_after_days": 7, "forms": ["adverse_events"], "source_text": "4 weeks after the first fraction"},
        {"code": "m3", "label": "month 3", "anchor": "randomization", "day": 91, "window_before_days": 14,
         "window_after_days": 14, "forms": ["imaging"], "source_text": "3 months"},
        {"code": "pp", "label": "after progression", "anchor": "progression", "day": 91, "window_before_days": 14,
         "window_after_days": 14, "source_text": "3 months after progression"}]}
    return Schedule.model_validate({**base, **extra})


def test_status_by_window():
    # window 2026-06-01 .. 2026-06-15
    assert status_on(D(2026, 6, 1), D(2026, 6, 15), D(2026, 5, 31)) == "upcoming"
    assert status_on(D(2026, 6, 1), D(2026, 6, 15), D(2026, 6, 1)) == "due"
    assert status_on(D(2026, 6, 1), D(2026, 6, 15), D(2026, 6, 15)) == "due"
    assert status_on(D(2026, 6, 1), D(2026, 6, 15), D(2026, 6, 16)) == "overdue"


def test_visits_are_dated_from_their_anchor_and_wait_without_it():
    anchors = {"randomization": D(2026, 3, 5), "radiotherapy_start": D(2026, 3, 10), "progression": None}
    visits, waiting = derive(_spec().visits, anchors, {}, today=D(2026, 4, 8))
    tox, m3 = visits
    # first fraction 2026-03-10 + 28 = 2026-04-07, window 03-31..04-14; today 04-08: due
    assert (tox.code, tox.target, tox.earliest, tox.latest, tox.status) == ("tox", D(2026, 4, 7), D(2026, 3, 31),
                                                                            D(2026, 4, 14), "due")
    # randomization 2026-03-05 + 91 = 2026-06-04
    assert (m3.target, m3.status) == (D(2026, 6, 4), "upcoming")
    assert waiting == [{"code": "pp", "label": "after progression", "anchor": "progression"}]
    # a corrected first fraction moves the visit nothing is recorded for
    moved, _ = derive(_spec().visits, {**anchors, "radiotherapy_start": D(2026, 3, 20)}, {}, today=D(2026, 4, 8))
    assert moved[0].target == D(2026, 4, 17)
    # a recorded visit keeps its own window and status; a missed one its reason
    rec = {"tox": {"actual": "2026-04-06", "status": "done", "target": "2026-04-07", "earliest": "2026-03-31",
                   "latest": "2026-04-14", "note": None},
           "m3": {"actual": None, "status": "missed", "target": "2026-06-04", "earliest": "2026-05-21",
                  "latest": "2026-06-18", "note": "patient in hospital"}}
    done, _ = derive(_spec().visits, {**anchors, "progression": D(2026, 5, 1)}, rec, today=D(2026, 9, 1))
    by = {v.code: v for v in done}
    assert by["tox"].status == "done" and by["tox"].actual == D(2026, 4, 6)
    assert by["m3"].status == "missed" and by["m3"].note == "patient in hospital"
    assert by["pp"].target == D(2026, 7, 31) and by["pp"].status == "overdue"  # window closed 08-14


def test_a_blinded_trial_may_not_anchor_a_visit_to_the_last_fraction():
    raw = _spec().model_dump()
    raw["visits"][0]["anchor"] = "radiotherapy_end"
    assert parse_schedule(raw) is not None  # an open trial may
    with pytest.raises(ValueError, match="last radiotherapy fraction"):
        parse_schedule(raw, blinded_roles=["statistician"])


@pytest.mark.parametrize("protocol", list_protocols(), ids=lambda p: p.short_name)
def test_every_shipped_schedule_parses_under_its_masking_and_follows_progression(protocol):
    s = parse_schedule(protocol.schedule, blinded_roles=protocol.masking.blinded_roles)
    assert s is not None and "progression" in {v.anchor for v in s.visits}
    assert "radiotherapy_end" not in {v.anchor for v in s.visits} or not protocol.masking.blinded_roles


def test_stop2_schedule_is_the_same_for_both_arms():
    # the schedule hangs on randomization, the first fraction and progression: none depends on
    # the arm, so two participants randomized and treated on the same days have the same visits
    s = parse_schedule(load_protocol("STOP-2").schedule, blinded_roles=["statistician"])
    anchors = {"randomization": D(2026, 3, 5), "radiotherapy_start": D(2026, 3, 10), "progression": None}
    one, _ = derive(s.visits, anchors, {}, D(2026, 5, 1))
    two, _ = derive(s.visits, dict(anchors), {}, D(2026, 5, 1))
    assert [v.to_dict() for v in one] == [v.to_dict() for v in two]


def test_planning_after_visits_were_recorded_keeps_them_and_adds_or_redates_only_the_rest():
    """Issue 25 item 3: radiotherapy entered after visits were recorded must not insert a visit
    twice (the 409) nor lose a record. Independent reference: the dates are written out here."""
    from oligotrial.domain.trial.schedule import merge_planned, plan_visits

    anchors = {"randomization": D(2026, 3, 5), "radiotherapy_start": D(2026, 3, 9), "progression": None}
    planned = plan_visits(list(_spec().visits), anchors)
    assert [v.code for v in planned] == ["tox", "m3"]
    done_m3 = {"id": 1, "code": "m3", "status": "done", "actual": "2026-06-04", "target": "2026-06-04",
               "earliest": "2026-05-21", "latest": "2026-06-18", "note": None}
    add, redate, kept = merge_planned(planned, [done_m3])
    assert [v.code for v in add] == ["tox"] and redate == [] and kept == [done_m3]
    # a tox visit still planned from an earlier first fraction (2026-03-02) takes the new dates
    old_tox = {"id": 2, "code": "tox", "status": "planned", "actual": None, "target": "2026-03-30",
               "earliest": "2026-03-23", "latest": "2026-04-06", "note": None}
    add, redate, kept = merge_planned(planned, [done_m3, old_tox])
    assert add == [] and kept == [done_m3]
    assert redate == [{**old_tox, "target": "2026-04-06", "earliest": "2026-03-30", "latest": "2026-04-13"}]
    # a tox visit already recorded against the old first fraction is kept as recorded, not re-dated
    done_tox = {**old_tox, "status": "done_out_of_window", "actual": "2026-04-08", "note": "late"}
    add, redate, kept = merge_planned(planned, [done_m3, done_tox])
    assert add == [] and redate == [] and kept == [done_tox, done_m3]  # in the planned order
    # a stored planned row already at the planned dates is left alone
    add, redate, kept = merge_planned(planned, [{**old_tox, "target": "2026-04-06", "earliest": "2026-03-30",
                                                 "latest": "2026-04-13"}])
    assert [v.code for v in add] == ["m3"] and redate == [] and kept == []

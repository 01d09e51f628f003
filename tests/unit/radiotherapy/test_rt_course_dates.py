"""A course's first and last fraction dates against its fractions and the regimen's calendar
(issue 25 item 3: "first and last fraction on one day for 5 fractions passes the check; the dates
must agree with the fractions and the protocol's fractions per week ... a one-fraction course may
fall on any day")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from oligotrial.domain.protocol.rt_schema import FractionDates, RadiotherapySpec, Range, Regimen
from oligotrial.domain.radiotherapy.course_dates import (
    impossible,
    min_span_days,
    overall_days,
    regimen_date_reasons,
)
from oligotrial.domain.radiotherapy.prescription import check_prescription, parse_prescription
from oligotrial.errors import DoseError
from oligotrial.protocols import list_protocols

D = dt.date
SEEDS = Path(__file__).parents[2] / "data" / "seeds"


def _earliest_last_day(n: int, k: int) -> int:
    """Reference written here: walk the calendar one day at a time and give a fraction whenever
    fewer than k fractions fell in the 7 days ending that day (one a day at most)."""
    days: list[int] = []
    day = 0
    while len(days) < n:
        if sum(1 for d in days if d > day - 7) < k:
            days.append(day)
        day += 1
    return days[-1]


@pytest.mark.parametrize("k", range(1, 8))
def test_min_span_is_the_earliest_last_fraction_of_a_day_by_day_calendar(k):
    for n in range(1, 41):
        assert min_span_days(n, k) == _earliest_last_day(n, k), (n, k)


def test_min_span_examples_in_words():
    assert min_span_days(5, 5) == 4     # Monday to Friday
    assert min_span_days(10, 5) == 11   # Monday to the next week's Friday
    assert min_span_days(4, 1) == 21    # "1f/w, 4-6 times": four weekly fractions span three weeks
    assert min_span_days(1, 1) == 0     # one fraction: any day, the same day
    assert overall_days(D(2026, 3, 9), D(2026, 3, 13)) == 5 and overall_days(D(2026, 3, 9), D(2026, 3, 9)) == 1
    with pytest.raises(ValueError):
        min_span_days(5, 0)


def test_what_no_course_can_be():
    mon = D(2026, 3, 9)
    # the case: 5 fractions with the first and last on one day
    assert "on or after 2026-03-13" in impossible(5, mon, mon)
    assert "on or after 2026-03-13" in impossible(5, mon, D(2026, 3, 12))  # 5 fractions in 4 days
    assert impossible(5, mon, D(2026, 3, 13)) is None
    # a one-fraction course falls on one day, any day (a Sunday too), and on no other
    sunday = D(2026, 3, 15)
    assert impossible(1, sunday, sunday) is None
    assert "2026-03-15 (the start)" in impossible(1, sunday, D(2026, 3, 16))
    assert "on or after start 2026-03-09" in impossible(3, mon, D(2026, 3, 8))


def test_a_regimens_fractions_per_week_and_overall_time():
    mon = D(2026, 3, 9)
    # 7 fractions on 7 consecutive days at most 5 a week: the 6th and 7th need the next week
    (r,) = regimen_date_reasons(7, mon, D(2026, 3, 15), per_week=5, max_overall_days=None, regimen="SBRT",
                                source="assumed")
    assert r.code == "fraction_dates_too_close" and "on or after 2026-03-17" in r.message
    assert regimen_date_reasons(7, mon, D(2026, 3, 17), per_week=5, max_overall_days=None, regimen="SBRT",
                                source="assumed") == []
    # 35 Gy/5 within 2 weeks (SABR-COMET-10: "SABR finished within 2 weeks"): day 14 is the last allowed
    assert regimen_date_reasons(5, mon, D(2026, 3, 22), per_week=5, max_overall_days=14, regimen="x",
                                source=None) == []
    (r,) = regimen_date_reasons(5, mon, D(2026, 3, 23), per_week=5, max_overall_days=14, regimen="x", source=None)
    assert r.code == "overall_time_too_long" and "15 days" in r.message and "on or before 2026-03-22" in r.message
    # one fraction: no weekly rule applies
    assert regimen_date_reasons(1, mon, mon, per_week=1, max_overall_days=None, regimen="x", source=None) == []


WEEKLY = Regimen(label="low dose", total_dose_gy=Range(min=6.4, max=9.6), fractions=Range(min=4, max=6),
                 dose_per_fraction_gy=Range(min=1.6, max=1.6), source_text="1.6Gy/f, 1f/w, 4-6 times",
                 fraction_dates=FractionDates(max_per_week=1, source_text="1f/w"))
DAILY = Regimen(label="SBRT", total_dose_gy=Range(min=20, max=60), fractions=Range(min=1, max=10),
                source_text="SBRT", fraction_dates=FractionDates(max_per_week=5, assumption="ours"))
SPEC = RadiotherapySpec(name="test arm", targets="all_progressive_sites", source_text="test",
                        regimens=[WEEKLY, DAILY])


def _rx(dose, fx, start, end):
    return parse_prescription({"start_date": start, "end_date": end,
                               "lesions": [{"id": "L1", "dose_gy": dose, "fractions": fx}]})


def test_the_check_holds_the_dates_to_the_matching_regimens_calendar():
    # 6.4 Gy in 4 weekly fractions: 9 March, 16, 23 and 30 March at the earliest
    ok = check_prescription(_rx(6.4, 4, "2026-03-09", "2026-03-30"), SPEC, trial="T", arm="a")
    assert ok.status == "pass" and ok.lesions[0].regimen == "low dose"
    bad = check_prescription(_rx(6.4, 4, "2026-03-09", "2026-03-12"), SPEC, trial="T", arm="a")
    assert bad.status == "fail"
    (reason,) = bad.lesions[0].reasons
    assert reason.code == "fraction_dates_too_close" and "1f/w" in reason.message
    assert "on or after 2026-03-30" in reason.message
    # without an end date the calendar is not checked (today's prescriptions stay valid)
    assert check_prescription(parse_prescription({"start_date": "2026-03-09", "lesions": [
        {"id": "L1", "dose_gy": 6.4, "fractions": 4}]}), SPEC, trial="T", arm="a").status == "pass"
    # an arm-level overall time (RadiotherapySpec.max_overall_days) applies to the course
    capped = SPEC.model_copy(update={"max_overall_days": 14})
    over = check_prescription(_rx(35, 5, "2026-03-09", "2026-03-25"), capped, trial="T", arm="a")
    assert [f.code for f in over.findings] == ["overall_time_too_long"] and "arm 'T a'" in over.findings[0].message


def test_a_prescription_with_impossible_dates_is_refused_naming_end_date():
    with pytest.raises(DoseError) as e:
        _rx(35, 5, "2026-03-09", "2026-03-09")
    assert e.value.field == "end_date" and "on or after 2026-03-13" in e.value.message
    with pytest.raises(DoseError) as e:
        parse_prescription({"end_date": "2026-03-09", "lesions": [{"id": "L1", "dose_gy": 8, "fractions": 1}]})
    assert e.value.field == "start_date"
    # a lesion given one fraction within a longer course of another lesion is fine
    rx = parse_prescription({"start_date": "2026-03-09", "end_date": "2026-03-13", "lesions": [
        {"id": "L1", "dose_gy": 8, "fractions": 1}, {"id": "L2", "dose_gy": 35, "fractions": 5}]})
    assert rx.end_date == D(2026, 3, 13)


@pytest.mark.parametrize("protocol", list_protocols(), ids=lambda p: p.short_name)
def test_every_multi_fraction_regimen_states_its_calendar_with_its_source(protocol):
    """Where the registry gives a frequency it is quoted (NCT05906329: "1f/w"); where it is silent
    the protocol file labels the number as an assumption, not registry text."""
    trial = protocol.short_name
    seed = (SEEDS / protocol.registry.seed_file).read_text()
    for arm in protocol.arms:
        for regimen in (arm.radiotherapy.regimens if arm.radiotherapy else []):
            if regimen.fractions.max == 1:
                continue  # one fraction: one day, any day
            timing = regimen.fraction_dates
            assert timing is not None, (trial, arm.id, regimen.label)
            if timing.source_text:
                assert timing.source_text in seed, (trial, regimen.label)
            else:
                assert "Not registry text" in timing.assumption, (trial, regimen.label)


def test_fraction_dates_need_a_source_or_a_labelled_assumption():
    with pytest.raises(ValueError, match="source_text .* or assumption"):
        FractionDates(max_per_week=5)

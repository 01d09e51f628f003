"""Sample size and analytic power against rpact's getSampleSizeSurvival (tests/data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oligotrial.errors import DesignError
from oligotrial.stats.sample_size import (
    SurvivalDesign,
    detectable_hazard_ratio,
    event_probability,
    expected_events,
    follow_up_for_events,
    power_survival,
    required_events,
    sample_size_survival,
)

DATA = Path(__file__).resolve().parents[2] / "data"
RPACT = json.loads((DATA / "rpact_sample_size.json").read_text())
REL_TOL = 1e-4


def _design(case: dict) -> SurvivalDesign:
    return SurvivalDesign(
        hazard_ratio=case["hazard_ratio"], alpha=case["alpha"], sided=case["sided"],
        power=case["power"], median_control_months=case["median_control_months"],
        accrual_months=case["accrual_months"], follow_up_months=case["follow_up_months"],
        dropout_rate_experimental=case["dropout_rate"], dropout_rate_control=case["dropout_rate"],
        dropout_time_months=case["dropout_time_months"],
        allocation_ratio=case["allocation_ratio"], method=case["method"].lower())


def test_reference_file_covers_the_required_design_space():
    cases = RPACT["cases"]
    assert len(cases) >= 10
    assert {c["sided"] for c in cases} == {1, 2}
    assert {1.0, 2.0, 0.5} <= {float(c["allocation_ratio"]) for c in cases}
    assert {c["dropout_rate"] > 0 for c in cases} == {True, False}
    assert all("getSampleSizeSurvival(" in c["r_call"] for c in cases)


@pytest.mark.parametrize("case", RPACT["cases"], ids=[c["id"] for c in RPACT["cases"]])
def test_sample_size_equals_rpact(case):
    result = sample_size_survival(_design(case))
    assert result.events == pytest.approx(case["events"], rel=REL_TOL)
    assert result.subjects == pytest.approx(case["subjects"], rel=REL_TOL)
    assert result.subjects_experimental == pytest.approx(case["subjects_experimental"], rel=REL_TOL)
    assert result.subjects_control == pytest.approx(case["subjects_control"], rel=REL_TOL)
    assert result.events_ceil == math.ceil(case["events"])
    assert result.subjects_ceil == math.ceil(case["subjects"])


def test_event_probability_matches_worked_example():
    # design-and-analysis.md section 2.1: HR 0.6, control median 6, a=24, f=12
    lam_c = math.log(2) / 6
    assert event_probability(lam_c, 24, 12) == pytest.approx(0.91547, abs=5e-6)
    assert event_probability(0.6 * lam_c, 24, 12) == pytest.approx(0.78792, abs=5e-6)


def test_event_probability_falls_with_dropout_and_rises_with_follow_up():
    lam = math.log(2) / 6
    assert event_probability(lam, 24, 12, 0.01) < event_probability(lam, 24, 12)
    assert event_probability(lam, 24, 18) > event_probability(lam, 24, 12)


def test_freedman_two_sided_matches_lifelines_convention():
    # lifelines sample_size_necessary_under_cph(0.8, 1, .5, .5, 0.6) -> 126 = ceil(125.58 events)
    assert required_events(0.6, 0.05, 0.8, 2, 1.0, "freedman") == pytest.approx(125.5820757,
                                                                                  rel=1e-8)


@pytest.mark.parametrize("case", RPACT["cases"][:6], ids=[c["id"] for c in RPACT["cases"][:6]])
def test_power_at_required_events_is_the_target_power(case):
    d = _design(case)
    events = required_events(d.hazard_ratio, d.alpha, d.power, d.sided, d.allocation_ratio)
    assert power_survival(d.hazard_ratio, events, d.alpha, d.sided,
                          d.allocation_ratio) == pytest.approx(d.power, abs=1e-12)
    assert detectable_hazard_ratio(events, d.alpha, d.power, d.sided, d.allocation_ratio,
                                   benefit=d.hazard_ratio < 1) == pytest.approx(d.hazard_ratio,
                                                                                rel=1e-12)


def test_expected_events_and_follow_up_invert_each_other():
    d = _design(RPACT["cases"][1])
    res = sample_size_survival(d)
    assert expected_events(d, res.subjects) == pytest.approx(res.events, rel=1e-12)
    assert follow_up_for_events(d, res.subjects, res.events) == pytest.approx(d.follow_up_months,
                                                                              rel=1e-9)


@pytest.mark.parametrize("field,kwargs,expected", [
    ("hazard_ratio", {"hazard_ratio": 0.0}, "hazard ratio > 0"),
    ("hazard_ratio", {"hazard_ratio": -0.5}, "hazard ratio > 0"),
    ("hazard_ratio", {"hazard_ratio": 1.0}, "!= 1"),
    ("power", {"power": 0.02, "alpha": 0.025}, "greater than alpha"),
    ("power", {"power": 0.025, "alpha": 0.025}, "greater than alpha"),
    ("accrual_months", {"accrual_months": 0.0}, "accrual period > 0"),
    ("alpha", {"alpha": 1.5}, "between 0 and 1"),
    ("sided", {"sided": 3}, "1 or 2"),
    ("dropout_rate_control", {"dropout_rate_control": 1.0}, "[0, 1)"),
    ("allocation_ratio", {"allocation_ratio": 0}, "ratio > 0"),
    ("method", {"method": "lakatos"}, "schoenfeld"),
])
def test_invalid_designs_name_field_value_and_expectation(field, kwargs, expected):
    params = {"hazard_ratio": 0.6} | kwargs
    with pytest.raises(DesignError) as info:
        SurvivalDesign(**params)
    err = info.value
    assert err.field == field
    assert err.message.startswith(f"{field} ")
    assert str(params.get(field, kwargs[field])) in err.message or field == "power"
    assert expected in err.message
    assert err.code == "design_invalid"


@settings(max_examples=40, deadline=None)
@given(hr=st.floats(0.2, 0.95), r=st.sampled_from([0.5, 1.0, 2.0]),
       dropout=st.floats(0.0, 0.3))
def test_subjects_exceed_events_and_grow_with_dropout(hr, r, dropout):
    base = sample_size_survival(hazard_ratio=hr, allocation_ratio=r)
    more = sample_size_survival(hazard_ratio=hr, allocation_ratio=r,
                                dropout_rate_experimental=dropout, dropout_rate_control=dropout)
    assert base.subjects > base.events
    assert more.subjects >= base.subjects - 1e-9
    assert more.events == pytest.approx(base.events)


@settings(max_examples=30, deadline=None)
@given(hr1=st.floats(0.2, 0.9), delta=st.floats(0.01, 0.09))
def test_events_increase_as_hazard_ratio_approaches_one(hr1, delta):
    assert required_events(hr1 + delta) > required_events(hr1)

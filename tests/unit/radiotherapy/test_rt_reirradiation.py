"""Re-irradiation: cumulative EQD2, HyTEC cord rules, STOP-2's composite rule."""

from __future__ import annotations

from datetime import date

import pytest

from oligotrial.adapters.io.rt_data import load_hytec_cord_rules
from oligotrial.domain.radiotherapy.reirradiation import (
    NewCourse,
    PriorCourse,
    add_months,
    check_composite,
    check_hytec_cord,
    cumulative_eqd2_gy,
)
from oligotrial.errors import DoseError

PRIOR_30_10 = PriorCourse(30, 10, end_date=date(2024, 1, 15))  # vector 19: EQD2 37.5 (ab 2)
NEW_15_3 = NewCourse(15, 3, start_date=date(2024, 8, 1))  # vector 20: EQD2 26.25 (ab 2)


def test_rt_cumulative_eqd2_vectors_19_plus_20():
    assert cumulative_eqd2_gy([PRIOR_30_10], NEW_15_3, 2.0) == pytest.approx(63.75, abs=1e-4)


def test_rt_cumulative_eqd2_with_documented_recovery():
    prior = PriorCourse(30, 10, recovery_fraction=0.25, recovery_rationale="Ang 2001 ~1 year")
    # (1 - 0.25) * 37.5 + 26.25
    assert cumulative_eqd2_gy([prior], NEW_15_3, 2.0) == pytest.approx(54.375, abs=1e-4)


def test_rt_recovery_factor_needs_a_rationale_and_a_valid_fraction():
    with pytest.raises(DoseError, match="recovery_rationale"):
        PriorCourse(30, 10, recovery_fraction=0.3)
    with pytest.raises(DoseError, match="between 0 and 1"):
        PriorCourse(30, 10, recovery_fraction=1.5, recovery_rationale="x")


def test_rt_hytec_rules_vectors_19_20():
    rules = load_hytec_cord_rules()
    results = {r.rule: r for r in check_hytec_cord([PRIOR_30_10], NEW_15_3, rules)}
    assert results["hytec_cord_cumulative_eqd2"].measured == pytest.approx(63.75)
    assert results["hytec_cord_cumulative_eqd2"].status == "pass"
    # SBRT course EQD2 26.25 > 25 Gy: fails the per-course limit
    assert results["hytec_cord_sbrt_course_eqd2"].status == "fail"
    assert results["hytec_cord_sbrt_course_eqd2"].limit == 25
    # 26.25 / 63.75 = 0.4118 <= 0.5
    assert results["hytec_cord_sbrt_fraction_of_cumulative"].measured == pytest.approx(0.4118, abs=1e-4)
    assert results["hytec_cord_sbrt_fraction_of_cumulative"].status == "pass"
    assert results["min_interval_between_courses"].status == "pass"


def test_rt_hytec_interval_under_five_months_fails_and_missing_dates_not_evaluable():
    rules = load_hytec_cord_rules()
    soon = NewCourse(12, 3, start_date=date(2024, 6, 14))  # 2024-01-15 + 5 months = 2024-06-15
    r = {x.rule: x for x in check_hytec_cord([PRIOR_30_10], soon, rules)}
    assert r["min_interval_between_courses"].status == "fail"
    ok = {x.rule: x for x in check_hytec_cord([PRIOR_30_10], NewCourse(12, 3, start_date=date(2024, 6, 15)), rules)}
    assert ok["min_interval_between_courses"].status == "pass"
    undated = {x.rule: x for x in check_hytec_cord([PriorCourse(30, 10)], NEW_15_3, rules)}
    assert undated["min_interval_between_courses"].status == "not_evaluable"


def test_rt_hytec_cumulative_over_70_and_ratio_over_half_fail():
    rules = load_hytec_cord_rules()
    prior = PriorCourse(50, 25, end_date=date(2020, 1, 1))  # EQD2 50
    new = NewCourse(20, 2, start_date=date(2021, 1, 1))  # d=10: BED 120, EQD2 60
    r = {x.rule: x for x in check_hytec_cord([prior], new, rules)}
    assert r["hytec_cord_cumulative_eqd2"].status == "fail"
    assert r["hytec_cord_cumulative_eqd2"].measured == pytest.approx(110.0)
    assert r["hytec_cord_sbrt_fraction_of_cumulative"].status == "fail"


def test_rt_hytec_needs_a_prior_course():
    with pytest.raises(DoseError, match="prior course"):
        check_hytec_cord([], NEW_15_3)


def test_rt_add_months_clamps_to_month_end():
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)


def test_rt_stop2_composite_pass_fail_and_documentation():
    # TG-101 3-fraction cord Dmax 21.9 Gy -> EQD2(ab 2) = 21.9 * (7.3 + 2) / 4 = 50.9175
    result = check_composite("spinal_cord", [PriorCourse(20, 10)], NewCourse(15, 3),
                             alpha_beta_gy=2, tolerance_dose_gy=21.9, tolerance_fractions=3)
    assert result.tolerance_eqd2_gy == pytest.approx(50.9175, abs=1e-4)
    assert result.prior_eqd2_gy == pytest.approx(20.0)
    assert result.cumulative_eqd2_gy == pytest.approx(46.25)
    assert result.status == "pass"
    over = check_composite("spinal_cord", [PRIOR_30_10], NewCourse(15, 3),
                           alpha_beta_gy=2, tolerance_dose_gy=21.9, tolerance_fractions=3)
    assert over.status == "fail"
    # with a recovery factor but no PI approval: not evaluable, the gaps named
    undocumented = PriorCourse(30, 10, recovery_fraction=0.5, recovery_rationale="Nieder 2006")
    nd = check_composite("spinal_cord", [undocumented], NewCourse(15, 3),
                         alpha_beta_gy=2, tolerance_dose_gy=21.9, tolerance_fractions=3)
    assert nd.status == "not_evaluable"
    assert any("approved_by" in g for g in nd.missing_documentation)
    assert any("end_date" in g for g in nd.missing_documentation)
    documented = PriorCourse(30, 10, recovery_fraction=0.5, recovery_rationale="Nieder 2006",
                             end_date=date(2023, 1, 1), approved_by="Dr Local PI",
                             approved_on=date(2024, 5, 1))
    ok = check_composite("spinal_cord", [documented], NewCourse(15, 3),
                         alpha_beta_gy=2, tolerance_dose_gy=21.9, tolerance_fractions=3)
    assert ok.cumulative_eqd2_gy == pytest.approx(0.5 * 37.5 + 26.25)
    assert ok.status == "pass" and ok.missing_documentation == []

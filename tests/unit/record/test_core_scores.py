"""Clinical scores: age on the date, Cockcroft-Gault, Child-Pugh (with unknown parts), ECOG/KPS."""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.record import scores


@pytest.mark.parametrize("birth,on,age", [
    ("1960-03-02", "2026-03-01", 65),   # the day before the birthday
    ("1960-03-02", "2026-03-02", 66),   # on the birthday
    ("1960-02-29", "2026-02-28", 65),   # leap-day birth, common year
    ("1960-02-29", "2026-03-01", 66),
])
def test_age_on_date(birth, on, age):
    assert scores.age_on(dt.date.fromisoformat(birth), dt.date.fromisoformat(on)) == age


def test_cockcroft_gault_worked_example():
    # Cockcroft & Gault 1976: (140 - 60) * 72 / (72 * 1.0 mg/dL) = 80 mL/min (male); x0.85 female
    assert scores.cockcroft_gault_ml_min(age_years=60, weight_kg=72, creatinine_umol_l=88.42, sex="male") == pytest.approx(80.0)
    assert scores.cockcroft_gault_ml_min(age_years=60, weight_kg=72, creatinine_umol_l=88.42, sex="female") == pytest.approx(68.0)


def test_cockcroft_gault_needs_binary_sex():
    with pytest.raises(ValueError, match="sex"):
        scores.cockcroft_gault_ml_min(age_years=60, weight_kg=72, creatinine_umol_l=80, sex="unknown")


@pytest.mark.parametrize("bili,alb,inr,asc,enc,score", [
    (17.0, 40, 1.0, "none", "none", 5),            # class A minimum
    (34.208, 40, 1.0, "none", "none", 6),          # bilirubin exactly 2 mg/dL -> 2 points
    (51.312, 28, 1.7, "none", "none", 8),          # 3 mg/dL -> 2; albumin 2.8 -> 2; INR 1.7 -> 2
    (60.0, 27, 2.4, "moderate_severe", "grade_3_4", 15),
])
def test_child_pugh_points(bili, alb, inr, asc, enc, score):
    cp = scores.child_pugh(bilirubin_umol_l=bili, albumin_g_l=alb, inr=inr, ascites=asc, encephalopathy=enc)
    assert cp.known and cp.score == score


def test_child_pugh_missing_part_gives_the_possible_range():
    cp = scores.child_pugh(bilirubin_umol_l=17, albumin_g_l=40, inr=1.0, ascites=None, encephalopathy="none")
    assert cp.possible == frozenset({5, 6, 7}) and cp.missing == ["ascites"]


@pytest.mark.parametrize("ecog,kps", [(0, {90, 100}), (1, {70, 80}), (2, {50, 60})])
def test_ecog_to_kps_correspondence(ecog, kps):
    assert scores.possible_scores("ECOG", ecog, "KPS") == kps
    for k in kps:
        assert scores.kps_to_ecog(k) == ecog

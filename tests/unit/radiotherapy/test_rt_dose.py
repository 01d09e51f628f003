"""LQ arithmetic against the named vectors of shared/reference/radiotherapy-dose.md §2."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oligotrial.domain.radiotherapy import dose as lq
from oligotrial.errors import DoseError

# (vector #, dose_gy, fractions, alpha_beta_gy, BED, EQD2) - each checked by hand:
# BED = D (1 + d/ab), EQD2 = BED / (1 + 2/ab).
LQ_VECTORS = [
    pytest.param(8, 1, 10, 14.4, 12.0, id="v01-8Gy_x1_ab10-STOP2-control"),
    pytest.param(8, 1, 3, 29.3333, 17.6, id="v02-8Gy_x1_ab3"),
    pytest.param(27, 3, 10, 51.3, 42.75, id="v03-27Gy_3fx_ab10"),
    pytest.param(30, 3, 10, 60.0, 50.0, id="v04-30Gy_3fx_ab10"),
    pytest.param(30, 5, 10, 48.0, 40.0, id="v05-30Gy_5fx_ab10"),
    pytest.param(50, 5, 10, 100.0, 83.3333, id="v07-50Gy_5fx_ab10"),
    pytest.param(20, 1, 10, 60.0, 50.0, id="v08-20Gy_1fx_ab10-COMET10"),
    pytest.param(54, 3, 10, 151.2, 126.0, id="v09-54Gy_3fx_ab10-COMET-lung"),
    pytest.param(60, 30, 10, 72.0, 60.0, id="v12-60Gy_30fx_ab10-identity"),
    pytest.param(54, 30, 3, 86.4, 51.84, id="v13-1.8Gy_x30_ab3"),
    pytest.param(9.6, 6, 10, 11.136, 9.28, id="v14-1.6Gy_x6_ab10-LDRT"),
    pytest.param(18, 3, 2, 72.0, 36.0, id="v15-cord_18Gy_3fx_ab2"),
    pytest.param(14, 1, 2, 112.0, 56.0, id="v18-cord_14Gy_1fx_ab2"),
    pytest.param(30, 10, 2, 75.0, 37.5, id="v19-prior_cord_30Gy_10fx_ab2"),
    pytest.param(15, 3, 2, 52.5, 26.25, id="v20-new_cord_15Gy_3fx_ab2"),
]


@pytest.mark.parametrize("dose_gy, fractions, ab, bed, eqd2", LQ_VECTORS)
def test_rt_lq_vector(dose_gy, fractions, ab, bed, eqd2):
    assert round(lq.bed_gy(dose_gy, fractions, ab), 4) == pytest.approx(bed, abs=1e-4)
    assert round(lq.eqd2_gy(dose_gy, fractions, ab), 4) == pytest.approx(eqd2, abs=1e-4)
    assert lq.bed_to_eqd2_gy(lq.bed_gy(dose_gy, fractions, ab), ab) == pytest.approx(
        lq.eqd2_gy(dose_gy, fractions, ab))


def test_rt_lql_vector_24_54gy_3fx_transition_6gy():
    # vector 24: 3 [6 (1 + 0.6) + (1 + 1.2)(18 - 6)] = 108.0, vs LQ 151.2
    assert lq.bed_lql_gy(54, 3, 10, transition_dose_gy=6) == pytest.approx(108.0, abs=1e-4)
    assert lq.bed_gy(54, 3, 10) == pytest.approx(151.2, abs=1e-4)


def test_rt_lql_equals_lq_below_transition():
    assert lq.bed_lql_gy(30, 10, 10, transition_dose_gy=6) == pytest.approx(lq.bed_gy(30, 10, 10))


def test_rt_usc_parameters_and_18gy_x3():
    # Park 2008 H460 fit (radiotherapy-dose.md §1 [M]): D_T = 2*1.8/(1-0.4125) = 6.1277 Gy,
    # beta = 0.5875/(2*1.25*6.1277) = 0.03835, alpha/beta = 8.605; USC BED 3*(18-1.8)/0.4125
    p = lq.USC_NSCLC_H460
    assert p.transition_dose_gy == pytest.approx(6.1277, abs=1e-4)
    assert p.beta_per_gy2 == pytest.approx(0.03835, abs=1e-5)
    assert p.alpha_beta_gy == pytest.approx(8.605, abs=1e-3)
    assert lq.bed_usc_gy(54, 3) == pytest.approx(117.8182, abs=1e-4)
    # "at 18 Gy x 3 the USC BED is 29 % below LQ (118 vs 167 Gy)"
    lq_bed = lq.bed_gy(54, 3, p.alpha_beta_gy)
    assert lq_bed == pytest.approx(167.0, abs=0.1)
    assert 1 - lq.bed_usc_gy(54, 3) / lq_bed == pytest.approx(0.29, abs=0.01)


def test_rt_usc_is_continuous_at_the_transition_dose():
    p = lq.USC_NSCLC_H460
    dt = p.transition_dose_gy
    below = lq.bed_usc_gy(dt - 1e-7, 1)
    above = lq.bed_usc_gy(dt + 1e-7, 1)
    assert below == pytest.approx(above, abs=1e-5)
    assert lq.bed_usc_gy(4, 1) == pytest.approx(lq.bed_gy(4, 1, p.alpha_beta_gy))


def test_rt_eqdx_generalises_bed_and_eqd2():
    assert lq.eqdx_gy(30, 3, 10, 2) == pytest.approx(50.0)
    assert lq.eqdx_gy(30, 3, 10, 0) == pytest.approx(60.0)
    assert lq.eqdx_gy(30, 3, 10, 10) == pytest.approx(30.0)  # EQD10 = BED/2 at ab 10


@pytest.mark.parametrize("target_bed, fractions, ab, expected_d", [
    (60.0, 3, 10, 10.0), (100.0, 5, 10, 10.0), (72.0, 3, 2, 6.0), (11.136, 6, 10, 1.6)])
def test_rt_inverse_dose_per_fraction(target_bed, fractions, ab, expected_d):
    assert lq.dose_per_fraction_for_bed_gy(target_bed, fractions, ab) == pytest.approx(expected_d, abs=1e-9)


def test_rt_inverse_for_eqd2():
    d = lq.dose_per_fraction_for_eqd2_gy(50.0, 3, 10)
    assert d == pytest.approx(10.0)


@settings(max_examples=200, deadline=None)
@given(d=st.floats(0.1, 30), n=st.integers(1, 40), ab=st.floats(0.5, 20))
def test_rt_inverse_round_trips(d, n, ab):
    bed = lq.bed_gy(d * n, n, ab)
    assert lq.dose_per_fraction_for_bed_gy(bed, n, ab) == pytest.approx(d, rel=1e-9)
    # EQD2 is monotone in dose per fraction for a fixed total dose
    assert lq.eqd2_gy(d * n, n, ab) >= lq.eqd2_gy(d * n, n + 1, ab) - 1e-9


def test_rt_repopulation_correction():
    # 60 Gy / 30 fx over 40 days, Tk 28, alpha 0.3, Tpot 3 -> 72 - ln2*12/0.9
    expected = 72.0 - math.log(2) * 12 / 0.9
    got = lq.bed_with_repopulation_gy(60, 30, 10, overall_time_days=40)
    assert got == pytest.approx(expected, abs=1e-9)
    assert lq.repopulation_dose_per_day_gy() == pytest.approx(0.7702, abs=1e-4)
    # no correction before kick-off (SABR courses)
    assert lq.bed_with_repopulation_gy(30, 3, 10, overall_time_days=7) == pytest.approx(60.0)


@pytest.mark.parametrize("kwargs, field", [
    ({"dose_gy": 30, "fractions": 0, "alpha_beta_gy": 10}, "fractions"),
    ({"dose_gy": 30, "fractions": 2.5, "alpha_beta_gy": 10}, "fractions"),
    ({"dose_gy": -1, "fractions": 3, "alpha_beta_gy": 10}, "dose_gy"),
    ({"dose_gy": 30, "fractions": 3, "alpha_beta_gy": 0}, "alpha_beta_gy"),
    ({"dose_gy": 30, "fractions": 3, "alpha_beta_gy": -3}, "alpha_beta_gy"),
    ({"dose_gy": float("nan"), "fractions": 3, "alpha_beta_gy": 10}, "dose_gy"),
])
def test_rt_bad_input_names_field_value_and_expectation(kwargs, field):
    with pytest.raises(DoseError) as err:
        lq.bed_gy(**kwargs)
    assert err.value.field == field
    assert "expected" in err.value.message
    assert str(kwargs[field]) in err.value.message or field in err.value.message


def test_rt_high_dose_warning():
    assert lq.high_dose_warning(54, 3) is not None
    assert lq.high_dose_warning(60, 30) is None


def test_rt_alpha_beta_table_is_versioned_and_sourced():
    from oligotrial.adapters.io.rt_data import load_alpha_beta

    table = load_alpha_beta()
    assert table.version
    assert table.alpha_beta_gy("tumour") == 10
    assert table.alpha_beta_gy("SpinalCord".lower()) == 2
    assert table.alpha_beta_gy("rib") == 3
    assert all(e.source and isinstance(e.verified, bool) for e in table.entries)
    with pytest.raises(DoseError, match="expected one of"):
        table.lookup("unobtainium")

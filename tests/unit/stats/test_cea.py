"""Partitioned-survival cost-effectiveness: the reference vector of design-and-analysis.md s.2.5 to
its printed precision, every area cross-checked with scipy.integrate.quad, Kaplan-Meier curves
against lifelines, and the PSA / CEAC's invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from oligotrial.errors import AnalysisError
from oligotrial.stats import cost_effectiveness
from oligotrial.stats.cea import (
    CeaInputs,
    ExponentialCurve,
    KaplanMeierCurve,
    _area_of_difference,
    _exp_area,
    discounted_area,
    load_cea_scenario,
)

RATE = math.log(1.03) / 12  # s.2.5: continuous discounting, ln(1.03)/12 per month
H = 120.0


def quad(f, upper=H, points=None):
    value, _err = integrate.quad(f, 0, upper, limit=500, points=points, epsabs=1e-11, epsrel=1e-11)
    return value


def reference_inputs(**kw):
    base = {"horizon_months": 120, "discount_rate_annual": 0.03, "utility_pf": 0.75, "utility_pd": 0.55,
            "cost_pf_month": 4000, "cost_pd_month": 6000, "upfront_cost": {"SOC": 0, "SBRT": 15000}}
    return CeaInputs(**(base | kw))


REFERENCE_CURVES = {"SOC": {"pfs": ExponentialCurve(3), "os": ExponentialCurve(12)},
                    "SBRT": {"pfs": ExponentialCurve(6), "os": ExponentialCurve(16)}}


def test_reference_vector_to_its_printed_precision():
    out = cost_effectiveness(REFERENCE_CURVES, reference_inputs(), "SOC", psa_draws=0)
    soc, sbrt = out["arms"]["SOC"], out["arms"]["SBRT"]
    # s.2.5: SOC PF 4.282430 months, PD 12.309767, QALY 0.831850, cost 90,988.32
    assert round(soc["pf_months"], 6) == 4.282430
    assert round(soc["pd_months"], 6) == 12.309767
    assert round(soc["qaly"], 6) == 0.831850
    assert round(soc["cost"], 2) == 90988.32
    # SBRT QALY 1.138200, cost 128,557.90; dQALY 0.306350, dcost 37,569.58, ICER 122,636.06
    assert round(sbrt["qaly"], 6) == 1.138200
    assert round(sbrt["cost"], 2) == 128557.90
    inc = out["incremental"]["SBRT"]
    assert round(inc["delta_qaly"], 6) == 0.306350
    assert round(inc["delta_cost"], 2) == 37569.58
    assert round(inc["icer"], 2) == 122636.06
    assert inc["versus"] == "SOC" and "SOC" not in out["incremental"]
    assert out["psa"] is None


def test_reference_vector_cross_checked_with_quad():
    out = cost_effectiveness(REFERENCE_CURVES, reference_inputs(), "SOC", psa_draws=0)["arms"]
    for arm, (m_pfs, m_os) in {"SOC": (3, 12), "SBRT": (6, 16)}.items():
        lp, lo = math.log(2) / m_pfs, math.log(2) / m_os
        pf = quad(lambda t, lp=lp: math.exp(-lp * t) * math.exp(-RATE * t))
        pd = quad(lambda t, lo=lo, lp=lp: max(math.exp(-lo * t) - math.exp(-lp * t), 0.0) * math.exp(-RATE * t))
        assert out[arm]["pf_months"] == pytest.approx(pf, abs=1e-9)
        assert out[arm]["pd_months"] == pytest.approx(pd, abs=1e-9)
        # undiscounted areas: r = 0
        assert out[arm]["pf_months_undiscounted"] == pytest.approx(quad(lambda t, lp=lp: math.exp(-lp * t)), abs=1e-9)


def test_the_packaged_stop2_scenario_is_the_reference_vector_and_says_it_is_an_assumption():
    curves, inputs, ref, doc = load_cea_scenario("stop2")
    assert doc["status"] == "assumption" and "not registry" in doc["scenario"]
    out = cost_effectiveness(curves, inputs, ref, psa_draws=0)
    assert ref == "SOC"
    assert round(out["incremental"]["SBRT"]["icer"], 2) == 122636.06
    for key, entry in doc["inputs"].items():
        if key != "upfront_cost":
            assert "assumption" in entry["source"], key


# ---- Kaplan-Meier curves -------------------------------------------------------------------------

TIMES = (1.0, 2.0, 2.0, 3.5, 4.0, 5.0, 6.5, 8.0, 9.0, 12.0)
EVENTS = (1, 1, 0, 1, 0, 1, 1, 0, 1, 0)


def test_kaplan_meier_steps_equal_lifelines():
    from lifelines import KaplanMeierFitter

    km = KaplanMeierCurve(TIMES, EVENTS)
    kmf = KaplanMeierFitter().fit(TIMES, EVENTS)
    grid = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 3.5, 4.9, 5.0, 6.0, 6.5, 8.5, 9.0, 11.9])
    expected = kmf.survival_function_at_times(grid).to_numpy()
    assert km.survival(grid) == pytest.approx(expected, abs=1e-12)


def test_kaplan_meier_with_events_at_time_zero_equals_lifelines():
    from lifelines import KaplanMeierFitter

    times, events = (0.0, 0.0, 1.0, 2.0, 3.0), (1, 0, 1, 0, 1)
    grid = [0.0, 0.5, 1.0, 2.5, 3.0, 4.0]
    expected = KaplanMeierFitter().fit(times, events).survival_function_at_times(grid).to_numpy()
    assert KaplanMeierCurve(times, events).survival(grid) == pytest.approx(expected, abs=1e-12)


def test_results_are_json_ready():
    import json

    curves, inputs, ref, _doc = load_cea_scenario("stop2")
    assert json.loads(json.dumps(cost_effectiveness(curves, inputs, ref, psa_draws=10)))["reference_arm"] == "SOC"


def test_kaplan_meier_from_days_converts_at_365_25_over_12():
    km = KaplanMeierCurve.from_days([30.4375, 60.875, 91.3125], [1, 0, 1])
    assert km.times_months == pytest.approx((1.0, 2.0, 3.0))
    assert km.events == (1, 0, 1)


def test_exponential_tail_beyond_the_last_follow_up():
    km = KaplanMeierCurve(TIMES, EVENTS)
    # tail hazard = events / total follow-up = 6 / 53
    assert km.tail_hazard == pytest.approx(6 / sum(TIMES))
    s_last = km.survival(12.0)
    assert km.survival(20.0) == pytest.approx(s_last * math.exp(-6 / sum(TIMES) * 8.0), rel=1e-12)


def test_kaplan_meier_areas_cross_checked_with_quad():
    km = KaplanMeierCurve(TIMES, EVENTS)
    pts = sorted(set(TIMES))
    got = discounted_area(km, RATE, 60.0)
    assert got == pytest.approx(quad(lambda t: float(km.survival(t)) * math.exp(-RATE * t), 60.0, pts), abs=1e-8)


def test_crossing_curves_count_only_where_os_is_above_pfs():
    # an OS step function that falls below an exponential PFS curve part of the time: the PD area is
    # the area of max(OS - PFS, 0) only
    os_km = KaplanMeierCurve((2.0, 2.5, 3.0, 10.0, 11.0, 30.0), (1, 1, 1, 0, 1, 0))
    pfs = ExponentialCurve(4.0)
    got = discounted_area(os_km, RATE, 48.0, minus=pfs)
    pts = [2.0, 2.5, 3.0, 11.0, 30.0]
    expected = quad(lambda t: max(float(os_km.survival(t)) - float(pfs.survival(t)), 0.0) * math.exp(-RATE * t),
                    48.0, pts)
    assert got == pytest.approx(expected, abs=1e-8)
    unclipped = quad(lambda t: (float(os_km.survival(t)) - float(pfs.survival(t))) * math.exp(-RATE * t), 48.0, pts)
    assert got > unclipped + 0.01  # the clipping matters here


@pytest.mark.parametrize("hp,ho", [(0.2, 0.05), (0.05, 0.2), (0.1, 0.1)])
def test_psa_closed_form_for_two_exponentials_equals_the_general_integral(hp, ho):
    pf = _exp_area(np.array([hp]), RATE, H)[0]
    pd_fast = max(_exp_area(np.array([ho]), RATE, H)[0] - pf, 0.0)
    p = ExponentialCurve(math.log(2) / hp).pieces()
    o = ExponentialCurve(math.log(2) / ho).pieces()
    assert pd_fast == pytest.approx(_area_of_difference(o, p, RATE, H), abs=1e-12)


# ---- PSA and CEAC --------------------------------------------------------------------------------

def test_psa_is_reproducible_and_centred_on_the_deterministic_result():
    curves, inputs, ref, _doc = load_cea_scenario("stop2")
    a = cost_effectiveness(curves, inputs, ref, psa_draws=4000, seed=7)
    b = cost_effectiveness(curves, inputs, ref, psa_draws=4000, seed=7)
    c = cost_effectiveness(curves, inputs, ref, psa_draws=4000, seed=8)
    assert a["psa"] == b["psa"] and a["psa"] != c["psa"]
    for arm in ("SOC", "SBRT"):
        det = a["arms"][arm]
        # Beta/Gamma draws are unbiased for utilities and costs; the hazard draw is unbiased for the
        # hazard, not for the area (Jensen), hence a few per cent
        assert a["psa"]["arms"][arm]["qaly_mean"] == pytest.approx(det["qaly"], rel=0.05)
        assert a["psa"]["arms"][arm]["cost_mean"] == pytest.approx(det["cost"], rel=0.05)
    assert a["psa"]["notes"] == []


def test_ceac_probabilities_are_shares_that_follow_the_icer():
    curves, inputs, ref, _doc = load_cea_scenario("stop2")
    out = cost_effectiveness(curves, inputs, ref, psa_draws=2000, seed=1,
                             wtp_thresholds=[0, 50_000, 122_636, 250_000, 10_000_000])
    ceac = out["psa"]["ceac"]
    for point in ceac:
        assert sum(point["probability"].values()) == pytest.approx(1.0)
    sbrt = [p["probability"]["SBRT"] for p in ceac]
    assert sbrt == sorted(sbrt)  # more QALYs at more cost: rises with willingness to pay
    assert sbrt[0] < 0.2 and 0.3 < sbrt[2] < 0.7 and sbrt[-1] > 0.9


def test_without_uncertainty_the_psa_reproduces_the_deterministic_model():
    inputs = reference_inputs()
    out = cost_effectiveness(REFERENCE_CURVES, inputs, "SOC", psa_draws=50, seed=3, wtp_thresholds=[100_000, 150_000])
    assert out["psa"]["arms"]["SBRT"]["qaly_mean"] == pytest.approx(out["arms"]["SBRT"]["qaly"], rel=1e-12)
    assert out["psa"]["incremental"]["SBRT"]["icer_of_means"] == pytest.approx(122636.0593, rel=1e-9)
    # the ICER is 122,636: SOC is preferred at 100,000 in every draw, SBRT at 150,000
    assert [p["probability"]["SBRT"] for p in out["psa"]["ceac"]] == [0.0, 1.0]
    assert any("fixed in the PSA" in n for n in out["psa"]["notes"])


def test_psa_with_kaplan_meier_curves_bootstraps_them():
    rng = np.random.default_rng(5)
    def arm(scale_pfs, scale_os, n=60):
        pfs = rng.exponential(scale_pfs, n)
        os_ = pfs + rng.exponential(scale_os, n)
        cens = rng.uniform(6, 36, n)
        return {"pfs": KaplanMeierCurve(tuple(np.minimum(pfs, cens)), tuple((pfs <= cens).astype(int))),
                "os": KaplanMeierCurve(tuple(np.minimum(os_, cens)), tuple((os_ <= cens).astype(int)))}
    curves = {"SOC": arm(4, 10), "SBRT": arm(8, 12)}
    inputs = reference_inputs(utility_pf_se=0.05, cost_pf_month_se=400)
    out = cost_effectiveness(curves, inputs, "SOC", psa_draws=200, seed=2)
    assert out["psa"]["draws"] == 200
    lo, hi = out["psa"]["incremental"]["SBRT"]["delta_qaly_interval"]
    assert lo < out["incremental"]["SBRT"]["delta_qaly"] < hi
    assert lo < hi


@pytest.mark.parametrize("kwargs,field", [
    ({"horizon_months": 0}, "horizon_months"),
    ({"utility_pf": 1.2}, "utility_pf"),
    ({"utility_pf_se": 0.6}, "utility_pf_se"),
    ({"cost_pd_month": -1}, "cost_pd_month"),
    ({"upfront_cost": {"SOC": 0, "SBRT": -5}}, "upfront_cost.SBRT"),
])
def test_invalid_inputs_name_the_field(kwargs, field):
    with pytest.raises(AnalysisError) as info:
        reference_inputs(**kwargs)
    assert info.value.field == field


def test_invalid_calls_name_the_field():
    with pytest.raises(AnalysisError) as info:
        cost_effectiveness(REFERENCE_CURVES, reference_inputs(), "Placebo")
    assert info.value.field == "reference_arm"
    with pytest.raises(AnalysisError) as info:
        cost_effectiveness(REFERENCE_CURVES, reference_inputs(upfront_cost={"SOC": 0}), "SOC")
    assert info.value.field == "upfront_cost.SBRT"
    with pytest.raises(AnalysisError) as info:
        KaplanMeierCurve((1.0, 2.0), (1,))
    assert info.value.field == "times_months"
    with pytest.raises(AnalysisError) as info:
        ExponentialCurve(0)
    assert info.value.field == "median_months"


def _km_arm(times, events):
    c = KaplanMeierCurve(tuple(times), tuple(events))
    return {"pfs": c, "os": c}


def test_the_psa_icer_is_the_ratio_of_mean_costs_to_mean_qalys_shown_beside_the_deterministic_one():
    """Issue 25: the deterministic ICER (646,876) and the PSA's (140,050) disagreed by 4.6x. Briggs,
    Claxton & Sculpher 2006 (ch. 4): the PSA's ICER is the ratio of the mean incremental cost to the
    mean incremental QALYs over the draws, not the mean of the per-draw ratios; both are shown.
    Here each arm's curve falls to 0 with the death of the last participant followed (1 at risk of
    10): the deterministic model has no survival after it, while the bootstrap draws that leave
    that participant out ((1 - 1/10)^10 = 34.9 % of them) end above 0 with an exponential tail; the
    PSA's mean QALYs are far above the deterministic ones, and the reason says so."""
    control = _km_arm([1, 2, 2, 3, 3, 3, 4, 4, 4, 6], [1, 0, 1, 0, 0, 1, 0, 0, 0, 1])
    new = _km_arm([1, 2, 3, 3, 4, 4, 5, 5, 5, 8], [0, 1, 0, 0, 1, 0, 0, 0, 0, 1])
    out = cost_effectiveness({"SOC": control, "SBRT": new}, reference_inputs(utility_pf_se=0.05), "SOC",
                             psa_draws=400, seed=7)
    psa, det = out["psa"], out["incremental"]["SBRT"]
    inc = psa["incremental"]["SBRT"]
    assert inc["icer_of_means"] == pytest.approx(inc["delta_cost_mean"] / inc["delta_qaly_mean"], rel=1e-12)
    c = psa["icer_comparison"]["SBRT"]
    assert c["deterministic"] == det["icer"] and c["psa_ratio_of_means"] == inc["icer_of_means"]
    assert c["fold"] == pytest.approx(inc["icer_of_means"] / det["icer"])
    for arm in ("SOC", "SBRT"):
        assert c["qaly"][arm]["deterministic"] == out["arms"][arm]["qaly"]
        assert c["qaly"][arm]["psa_mean"] > 1.5 * out["arms"][arm]["qaly"]   # the tails the draws add
    ends = {(z["arm"], z["curve"]): z for z in c["curves_ending_at_zero"]}
    assert set(ends) == {("SOC", "PFS"), ("SOC", "OS"), ("SBRT", "PFS"), ("SBRT", "OS")}
    assert ends["SOC", "OS"]["time"] == 6 and ends["SBRT", "OS"]["time"] == 8
    assert ends["SOC", "OS"]["n_at_risk"] == 1
    assert ends["SOC", "OS"]["share_of_draws_without_them"] == pytest.approx(0.9 ** 10)
    assert "not the mean of per-draw ratios" in c["reason"] and "SOC OS at 6.0 months (1 of 10 at risk)" in c["reason"]
    assert "35 % of draws" in c["reason"]


def test_a_curve_that_ends_above_zero_is_not_named_as_the_reason():
    """Exponential curves (the reference scenario) never fall to 0: the reason is the model's
    nonlinearity alone, and no curve is named."""
    inputs = reference_inputs(utility_pf_se=0.05, cost_pf_month_se=800)
    curves = {"SOC": {"pfs": ExponentialCurve(3, 90), "os": ExponentialCurve(12, 60)},
              "SBRT": {"pfs": ExponentialCurve(6, 85), "os": ExponentialCurve(16, 55)}}
    c = cost_effectiveness(curves, inputs, "SOC", psa_draws=300, seed=2)["psa"]["icer_comparison"]["SBRT"]
    assert c["curves_ending_at_zero"] == [] and "Kaplan-Meier" not in c["reason"]
    assert 0.5 < c["fold"] < 2


def test_the_packaged_scenario_states_its_currency():
    """Issue 25: "show the currency (from data/cea_stop2.yaml)". s.2.5's vector has none: the
    scenario says so rather than inventing one."""
    doc = load_cea_scenario("stop2")[3]
    assert doc["currency"]["code"] is None and doc["currency"]["label"] == "unstated monetary units"

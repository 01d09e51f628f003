"""Monte-Carlo trial simulator: rpact getSimulationSurvival, analytic power, type I error."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from oligotrial.errors import DesignError
from oligotrial.stats.distributions import Exponential, PiecewiseExponential, Weibull
from oligotrial.stats.sample_size import SurvivalDesign, expected_events, power_survival
from oligotrial.stats.simulate import TrialScenario, gpu_available, simulate_sweep, simulate_trials

RPACT = json.loads((Path(__file__).resolve().parents[2] / "data" /
                    "rpact_simulation.json").read_text())
N_TRIALS = 10_000


#: Monte-Carlo tolerance in standard errors. Each check is one seeded draw: at 2 SE one in twenty
#: seeds fails by chance (drawing in two sub-streams moved two of these checks to 2.2 and 2.35 SE
#: while the mean over ten seeds stayed within 1.3 SE of the reference); 3 SE fails one in 370.
MC_SE = 3.0


def _within_mc_error(p_ours: float, se_ours: float, p_ref: float, se_ref: float = 0.0) -> bool:
    return abs(p_ours - p_ref) <= MC_SE * math.hypot(se_ours, se_ref)


def _scenario_from_rpact(case: dict) -> TrialScenario:
    a1, a2 = case["allocation"]
    return TrialScenario.proportional_hazards(
        n_subjects=case["n_subjects"], median_control_months=case["median_control_months"],
        hazard_ratio=case["hazard_ratio"], accrual_months=case["accrual_months"],
        shape=case["kappa"], events_target=case["events"], allocation_ratio=a1 / a2,
        dropout_rate_experimental=case["dropout_rate"], dropout_rate_control=case["dropout_rate"],
        dropout_time_months=case["dropout_time_months"], alpha=case["alpha"],
        sided=case["sided"])


@pytest.mark.parametrize("case", RPACT["cases"], ids=[c["id"] for c in RPACT["cases"]])
def test_power_within_mc_error_of_rpact(case):
    # 100,000 trials make our MC SE (~0.0015) well below rpact's stored 20,000-iteration SE
    res = simulate_trials(_scenario_from_rpact(case), 100_000, rng=np.random.default_rng(11),
                          backend="numba")
    assert _within_mc_error(res.rejection_rate, res.mc_se, case["reject_rate"], case["mc_se"])
    assert res.target_reached.all()
    assert (res.events == case["events"]).all()
    # mean calendar time of the analysis agrees with rpact's to a few percent
    assert res.analysis_time_months.mean() == pytest.approx(case["mean_analysis_time_months"],
                                                           rel=0.02)


@pytest.mark.parametrize("hr,n,d", [(0.75, 375, 300), (0.8, 789, 631)])
def test_power_within_mc_error_of_analytic(hr, n, d):
    # Schoenfeld's power is a local (HR near 1) approximation; with 1:1 allocation and these
    # effects its bias is below 0.002 (checked with 100,000 trials), inside the MC error here.
    # Strong effects and unequal allocation are checked against rpact's simulation instead.
    scn = TrialScenario.proportional_hazards(n_subjects=n, median_control_months=6,
                                             hazard_ratio=hr, accrual_months=24, events_target=d)
    res = simulate_trials(scn, 20_000, rng=np.random.default_rng(12))
    analytic = power_survival(hr, d, 0.025, 1, 1.0)
    assert _within_mc_error(res.rejection_rate, res.mc_se, analytic)


@pytest.mark.parametrize("sided,alpha", [(1, 0.025), (2, 0.05)])
def test_type_one_error_at_hr_one_within_mc_error(sided, alpha):
    scn = TrialScenario.proportional_hazards(n_subjects=150, median_control_months=8,
                                             hazard_ratio=1.0, accrual_months=24,
                                             events_target=100, alpha=alpha, sided=sided)
    res = simulate_trials(scn, 20_000, rng=np.random.default_rng(13))
    se = math.sqrt(alpha * (1 - alpha) / res.n_trials)
    assert abs(res.rejection_rate - alpha) <= MC_SE * se


def test_stratified_test_keeps_type_one_error_and_matches_array_backend():
    scn = TrialScenario.proportional_hazards(
        n_subjects=160, median_control_months=6, hazard_ratio=1.0, accrual_months=24,
        events_target=110, strata_proportions=(0.5, 0.3, 0.2),
        strata_hazard_multipliers=(0.5, 1.0, 3.0))
    res = simulate_trials(scn, 20_000, rng=np.random.default_rng(14))
    se = math.sqrt(0.025 * 0.975 / res.n_trials)
    assert abs(res.rejection_rate - 0.025) <= MC_SE * se
    a = simulate_trials(scn, 500, rng=np.random.default_rng(15), backend="numba")
    b = simulate_trials(scn, 500, rng=np.random.default_rng(15), backend="numpy")
    np.testing.assert_allclose(a.z, b.z, rtol=1e-9, atol=1e-12)


def test_stratification_gains_power_when_strata_differ():
    kwargs = {"n_subjects": 200, "median_control_months": 6, "hazard_ratio": 0.65, "accrual_months": 24,
              "events_target": 150, "strata_proportions": (0.5, 0.5),
              "strata_hazard_multipliers": (0.2, 5.0)}
    strat = simulate_trials(TrialScenario.proportional_hazards(**kwargs), 4000, rng=16)
    plain = simulate_trials(TrialScenario.proportional_hazards(stratified_test=False, **kwargs),
                            4000, rng=16)
    assert strat.rejection_rate > plain.rejection_rate + 2 * math.hypot(strat.mc_se, plain.mc_se)


@pytest.mark.parametrize("control", [
    Exponential(6.0),
    Weibull.from_median(8.0, 1.5),
    PiecewiseExponential((0.0, 6.0), (0.1, 0.05)),
], ids=["exponential", "weibull", "piecewise"])
def test_numba_and_array_backends_agree(control):
    scn = TrialScenario(n_subjects=120, control=control,
                        experimental=control.with_hazard_ratio(0.7), accrual_months=18,
                        events_target=80, dropout_rate_experimental=0.1,
                        dropout_rate_control=0.05, allocation_ratio=2.0)
    a = simulate_trials(scn, 400, rng=np.random.default_rng(17), backend="numba")
    b = simulate_trials(scn, 400, rng=np.random.default_rng(17), backend="numpy")
    np.testing.assert_allclose(a.z, b.z, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(a.events, b.events)
    np.testing.assert_array_equal(a.events_experimental, b.events_experimental)
    np.testing.assert_allclose(a.analysis_time_months, b.analysis_time_months, rtol=1e-12)


def test_piecewise_inverse_cumulative_hazard_gives_the_right_survival():
    dist = PiecewiseExponential((0.0, 6.0), (0.1, 0.05))
    x = np.random.default_rng(18).standard_exponential(200_000)
    t = dist.inverse_cumulative_hazard(x)
    for time, surv in ((3.0, math.exp(-0.3)), (6.0, math.exp(-0.6)), (12.0, math.exp(-0.9))):
        se = math.sqrt(surv * (1 - surv) / t.size)
        assert abs(np.mean(t > time) - surv) <= 3 * se


def test_calendar_time_analysis_events_match_lachin_foulkes_expectation():
    design = SurvivalDesign(hazard_ratio=0.7, median_control_months=10, accrual_months=24,
                            follow_up_months=12, dropout_rate_experimental=0.1,
                            dropout_rate_control=0.1)
    scn = TrialScenario.proportional_hazards(
        n_subjects=200, median_control_months=10, hazard_ratio=0.7, accrual_months=24,
        analysis_time_months=36.0, dropout_rate_experimental=0.1, dropout_rate_control=0.1)
    res = simulate_trials(scn, 4000, rng=19)
    expected = expected_events(design, 200)
    se = res.events.std(ddof=1) / math.sqrt(res.n_trials)
    assert abs(res.events.mean() - expected) <= 3 * se
    assert (res.analysis_time_months == 36.0).all()
    assert (res.enrolled == 200).all()


def test_early_calendar_analysis_counts_only_enrolled_subjects():
    scn = TrialScenario.proportional_hazards(n_subjects=100, median_control_months=6,
                                             hazard_ratio=0.7, accrual_months=24,
                                             analysis_time_months=12.0)
    res = simulate_trials(scn, 2000, rng=20)
    assert res.enrolled.mean() == pytest.approx(50, abs=1.0)
    assert (res.enrolled < 100).all()


def test_seeded_runs_reproduce_and_differ_by_seed():
    scn = TrialScenario.proportional_hazards(n_subjects=80, median_control_months=6,
                                             hazard_ratio=0.7, accrual_months=12,
                                             events_target=50)
    a = simulate_trials(scn, 300, rng=np.random.default_rng(21))
    b = simulate_trials(scn, 300, rng=np.random.default_rng(21))
    c = simulate_trials(scn, 300, rng=np.random.default_rng(22))
    np.testing.assert_array_equal(a.z, b.z)
    assert not np.array_equal(a.z, c.z)


def test_summary_reports_distributions_and_progress_bar_runs():
    scn = TrialScenario.proportional_hazards(n_subjects=80, median_control_months=6,
                                             hazard_ratio=0.7, accrual_months=12,
                                             events_target=50)
    res = simulate_trials(scn, 1000, rng=23, chunk_trials=250, progress=True)
    s = res.summary()
    assert s["n_trials"] == 1000
    assert s["mc_se"] == pytest.approx(math.sqrt(s["rejection_rate"] *
                                                 (1 - s["rejection_rate"]) / 1000))
    assert s["duration_months"]["q05"] <= s["duration_months"]["q50"] <= s["duration_months"]["q95"]
    assert s["events"]["mean"] == 50


def test_sweep_is_reproducible_across_schedulers():
    from distributed import Client, LocalCluster

    scenarios = [TrialScenario.proportional_hazards(n_subjects=100, median_control_months=6,
                                                    hazard_ratio=hr, accrual_months=12,
                                                    events_target=70) for hr in (0.6, 1.0)]
    sync = simulate_sweep(scenarios, 500, seed=5, scheduler="synchronous")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dist = simulate_sweep(scenarios, 500, seed=5, client=client)
    assert [s["rejection_rate"] for s in sync] == [s["rejection_rate"] for s in dist]
    assert sync[0]["rejection_rate"] > sync[1]["rejection_rate"]


def test_gpu_backend_is_optional():
    scn = TrialScenario.proportional_hazards(n_subjects=50, median_control_months=6,
                                             hazard_ratio=0.7, accrual_months=12,
                                             events_target=30)
    res = simulate_trials(scn, 100, rng=24, backend="auto")
    assert res.backend == ("cupy" if gpu_available() else "numba")
    if not gpu_available():
        with pytest.raises(DesignError, match="backend 'cupy'"):
            simulate_trials(scn, 100, rng=24, backend="cupy")


@pytest.mark.parametrize("kwargs,field", [
    ({"events_target": None}, "events_target"),
    ({"events_target": 500}, "events_target"),
    ({"accrual_months": 0.0}, "accrual_months"),
    ({"n_subjects": 1}, "n_subjects"),
    ({"strata_proportions": (0.5, 0.6), "strata_hazard_multipliers": (1.0, 1.0)},
     "strata_proportions"),
])
def test_invalid_scenarios(kwargs, field):
    base = {"n_subjects": 100, "median_control_months": 6, "hazard_ratio": 0.7, "accrual_months": 12,
            "events_target": 50}
    with pytest.raises(DesignError) as info:
        TrialScenario.proportional_hazards(**(base | kwargs))
    assert info.value.field == field


def test_large_chunks_draw_in_parallel_sub_streams_that_reproduce():
    # a chunk of >= 2^16 draws per array is drawn as two sub-streams spawned from the generator, on
    # two threads: the same seed gives the same trials, and the two backends still agree
    from oligotrial.stats import simulate as sm

    scn = TrialScenario(n_subjects=146, control=Exponential(6.0), experimental=Exponential(6.0).with_hazard_ratio(0.6),
                        accrual_months=24, events_target=120, dropout_rate_experimental=0.05,
                        dropout_rate_control=0.05)
    n = 1024  # 1024 x 146 = 149,504 draws per array: the parallel path
    assert n * scn.n_subjects >= sm._PARALLEL_DRAWS
    a = simulate_trials(scn, n, rng=np.random.default_rng(5), backend="numba")
    b = simulate_trials(scn, n, rng=np.random.default_rng(5), backend="numba")
    c = simulate_trials(scn, n, rng=np.random.default_rng(5), backend="numpy")
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_allclose(a.z, c.z, rtol=1e-9, atol=1e-12)
    raw = sm._draw_raw(scn, n, np.random.default_rng(5), np)
    gens = np.random.default_rng(5).spawn(sm._STREAMS)
    half = n // 2
    np.testing.assert_array_equal(raw[0][:half], gens[0].random((half, scn.n_subjects)))
    assert not np.array_equal(raw[0][:half], raw[0][half:])


def test_even_entry_times_are_rpacts_grid_in_a_random_order():
    """entry_times="even": every trial's entry times are exactly accrual * i / n, i = 1..n (as rpact's
    getSimulationSurvival computes accrualTimeValue for one accrual interval), in a random order so
    that the arms (assigned by index) are mixed over calendar time."""
    from oligotrial.stats.simulate import _draw_raw, _transform

    scn = TrialScenario.proportional_hazards(n_subjects=40, median_control_months=6, hazard_ratio=0.7,
                                             accrual_months=12, events_target=30, entry_times="even")
    entry = _transform(scn, _draw_raw(scn, 50, np.random.default_rng(5), np), np)[0]
    grid = 12 * np.arange(1, 41) / 40
    assert all(np.allclose(np.sort(row), grid, rtol=0, atol=1e-12) for row in entry)
    experimental_mean_entry = entry[:, : scn.n_experimental].mean(axis=1)
    assert experimental_mean_entry.std() > 0.3  # not the first half of the grid every time
    with pytest.raises(DesignError) as e:
        TrialScenario.proportional_hazards(n_subjects=40, median_control_months=6, hazard_ratio=0.7,
                                           accrual_months=12, events_target=30, entry_times="poisson")
    assert e.value.field == "entry_times"


@pytest.mark.parametrize("case", RPACT["cases"][:2], ids=[c["id"] for c in RPACT["cases"][:2]])
def test_even_entry_matches_rpact_and_narrows_the_analysis_time(case):
    scn = _scenario_from_rpact(case)
    even = TrialScenario(**{**{k: getattr(scn, k) for k in scn.__dataclass_fields__}, "entry_times": "even"})
    res_even = simulate_trials(even, 50_000, rng=np.random.default_rng(21), backend="numba")
    res_rand = simulate_trials(scn, 50_000, rng=np.random.default_rng(21), backend="numba")
    assert _within_mc_error(res_even.rejection_rate, res_even.mc_se, case["reject_rate"], case["mc_se"])
    assert res_even.analysis_time_months.mean() == pytest.approx(case["mean_analysis_time_months"], rel=0.01)
    # the documented difference: the same mean, less spread in the calendar time of the analysis
    assert res_even.analysis_time_months.std() < res_rand.analysis_time_months.std()

"""Log-rank statistics against lifelines and R survival::survdiff (tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lifelines.statistics import logrank_test as lifelines_logrank
from lifelines.statistics import multivariate_logrank_test

from oligotrial.stats.logrank import logrank_batch, logrank_batch_xp, logrank_test

VETERAN = json.loads((Path(__file__).resolve().parents[2] / "data" /
                      "rpact_survdiff_veteran.json").read_text())


def _data(seed: int, n: int = 250, k: int = 2, ties: bool = True):
    rng = np.random.default_rng(seed)
    t = rng.exponential(10.0, n)
    if ties:
        t = np.round(t) + 1.0           # many tied times
    e = rng.random(n) < 0.7
    g = rng.integers(0, k, n)
    return t, e, g


def _brute_force_stratified(t, e, g, s):
    """Independent stratified log-rank: plain loops over strata and distinct event times."""
    u_sum = v_sum = 0.0
    for stratum in np.unique(s):
        m = s == stratum
        ts, es, gs = t[m], e[m], g[m]
        for time in np.unique(ts[es]):
            at_risk = ts >= time
            n = at_risk.sum()
            n1 = (at_risk & (gs == 1)).sum()
            d = (es & (ts == time)).sum()
            d1 = (es & (ts == time) & (gs == 1)).sum()
            u_sum += d1 - d * n1 / n
            if n > 1:
                v_sum += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return u_sum, v_sum


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [True, False])
def test_two_group_equals_lifelines(seed, ties):
    t, e, g = _data(seed, ties=ties)
    ours = logrank_test(t, e, g)
    ref = lifelines_logrank(t[g == 0], t[g == 1], e[g == 0], e[g == 1])
    assert ours.statistic == pytest.approx(ref.test_statistic, rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(ref.p_value, rel=1e-9, abs=1e-12)
    assert ours.z ** 2 == pytest.approx(ours.statistic, rel=1e-12)


@pytest.mark.parametrize("k", [3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_k_groups_equal_lifelines_multivariate(seed, k):
    t, e, g = _data(100 + seed, n=300, k=k)
    ours = logrank_test(t, e, g)
    ref = multivariate_logrank_test(t, g, e)
    assert ours.statistic == pytest.approx(ref.test_statistic, rel=1e-9, abs=1e-12)
    assert ours.degrees_of_freedom == k - 1


@pytest.mark.parametrize("seed", range(4))
def test_stratified_equals_independent_computation(seed):
    t, e, g = _data(200 + seed, n=300)
    s = np.random.default_rng(seed).integers(0, 4, t.size)
    ours = logrank_test(t, e, g, strata=s)
    u, v = _brute_force_stratified(t, e, g, s)
    assert ours.statistic == pytest.approx(u * u / v, rel=1e-9)
    assert ours.z == pytest.approx(u / np.sqrt(v), rel=1e-9)


def test_veteran_equals_r_survdiff():
    d = VETERAN["data"]
    plain = logrank_test(d["time"], d["status"], d["trt"])
    strat = logrank_test(d["time"], d["status"], d["trt"], strata=d["celltype"])
    assert plain.statistic == pytest.approx(VETERAN["logrank_chisq"], rel=1e-9)
    assert strat.statistic == pytest.approx(VETERAN["stratified_chisq"], rel=1e-9)
    assert list(plain.observed) == VETERAN["logrank_observed"]
    assert plain.expected == pytest.approx(VETERAN["logrank_expected"], rel=1e-9)


def test_batch_kernel_equals_single_test_row_by_row():
    rows = [_data(300 + i, n=120) for i in range(5)]
    t = np.stack([r[0] for r in rows])
    e = np.stack([r[1] for r in rows])
    g = np.stack([r[2] for r in rows])
    s = np.random.default_rng(3).integers(0, 3, t.shape)
    z = logrank_batch(t, e, g, s)
    for b in range(5):
        assert z[b] == pytest.approx(logrank_test(t[b], e[b], g[b], strata=s[b]).z, rel=1e-12)


def test_array_version_equals_kernel_without_ties():
    rows = [_data(400 + i, n=150, ties=False) for i in range(8)]
    t = np.stack([r[0] for r in rows])
    e = np.stack([r[1] for r in rows])
    g = np.stack([r[2] for r in rows])
    s = np.random.default_rng(4).integers(0, 2, t.shape)
    assert logrank_batch_xp(t, e, g, None, 1) == pytest.approx(logrank_batch(t, e, g), rel=1e-10)
    assert logrank_batch_xp(t, e, g, s, 2) == pytest.approx(logrank_batch(t, e, g, s), rel=1e-10)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [True, False])
def test_simulator_sorted_kernel_equals_brute_force_and_lifelines(seed, ties):
    """The simulator's own unstratified kernel (bucket sort + one pass) against an independent
    computation and lifelines, with absent subjects (+inf) left out as the simulator does."""
    from oligotrial.stats.simulate import _bucket_argsort, _logrank_sorted

    t, e, g = _data(seed, n=180, ties=ties)
    absent = np.random.default_rng(seed + 100).random(t.size) < 0.15  # not enrolled by the analysis
    x = np.where(absent, np.inf, t)
    order = np.empty(t.size, dtype=np.int64)
    counts = np.empty(t.size + 1, dtype=np.int64)
    m = _bucket_argsort(x, order, counts)
    assert m == int((~absent).sum())
    assert np.all(np.diff(x[order[:m]]) >= 0)
    u, v, n_ev = _logrank_sorted(x, e, g.astype(np.float64), order, m)
    keep = ~absent
    u_ref, v_ref = _brute_force_stratified(t[keep], e[keep], g[keep], np.zeros(keep.sum()))
    assert u == pytest.approx(u_ref, rel=1e-10, abs=1e-10)
    assert v == pytest.approx(v_ref, rel=1e-10)
    assert n_ev == int(e[keep].sum())
    tk, ek, gk = t[keep], e[keep], g[keep]
    ref = lifelines_logrank(tk[gk == 0], tk[gk == 1], ek[gk == 0], ek[gk == 1])
    assert u * u / v == pytest.approx(ref.test_statistic, rel=1e-9)

"""Heavily tied data (follow-up in whole days): the log-rank test counts at risk and events per
distinct time (the one risk-table family, :func:`oligotrial.stats.survival_cox.logrank_u_v`),
and gives the same statistic as the simulation's row kernel and lifelines."""

from __future__ import annotations

import numpy as np
import pytest

from oligotrial.stats import logrank as lr


def _tied(n: int, days: int, seed: int):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, days, n).astype(float), rng.random(n) < 0.6, rng.integers(0, 2, n),
            rng.integers(0, 3, n).astype(np.int64))


@pytest.mark.parametrize("stratified", [False, True])
def test_the_risk_table_sums_equal_the_row_kernel(stratified):
    t, e, g, s = _tied(20_000, 120, 1)
    s = s if stratified else np.zeros(t.size, dtype=np.int64)
    n_strata = int(s.max()) + 1
    u1, v1, *_ = lr._logrank_two_group(t, e, g.astype(np.int8), s, n_strata, np.ones(t.size, dtype=bool))
    ours = lr.logrank_test(t, e, g, strata=s if stratified else None)
    assert ours.variance == pytest.approx(v1, rel=1e-12)
    assert ours.z == pytest.approx(u1 / np.sqrt(v1), rel=1e-12)


def test_large_tied_data_equals_lifelines():
    from lifelines.statistics import logrank_test as ll

    t, e, g, _ = _tied(100_000, 365, 2)
    ours = lr.logrank_test(t, e, g)
    ref = ll(t[g == 0], t[g == 1], e[g == 0], e[g == 1])
    assert ours.statistic == pytest.approx(ref.test_statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(ref.p_value, rel=1e-9)


def test_one_data_set_goes_through_the_risk_table_family(monkeypatch):
    """The one definition: logrank_test's sums are logrank_u_v's, for two groups and for more."""
    from oligotrial.stats import survival_cox

    calls = []
    real = survival_cox.logrank_u_v
    monkeypatch.setattr(lr, "logrank_u_v", lambda table: calls.append(table.k) or real(table))
    rng = np.random.default_rng(4)
    t, e = rng.exponential(10, 300), rng.random(300) < 0.7
    lr.logrank_test(t, e, rng.integers(0, 2, 300))
    lr.logrank_test(t, e, rng.integers(0, 3, 300), strata=rng.integers(0, 2, 300))
    assert calls == [2, 3]

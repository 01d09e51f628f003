"""Heavily tied data (follow-up in whole days): the log-rank test groups rows by distinct time
instead of sorting every row, and gives the same statistic as the row kernel and lifelines."""

from __future__ import annotations

import numpy as np
import pytest

from oligotrial.stats import logrank as lr


def _tied(n: int, days: int, seed: int):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, days, n).astype(float), rng.random(n) < 0.6, rng.integers(0, 2, n),
            rng.integers(0, 3, n).astype(np.int64))


@pytest.mark.parametrize("stratified", [False, True])
def test_counting_by_distinct_time_equals_the_row_kernel(stratified):
    t, e, g, s = _tied(20_000, 120, 1)
    s = s if stratified else np.zeros(t.size, dtype=np.int64)
    n_strata = int(s.max()) + 1
    u1, v1, *_ = lr._logrank_two_group(t, e, g.astype(np.int8), s, n_strata, np.ones(t.size, dtype=bool))
    u2, v2 = lr._two_group_by_distinct_time(t, e, g.astype(np.int8), s, n_strata)
    assert u2 == pytest.approx(u1, rel=1e-12) and v2 == pytest.approx(v1, rel=1e-12)


def test_large_tied_data_takes_the_counting_path_and_equals_lifelines(monkeypatch):
    from lifelines.statistics import logrank_test as ll

    t, e, g, _ = _tied(100_000, 365, 2)
    calls = []
    real = lr._two_group_by_distinct_time
    monkeypatch.setattr(lr, "_two_group_by_distinct_time", lambda *a: calls.append(1) or real(*a))
    ours = lr.logrank_test(t, e, g)
    assert calls == [1]
    ref = ll(t[g == 0], t[g == 1], e[g == 0], e[g == 1])
    assert ours.statistic == pytest.approx(ref.test_statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(ref.p_value, rel=1e-9)


def test_continuous_or_small_data_keeps_the_row_kernel():
    rng = np.random.default_rng(3)
    assert not lr._heavily_tied(rng.exponential(10, 100_000))
    assert not lr._heavily_tied(rng.integers(0, 30, 1_000).astype(float))  # small: not worth it
    assert lr._heavily_tied(rng.integers(0, 30, 100_000).astype(float))

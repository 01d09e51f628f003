"""Benchmark: the log-rank test on heavily tied data (follow-up in whole days) against lifelines.

Peer: ``lifelines.statistics.logrank_test`` on the same arrays, in the same run, alternating the
two; the figure is the median of the paired ratios (oligotrial time / lifelines time; below 1 is
faster). Also times the row-sorting kernel oligotrial used before (``_logrank_two_group``) on the
same data, for the record. Target (issue 18): no slower than lifelines at 10^6 rows.

    .venv/bin/python benchmarks/bench_logrank_ties.py [--n 1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--days", type=int, default=730, help="distinct follow-up days (the ties)")
    args = ap.parse_args()
    from lifelines.statistics import logrank_test as ll

    from oligotrial.stats import logrank as lr

    rng = np.random.default_rng(20261202)
    t = rng.integers(0, args.days, args.n).astype(float)
    e = rng.random(args.n) < 0.6
    g = rng.integers(0, 2, args.n)
    a, b = g == 0, g == 1
    ours = lr.logrank_test(t, e, g)  # warm-up (numba compile, imports)
    ref = ll(t[a], t[b], e[a], e[b])
    assert abs(ours.statistic - ref.test_statistic) <= 1e-6 * max(1.0, ref.test_statistic), (ours, ref)
    lr._logrank_two_group(t, e, g.astype(np.int8), np.zeros(args.n, dtype=np.int64), 1, np.ones(args.n, dtype=bool))
    ratios, o_times, l_times, k_times = [], [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        lr.logrank_test(t, e, g)
        o = time.perf_counter() - t0
        t0 = time.perf_counter()
        ll(t[a], t[b], e[a], e[b])
        p = time.perf_counter() - t0
        t0 = time.perf_counter()
        lr._logrank_two_group(t, e, g.astype(np.int8), np.zeros(args.n, dtype=np.int64), 1,
                              np.ones(args.n, dtype=bool))
        k_times.append(time.perf_counter() - t0)
        ratios.append(o / p)
        o_times.append(o)
        l_times.append(p)
    med = statistics.median
    print(f"rows {args.n:,}, {args.days} distinct days, chi2 {ours.statistic:.6f} (lifelines {ref.test_statistic:.6f})")
    print(f"oligotrial logrank_test:            median {med(o_times) * 1000:.1f} ms")
    print(f"lifelines logrank_test (peer):      median {med(l_times) * 1000:.1f} ms")
    print(f"ratio oligotrial / lifelines:       median of paired runs {med(ratios):.2f}")
    print(f"row-sorting kernel (the old path):  median {med(k_times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()

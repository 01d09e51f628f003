"""Benchmark: ``oligotrial analysis survival`` computations (Kaplan-Meier, log-rank, Cox) on 10^6 rows.

Peers, in the same run on the same data:

* R ``survival`` 3.5 via Rscript: ``survfit(Surv(t, e) ~ g)``, ``survdiff(Surv(t, e) ~ g)`` and
  ``coxph(Surv(t, e) ~ g, ties = "efron")`` on the same rows (written to a CSV that R reads; the
  read and R's start-up are not timed), each timed ``--runs`` times inside R with
  ``system.time``; the ratio is oligotrial's median over R's median (below 1 is faster).
* lifelines: ``KaplanMeierFitter`` (one fit per group), ``logrank_test`` and ``CoxPHFitter``
  (Efron), alternated with oligotrial run by run; the figure is the median of the paired ratios.
  lifelines' Cox takes about 37 s at 10^6 rows on a 2-core machine
  (``shared/reference/design-and-analysis.md`` s.1.3), so it runs on the first ``--cox-n``
  rows (default 10^5) and oligotrial is timed on the same rows for that ratio.

oligotrial is timed from the raw arrays (row checks, the sort, the counts; what
``analyse_survival`` does): KM = ``group_curves``; log-rank = checks + sort + risk table + test;
Cox = checks + sort + risk table + Newton-Raphson. The full document (all three plus medians, CIs,
RMST) is timed too. Each result is checked against its peers before timing. Target (issue 18):
no slower than R at 10^6 rows for KM, log-rank and Cox.

    .venv/bin/python benchmarks/bench_survival.py [--n 1000000] [--runs 5] [--ties] [--cox-n 100000]

If Rscript or R's survival package is missing, the R column says so; nothing unmeasured is printed.

Measured on 2026-12-02 (2-core VM shared with other jobs, load about 3-4; --runs 3), 10^6 rows:

=========================  ===========  ===========  ===========  ====================
times to 1e-4 day          oligotrial   R survival   ratio to R   lifelines (paired)
Kaplan-Meier               725 ms       4042 ms      0.18         3856 ms (0.20)
log-rank                   1175 ms      4722 ms      0.25         4279 ms (0.28)
Cox (Efron)                1425 ms      6035 ms      0.24         (10^5 rows: 200 ms v 19.4 s, 0.010)
whole document             1824 ms      14799 ms     0.12
whole days (heavy ties)
Kaplan-Meier               655 ms       4088 ms      0.16         464 ms (1.47)
log-rank                   462 ms       3778 ms      0.12         558 ms (0.83)
Cox (Efron)                753 ms       4766 ms      0.16         (10^5 rows: 129 ms v 9.4 s, 0.014)
whole document             1093 ms      12632 ms     0.09
=========================  ===========  ===========  ===========  ====================

On tied data lifelines' Kaplan-Meier is faster: it is given each group's arrays, where
oligotrial's time includes checking every row and hashing the group labels.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
d <- read.csv("{csv}", colClasses = c("numeric", "integer", "character"))
d$g <- factor(d$g, levels = c("control", "sbrt"))
runs <- {runs}
tk <- tl <- tc <- numeric(runs)
for (i in 1:runs) {{
  tk[i] <- system.time(f <- survfit(Surv(t, e) ~ g, data = d))[["elapsed"]]
  tl[i] <- system.time(s <- survdiff(Surv(t, e) ~ g, data = d))[["elapsed"]]
  tc[i] <- system.time(m <- coxph(Surv(t, e) ~ g, data = d, ties = "efron"))[["elapsed"]]
}}
cat(sprintf("KM %.6f\nLR %.6f\nCOX %.6f\nCHISQ %.17g\nHR %.17g\nMEDIAN %.17g %.17g\n", median(tk), median(tl),
            median(tc), s$chisq, exp(coef(m))[[1]], quantile(f, 0.5)$quantile[1], quantile(f, 0.5)$quantile[2]))
"""


def _data(n: int, ties: bool, seed: int = 20261202):
    rng = np.random.default_rng(seed)
    sbrt = rng.random(n) < 0.5
    t = rng.exponential(365.0 * np.where(sbrt, 1.25, 1.0))
    c = rng.uniform(0.0, 1500.0, n)
    e = (t <= c).astype(np.int8)
    t = np.minimum(t, c)
    t = np.ceil(t) if ties else np.round(t, 4)       # whole days, or 0.0001 day (few ties)
    g = np.where(sbrt, "sbrt", "control").astype(object)
    return t, e, g


def _r(csv: Path, runs: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    script = R_SCRIPT.format(csv=csv.as_posix(), runs=runs)
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    if out.returncode != 0:
        print("R failed:", out.stderr.strip()[-500:])
        return None
    vals = {}
    for line in out.stdout.splitlines():
        key, *rest = line.split()
        vals[key] = [float(x) for x in rest]
    return vals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cox-n", type=int, default=100_000, help="rows for lifelines' Cox (slow)")
    ap.add_argument("--ties", action="store_true", help="times in whole days (heavy ties)")
    args = ap.parse_args()

    import pandas as pd
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    from oligotrial.stats.survival import (_cox_document, _prepare, analyse_survival, group_curves,
                                           validate_survival_data)
    from oligotrial.stats.survival_cox import logrank_from_table, risk_table

    t, e, g = _data(args.n, args.ties)
    a, b = g == "control", g == "sbrt"

    def ours_km():
        return group_curves(t, e, g)

    def ours_lr(tt=t, ee=e, gg=g):
        p = _prepare(validate_survival_data(tt, ee, gg), None)
        return logrank_from_table(risk_table(p.t, p.e, p.g, 2))

    def ours_cox(tt=t, ee=e, gg=g):
        p = _prepare(validate_survival_data(tt, ee, gg), None)
        return _cox_document(p, None, "control")

    def ll_km():
        return [KaplanMeierFitter().fit(t[m], e[m]) for m in (a, b)]

    def ll_lr():
        return logrank_test(t[a], t[b], e[a], e[b])

    nc = min(args.cox_n, args.n)
    cox_frame = pd.DataFrame({"T": t[:nc], "E": e[:nc], "sbrt": b[:nc].astype(float)})

    def ll_cox():
        return CoxPHFitter().fit(cox_frame, "T", "E")

    # warm-up and agreement
    doc = analyse_survival(t, e, g)
    assert abs(ours_lr()["chisq"] - ll_lr().test_statistic) <= 1e-8 * ll_lr().test_statistic
    km_ll = ll_km()
    for km, ref in zip(ours_km().values(), km_ll):
        assert np.allclose(ref.survival_function_.loc[km.time].to_numpy().ravel(), km.surv, rtol=1e-10)
    hr_small = ours_cox(t[:nc], e[:nc], g[:nc])["terms"][0]["hazard_ratio"]
    hr_ll = float(ll_cox().hazard_ratios_["sbrt"])
    assert abs(hr_small / hr_ll - 1) < 1e-5, (hr_small, hr_ll)

    timings: dict[str, list[float]] = {k: [] for k in ("km", "ll_km", "lr", "ll_lr", "cox", "cox_small", "ll_cox", "doc")}
    for _ in range(args.runs):
        for key, fn in (("km", ours_km), ("ll_km", ll_km), ("lr", ours_lr), ("ll_lr", ll_lr), ("cox", ours_cox),
                        ("cox_small", lambda: ours_cox(t[:nc], e[:nc], g[:nc])), ("ll_cox", ll_cox),
                        ("doc", lambda: analyse_survival(t, e, g, at=[180, 365], tau=720))):
            t0 = time.perf_counter()
            fn()
            timings[key].append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "survival.csv"
        pd.DataFrame({"t": t, "e": e, "g": g}).to_csv(csv, index=False, float_format="%.17g")
        r = _r(csv, max(1, min(args.runs, 3)))

    med = statistics.median

    def paired(x: str, y: str) -> float:
        return med([p / q for p, q in zip(timings[x], timings[y])])

    print(f"rows {args.n:,} ({'whole days, heavy ties' if args.ties else 'times to 1e-4 day'}), 2 groups, "
          f"{int(e.sum()):,} events; runs {args.runs}")
    print(f"log-rank chi2 {doc['logrank']['chisq']:.6f}; Cox HR {doc['cox']['terms'][0]['hazard_ratio']:.10f}; "
          f"medians {doc['groups'][0]['median']['estimate']:.4f} / {doc['groups'][1]['median']['estimate']:.4f}")
    if r is not None:
        print(f"R: chi2 {r['CHISQ'][0]:.6f}; HR {r['HR'][0]:.10f}; medians {r['MEDIAN'][0]:.4f} / {r['MEDIAN'][1]:.4f}")
        assert abs(r["CHISQ"][0] / doc["logrank"]["chisq"] - 1) < 1e-6
        assert abs(r["HR"][0] / doc["cox"]["terms"][0]["hazard_ratio"] - 1) < 1e-6
    print(f"{'':28s}{'oligotrial':>12s}{'lifelines':>12s}{'paired ratio':>14s}{'R survival':>12s}{'ratio to R':>12s}")
    rows = (("Kaplan-Meier", "km", "ll_km", "KM"), ("log-rank", "lr", "ll_lr", "LR"), ("Cox (Efron)", "cox", None, "COX"))
    for label, ours, peer, rkey in rows:
        line = f"{label:28s}{med(timings[ours]) * 1000:10.0f}ms"
        line += f"{med(timings[peer]) * 1000:10.0f}ms{paired(ours, peer):14.3f}" if peer else f"{'(below)':>12s}{'':14s}"
        line += (f"{r[rkey][0] * 1000:10.0f}ms{med(timings[ours]) / r[rkey][0]:12.3f}" if r and r[rkey][0] > 0
                 else f"{'n/a':>12s}")
        print(line)
    print(f"{f'Cox on {nc:,} rows':28s}{med(timings['cox_small']) * 1000:10.0f}ms{med(timings['ll_cox']) * 1000:10.0f}ms"
          f"{paired('cox_small', 'll_cox'):14.3f}   (lifelines' Cox is run on {nc:,} rows only)")
    print(f"{'whole document':28s}{med(timings['doc']) * 1000:10.0f}ms"
          + (f"{'':26s}{sum(r[k][0] for k in ('KM', 'LR', 'COX')) * 1000:10.0f}ms"
             f"{med(timings['doc']) / sum(r[k][0] for k in ('KM', 'LR', 'COX')):12.3f}" if r else ""))


if __name__ == "__main__":
    main()

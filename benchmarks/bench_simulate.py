"""Benchmark: oligotrial's trial simulator against rpact ``getSimulationSurvival``.

100,000 simulated trials of a 146-subject, 120-event design (HR 0.6, control median 6 months,
uniform accrual over 24 months, 5% dropout by 12 months, 1:1, one-sided alpha 0.025 --
rpact's ``getSampleSizeSurvival`` gives N = 146.0 for these inputs), timed back to back in the
same run: ``--pairs`` pairs of one oligotrial run (warm, numba compile excluded) and one rpact
run (timed inside R, R start-up excluded), each pair with its own seed; the figure is the median
of the paired ratios, not a best-of-n (target: >= 10x rpact on 2 cores). Also prints the
simulated power of each with its Monte-Carlo SE. Where CuPy and a GPU are present it also
times the GPU backend and prints simulated patients/second.

Run:  .venv/bin/python benchmarks/bench_simulate.py [--trials 100000] [--no-install]
If R or rpact is missing it runs benchmarks/setup_r.sh; if that fails it says so and exits 2.
It never prints a figure it did not measure.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DESIGN = dict(n_subjects=146, events=120, hazard_ratio=0.6, median_control_months=6.0,
              accrual_months=24.0, dropout_rate=0.05, dropout_time_months=12.0, alpha=0.025)


def _have_rpact() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", 'quit(status = !requireNamespace("rpact", quietly = TRUE))'],
                           capture_output=True)
    return probe.returncode == 0


def _ensure_r(install: bool) -> bool:
    if _have_rpact():
        return True
    if install:
        print("R/rpact missing: running benchmarks/setup_r.sh", flush=True)
        subprocess.run(["bash", str(HERE / "setup_r.sh")], check=False)
    return _have_rpact()


R_SCRIPT = r"""
suppressPackageStartupMessages(library(rpact))
d <- getDesignGroupSequential(kMax = 1, alpha = {alpha}, sided = 1)
el <- Inf
for (rep in 1:1) {{
  t0 <- proc.time()[["elapsed"]]
  s <- getSimulationSurvival(d, hazardRatio = {hazard_ratio}, median2 = {median_control_months},
    maxNumberOfSubjects = {n_subjects}, plannedEvents = {events}, accrualTime = c(0, {accrual_months}),
    dropoutRate1 = {dropout_rate}, dropoutRate2 = {dropout_rate}, dropoutTime = {dropout_time_months},
    maxNumberOfIterations = {trials}L, seed = {seed}, directionUpper = FALSE,
    longTimeSimulationAllowed = TRUE)
  el <- min(el, proc.time()[["elapsed"]] - t0)
}}
cat(sprintf("RPACT elapsed=%.6f power=%.6f version=%s\n", el, as.numeric(s$overallReject),
            as.character(packageVersion("rpact"))))
"""


def run_rpact(trials: int, seed: int = 20240101) -> tuple[float, float, str]:
    script = R_SCRIPT.format(trials=trials, seed=seed, **DESIGN)
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True)
    m = re.search(r"RPACT elapsed=([\d.]+) power=([\d.]+) version=(\S+)", out.stdout)
    if out.returncode != 0 or m is None:
        raise RuntimeError(f"rpact run failed:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1)), float(m.group(2)), m.group(3)


def run_ours(trials: int, backend: str, seed: int | None = None) -> tuple[float, float, float]:
    from oligotrial.stats.simulate import TrialScenario, simulate_trials

    scn = TrialScenario.proportional_hazards(
        n_subjects=DESIGN["n_subjects"], median_control_months=DESIGN["median_control_months"],
        hazard_ratio=DESIGN["hazard_ratio"], accrual_months=DESIGN["accrual_months"],
        events_target=DESIGN["events"], dropout_rate_experimental=DESIGN["dropout_rate"],
        dropout_rate_control=DESIGN["dropout_rate"],
        dropout_time_months=DESIGN["dropout_time_months"], alpha=DESIGN["alpha"])
    simulate_trials(scn, 2000, rng=np.random.default_rng(0), backend=backend)  # compile / warm
    t0 = time.perf_counter()
    res = simulate_trials(scn, trials, rng=np.random.default_rng(20240101 if seed is None else seed),
                          backend=backend, chunk_trials=16384)
    return time.perf_counter() - t0, res.rejection_rate, res.mc_se


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100_000)
    ap.add_argument("--no-install", action="store_true", help="do not run setup_r.sh")
    ap.add_argument("--pairs", type=int, default=5, help="back-to-back pairs (oligotrial, rpact)")
    args = ap.parse_args()

    if not _ensure_r(install=not args.no_install):
        print("rpact is not available (R or r-cran-rpact could not be installed): no comparison "
              "figure can be measured.", file=sys.stderr)
        return 2

    import numba

    print(f"design: {DESIGN}")
    print(f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}")
    pairs = []
    for k in range(args.pairs):
        seed = 20240101 + k
        t_ours, p_ours, se_ours = run_ours(args.trials, "numba", seed)
        t_r, p_r, r_version = run_rpact(args.trials, seed)
        pairs.append((t_ours, t_r))
    import statistics

    t_ours = statistics.median(p[0] for p in pairs)
    t_r = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(b / a for a, b in pairs)
    ours_tps = args.trials / t_ours
    r_tps = args.trials / t_r
    se_r = math.sqrt(p_r * (1 - p_r) / args.trials)
    print(f"oligotrial (numba, median of {args.pairs}): {args.trials} trials in {t_ours:.3f} s = "
          f"{ours_tps:,.0f} trials/s = {ours_tps * DESIGN['n_subjects']:,.0f} patients/s; "
          f"power {p_ours:.4f} (MC SE {se_ours:.4f}, last pair)")
    print(f"rpact {r_version} getSimulationSurvival (median of {args.pairs}): {args.trials} trials in {t_r:.3f} s = "
          f"{r_tps:,.0f} trials/s; power {p_r:.4f} (MC SE {se_r:.4f}, last pair)")
    print(f"ratio oligotrial / rpact: median of {args.pairs} paired runs {ratio:.1f}x (target >= 10x: "
          f"{'met' if ratio >= 10 else 'NOT met'}); pairs: "
          + ", ".join(f"{b / a:.1f}" for a, b in pairs))
    print(f"power difference {p_ours - p_r:+.4f} = "
          f"{(p_ours - p_r) / math.hypot(se_ours, se_r):+.2f} combined MC SE")

    from oligotrial.stats.simulate import gpu_available

    if gpu_available():
        t_gpu, p_gpu, _ = run_ours(args.trials * 10, "cupy")
        print(f"oligotrial (cupy GPU): {args.trials * 10} trials in {t_gpu:.3f} s = "
              f"{args.trials * 10 * DESIGN['n_subjects'] / t_gpu:,.0f} patients/s; "
              f"power {p_gpu:.4f}")
    else:
        print("GPU backend: not measured (CuPy or a CUDA GPU not present)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: how long `oligotrial design sample-size` takes from the shell, start-up included.

Peer: R with rpact computing the same design (`Rscript -e 'rpact::getSampleSizeSurvival(...)'`),
in the same run, alternating the two commands; the figure is the median of the paired ratios
(oligotrial / rpact). A second line gives the Python interpreter's own start-up (`python -c pass`)
as the floor no Python command can go under. Target (issue 18): under 0.5 s, no slower than R.

    .venv/bin/python benchmarks/bench_cli_startup.py [--runs 15]

R and rpact come from Debian (`bash benchmarks/setup_r.sh`); without them only the floor is shown.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
OURS = [str(VENV_BIN / "oligotrial"), "design", "sample-size", "--hazard-ratio", "0.6", "--alpha", "0.05",
        "--sided", "2", "--power", "0.8", "--median-control-months", "6", "--accrual-months", "24",
        "--follow-up-months", "12", "--json"]
RPACT = ["Rscript", "-e", "suppressMessages(library(rpact)); d <- getDesignGroupSequential(kMax = 1, alpha = 0.05, "
         "sided = 2, beta = 0.2); s <- getSampleSizeSurvival(d, hazardRatio = 0.6, median2 = 6, accrualTime = 24, "
         "followUpTime = 12); cat(s$maxNumberOfEvents, '\\n')"]
FLOOR = [sys.executable, "-c", "pass"]


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    have_r = shutil.which("Rscript") is not None and subprocess.run(
        ["Rscript", "-e", 'quit(status = !requireNamespace("rpact", quietly = TRUE))'],
        capture_output=True).returncode == 0
    _time(OURS)  # warm the file cache once for both
    if have_r:
        _time(RPACT)
    ours, peer, floor = [], [], []
    for _ in range(args.runs):
        ours.append(_time(OURS))
        if have_r:
            peer.append(_time(RPACT))
        floor.append(_time(FLOOR))
    med = statistics.median
    print(f"oligotrial design sample-size: median {med(ours):.3f} s over {args.runs} runs (target < 0.5 s)")
    if have_r:
        ratios = [a / b for a, b in zip(ours, peer)]
        print(f"Rscript + rpact (peer):        median {med(peer):.3f} s")
        print(f"ratio oligotrial / rpact:      median of paired runs {med(ratios):.2f}")
    else:
        print("Rscript with rpact not found: run benchmarks/setup_r.sh for the peer")
    print(f"python -c pass (floor):        median {med(floor):.3f} s")


if __name__ == "__main__":
    main()

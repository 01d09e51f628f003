"""Benchmark: screening a synthetic registry against the five protocols.

Peer: parsing and validating the same records only (``json.loads`` + ``parse_patient``), in the
same run, on the same worker processes, under the same collector settings (``batch_gc``, as
``oligotrial screen`` uses). The screening loop evaluates every criterion of every trial and
also builds the reason of every criterion that fails or is undecided (reasons are otherwise
formatted only when read). Reports patient-screens per second (one patient screened
against all five protocols = one patient-screen; x5 for patient-protocol screens) and the ratio
of screening time to parse-only time. Targets (issue 2): >= 10,000 patient x 5-protocol screens
per second on 2 cores, at most 3x the parse-only time.

    .venv/bin/python benchmarks/bench_screening.py --n 100000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import get_context

sys.path.insert(0, os.path.dirname(__file__))


def _work(args: tuple[int, int, int]) -> tuple[float, float, int, dict]:
    seed, start, stop = args
    from synthetic_registry import make_record

    from oligotrial.domain.patient import parse_patient
    from oligotrial.domain.screening import screen_against
    from oligotrial.errors import RecordError
    from oligotrial.protocols import list_protocols
    from oligotrial.service.batch import batch_gc

    protocols = list_protocols()
    texts = [json.dumps(make_record(seed, i)) for i in range(start, stop)]
    # warm-up: compile protocols, import paths
    screen_against(parse_patient(json.loads(texts[0])), protocols)

    with batch_gc():  # the same collector settings as `oligotrial screen` uses, for both loops
        t0 = time.perf_counter()
        for t in texts:
            try:
                parse_patient(json.loads(t))
            except RecordError:
                pass
        parse_s = time.perf_counter() - t0

        verdicts: dict[str, int] = {}
        reasons = 0
        t0 = time.perf_counter()
        for t in texts:
            try:
                for r in screen_against(parse_patient(json.loads(t)), protocols):
                    verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
                    # what a coordinator reads: the reason of every criterion that fails or is undecided
                    for c in r.failing + r.undecided:
                        reasons += len(c.reason)
            except RecordError:
                verdicts["record_error"] = verdicts.get("record_error", 0) + 1
        screen_s = time.perf_counter() - t0
    return parse_s, screen_s, len(texts), verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    chunk = max(1, args.n // (args.workers * 8))
    tasks = [(args.seed, s, min(args.n, s + chunk)) for s in range(0, args.n, chunk)]
    wall = time.perf_counter()
    with get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(_work, tasks)
    wall = time.perf_counter() - wall
    parse_s = sum(r[0] for r in results) / args.workers
    screen_s = sum(r[1] for r in results) / args.workers
    n = sum(r[2] for r in results)
    verdicts: dict[str, int] = {}
    for r in results:
        for k, v in r[3].items():
            verdicts[k] = verdicts.get(k, 0) + v
    out = {
        "patients": n,
        "protocols": 5,
        "workers": args.workers,
        "parse_only_s": round(parse_s, 3),
        "parse_and_screen_s": round(screen_s, 3),
        "patient_screens_per_s": round(n / screen_s, 1),
        "patient_protocol_screens_per_s": round(5 * n / screen_s, 1),
        "parse_only_records_per_s": round(n / parse_s, 1),
        "ratio_screen_to_parse_only": round(screen_s / parse_s, 2),
        "verdicts": verdicts,
        "wall_s_including_generation": round(wall, 1),
        "targets": {"patient_screens_per_s": 10_000, "ratio_at_most": 3.0},
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:36s} {v}")


if __name__ == "__main__":
    main()

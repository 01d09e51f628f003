"""Benchmark: ``oligotrial screen DIR --json`` on several worker processes against one.

Peer: the same command on one process (``--workers 1``), in the same run, on the same files.
Writes ``--n`` synthetic records (the seeded registry of ``bench_screening.py``) to a temporary
directory, runs the command with each worker count (output to /dev/null; the JSON is written
either way), and reports records per second and the speed-up over one process. Start-up
(imports, protocol loading, worker start) is included: it is what a coordinator waits for.

    .venv/bin/python benchmarks/bench_screen_cli.py --n 20000 --workers 2 [--compact]

``--compact`` runs ``screen DIR --json --compact`` (``oligotrial.screening-summary/1``) and also
reports the rate with start-up excluded: (N - 1) records / (time for N files - time for one file),
on the given worker count (issue 17 target: >= 1,000 patients/s on 2 cores with ``--workers 0``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))


def _run(cli: str, folder: str, workers: int, compact: bool = False) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([cli, "screen", folder, "--json", "--as-of", "2026-06-01", "--workers", str(workers)]
                       + (["--compact"] if compact else []),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if r.returncode not in (0, 1):  # 1: some synthetic records are malformed on purpose
        sys.exit(f"oligotrial screen --workers {workers} exited {r.returncode}: {r.stderr[-2000:]}")
    return elapsed


def main() -> None:
    from synthetic_registry import make_record

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--compact", action="store_true", help="screen --json --compact (the summary format)")
    args = ap.parse_args()
    cli = str(Path(sys.executable).with_name("oligotrial"))
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory() as single:
        for i in range(args.n):
            (Path(folder) / f"p{i:07d}.json").write_text(json.dumps(make_record(args.seed, i)))
        (Path(single) / "p0000000.json").write_text(json.dumps(make_record(args.seed, 0)))
        one = _run(cli, folder, 1, args.compact)
        many = _run(cli, folder, args.workers, args.compact)
        start = _run(cli, single, args.workers, args.compact)
    out = {"records": args.n, "one_process_s": round(one, 2), f"{args.workers}_workers_s": round(many, 2),
           "one_process_records_per_s": round(args.n / one, 1),
           f"{args.workers}_workers_records_per_s": round(args.n / many, 1),
           "speed_up": round(one / many, 2),
           "start_up_s (one file)": round(start, 2),
           f"{args.workers}_workers_records_per_s_excluding_start_up": round((args.n - 1) / max(many - start, 1e-9), 1),
           "format": "oligotrial.screening-summary/1" if args.compact else "oligotrial.screening/1"}
    for k, v in out.items():
        print(f"{k:32s} {v}")


if __name__ == "__main__":
    main()

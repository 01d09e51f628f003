"""Benchmark: a whole trial on SQLite -- ``oligotrial demo`` for N candidates (default 1,000),
then its report -- against the storage floor of the same run.

Peer (the floor): as many plain ``sqlite3`` transactions (one INSERT of a JSON row and a COMMIT,
WAL, ``synchronous=FULL``, as oligotrial's engine sets them) as the demo wrote audit entries
(every service call that writes is one transaction with one audit entry), timed in the same run.
The ratio says what the service layer costs over the database's own commit cost: validation of
every entry against the record models, the protocol's rules, the audit chain's keyed digests,
the state derivation. Goal (issue 18): a whole trial of 1,000 participants in under a minute.

    .venv/bin/python benchmarks/bench_demo.py [--patients 1000] [--trial STOP-2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import tempfile
import time
from pathlib import Path


def floor(n: int, path: Path) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    body = json.dumps({"action": "entry.record", "new": {"date": "2026-01-01", "findings": [{"lesion": "L1"}] * 4}})
    t0 = time.perf_counter()
    for _ in range(n):
        con.execute("BEGIN")
        con.execute("INSERT INTO t (body) VALUES (?)", (body,))
        con.execute("COMMIT")
    took = time.perf_counter() - t0
    con.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--trial", default="STOP-2")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.adapters.io.report_html import write_report
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.service.demo import DATA_CUT, Demo, DemoClock
    from oligotrial.service.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        clock = DemoClock(dt.date(2000, 1, 1))
        c = bootstrap(Settings(database_url=f"sqlite:///{d / 'trial.db'}", audit_key_dir=str(d / "keys")),
                      clock=clock, hasher=Argon2Hasher(fast=True))
        c.ctx.load_protocol(args.trial)  # the protocol catalogue, loaded once by any command
        t0 = time.perf_counter()
        result = Demo(c.ctx, clock, args.trial, patients=args.patients, seed=args.seed).run()
        t_demo = time.perf_counter() - t0
        with c.ctx.uow() as uow:
            writes = uow.session.count("audit_log")
        t0 = time.perf_counter()
        report = build_report(c.ctx, args.trial, data_cut=DATA_CUT)
        write_report(report, d / "out")
        t_report = time.perf_counter() - t0
        c.dispose()
        t_floor = floor(writes, d / "floor.db")
    total = t_demo + t_report
    print(f"trial {args.trial}: {args.patients} candidates, {result.randomized} randomized, "
          f"{writes} audited writes, {len(result.refusals)} refusals")
    print(f"demo (all service calls): {t_demo:.1f} s ({1000 * t_demo / writes:.2f} ms per write)")
    print(f"report (analyses, figures, HTML): {t_report:.1f} s")
    print(f"whole trial: {total:.1f} s (goal: under 60 s for 1,000 candidates)")
    print(f"peer, the storage floor ({writes} plain sqlite3 insert+commit transactions): {t_floor:.2f} s; "
          f"ratio demo / floor = {t_demo / t_floor:.1f}")


if __name__ == "__main__":
    main()

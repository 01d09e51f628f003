"""Randomization latency and throughput on PostgreSQL, next to pgbench on the same server.

32 concurrent clients (threads in one process, each call on its own pooled connection) call the randomize use case —
the real service path: row lock on the participant and the stratum cursor, slot decryption,
allocation encryption, audit-chain append, commit. Then pgbench (TPC-B-like, 32 clients)
runs against the same server. Printed: p50, p99, throughput, pgbench tps and the ratio.
Target: p99 < 100 ms and throughput >= 25% of pgbench's commit rate.

    python benchmarks/bench_randomize.py [--n 1600] [--clients 32] [--seconds 10]
    (PostgreSQL from OLIGOTRIAL_BENCH_POSTGRES_URL / OLIGOTRIAL_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_URL = os.environ.get("OLIGOTRIAL_BENCH_POSTGRES_URL") or os.environ.get(
    "OLIGOTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def bench_randomize(n: int, clients: int) -> dict:
    import psycopg

    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.domain.workflow import Participant
    from oligotrial.service import randomization
    from oligotrial.service.ports import Actor

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    container = bootstrap(Settings(database_url=PG_URL, database_schema=schema, db_pool_size=clients))
    try:
        ctx = container.ctx
        trial = "NCT06918951"
        randomization.generate_list(ctx, trial, seed=1, size_per_stratum=n)
        record = json.loads((ROOT / "tests" / "data" / "format_example_patient.json").read_text())
        pids = [uuid.uuid4().hex for _ in range(n)]
        with ctx.uow() as uow:  # set-up only: participants already enrolled
            for i, pid in enumerate(pids):
                uow.repo.add_participant(Participant(pid, trial, f"B-{i}", record, state="enrolled",
                                                     created_at="2026-03-02T00:00:00+00:00"))
            uow.commit()
        # 32 client threads, each holding its own pooled connection for each call
        actor = Actor("bench", {trial: "coordinator"})
        latencies: list[float] = []

        def one(pid: str) -> None:
            t0 = time.perf_counter()
            randomization.randomize(ctx, actor, trial, pid, {})
            latencies.append(time.perf_counter() - t0)

        with ThreadPoolExecutor(clients) as pool:  # warm-up: open the connections
            list(pool.map(one, pids[:clients]))
        latencies.clear()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, pids[clients:]))
        wall = time.perf_counter() - t0
        qs = statistics.quantiles(latencies, n=100)
        return {"randomizations": len(latencies), "p50_ms": qs[49] * 1000, "p99_ms": qs[98] * 1000,
                "throughput_per_s": len(latencies) / wall}
    finally:
        container.dispose()
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bench_pgbench(clients: int, seconds: int) -> float:
    exe = shutil.which("pgbench")
    if exe is None:
        raise SystemExit("pgbench not found: apt-get install postgresql-client (or postgresql-contrib)")
    url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run([exe, "-i", "-q", "-s", "4", url], check=True, capture_output=True)
    try:
        out = subprocess.run([exe, "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 2)),
                              "-T", str(seconds), url], check=True, capture_output=True, text=True).stdout
        m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out) or re.search(r"tps = ([\d.]+)", out)
        return float(m.group(1))
    finally:
        subprocess.run([exe, "-i", "-I", "d", url], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1600)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    r = bench_randomize(a.n, a.clients)
    tps = bench_pgbench(a.clients, a.seconds)
    ratio = r["throughput_per_s"] / tps
    print(f"randomize on PostgreSQL, {a.clients} concurrent clients, {r['randomizations']} allocations")
    print(f"  latency p50 {r['p50_ms']:.1f} ms   p99 {r['p99_ms']:.1f} ms   (target p99 < 100 ms)")
    print(f"  throughput {r['throughput_per_s']:.0f} randomizations/s")
    print(f"pgbench (TPC-B-like, scale 4, {a.clients} clients, {a.seconds} s): {tps:.0f} tps")
    print(f"ratio randomize/pgbench = {ratio:.2f}   (target >= 0.25)")
    print(json.dumps({**r, "pgbench_tps": tps, "ratio": ratio}))


if __name__ == "__main__":
    main()

"""Randomization latency and throughput on PostgreSQL, next to pgbench on the same server.

What is measured: ``--clients`` (default 32) concurrent clients, each a separate OS process
with its own database connection (as pgbench's clients are separate connections driven by
their own threads), call the randomize use case in a closed loop — the real service path:
role check and the audit entry built; then one statement, sent with BEGIN and COMMIT, that
row-locks the participant and checks its state, advances the stratum cursor and takes its
slot, and writes the participant's state, the allocation and the audit-chain entry; then the
slot's arm decrypted for the response. All clients draw from
one stratum of one trial (NCT06918951 is not stratified), the worst case: every allocation
serialises on the same cursor and on the global audit-chain head. Latency is per call,
measured in the client; throughput is allocations committed per wall-clock second.

Each client first makes ``--warmup`` untimed allocations (connection, statement caches, the
driver's prepared statements; pgbench likewise leaves out connection set-up), and no client
exits before all are done. Separate processes keep Python's GIL out of the measurement: 32
threads in one interpreter on a small machine mostly measure GIL hand-offs (``--threads`` runs
that variant for comparison; a server would run several worker processes). The clients, the
PostgreSQL backends and later pgbench share the same CPU cores; on a 2-core machine both
figures are CPU-bound, and anything else running on the machine lowers both.

Then pgbench (TPC-B-like, scale 4, same number of clients, ``-j`` = cores) runs against the
same server, right after each level. Printed per level (1, 8, 32 and 64 clients by default):
p50, p99, throughput, the clients' own CPU per allocation, pgbench tps and the ratio.
Target (issue 19): p99 < 100 ms at 32 clients and throughput >= 0.5 of pgbench's commit rate.
After each level the allocations are checked: every participant one slot, slots 1..n taken
(none shared or skipped), every complete block exactly balanced by the allocation ratio, and
the audit chain (keyed digests, allocations) verified.

``--durability`` chooses how a randomization's commit is made durable: ``barrier`` (default:
the hot rows are released before the WAL flush and the call waits for the flush after, see
``SqlSession.allocate_round_trip``) or ``sync`` (synchronous commit under the locks, as
before issue 19). ``--sqlite`` measures SQLite instead (one file, ``--levels`` clients as
processes; SQLite serialises every writer on one database lock: target p99 < 500 ms at 8).

    python benchmarks/bench_randomize.py [--levels 1,8,32,64] [--n 800] [--seconds 5] [--warmup 4]
                                         [--durability barrier|sync] [--threads] [--sqlite]
    (PostgreSQL from OLIGOTRIAL_BENCH_POSTGRES_URL / OLIGOTRIAL_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_URL = os.environ.get("OLIGOTRIAL_BENCH_POSTGRES_URL") or os.environ.get(
    "OLIGOTRIAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TRIAL = "NCT06918951"


KEY_DIR = tempfile.mkdtemp(prefix="bench-keys-")  # the audit anchor of the benchmark's databases
SQLITE_DIR = tempfile.mkdtemp(prefix="bench-sqlite-")
DURABILITY = {"barrier": True, "sync": False}


def _settings(schema: str, pool: int):
    from oligotrial.config import Settings

    if schema.startswith("sqlite:"):
        return Settings(database_url=schema, audit_key_dir=os.path.join(KEY_DIR, os.path.basename(schema)))
    return Settings(database_url=PG_URL, database_schema=schema, db_pool_size=pool,
                    audit_key_dir=os.path.join(KEY_DIR, schema))


def _client(schema: str, warm: list[str], pids: list[str], counter, barrier, out, durability: str = "barrier") -> None:
    """One client process: its own engine (one connection); warm up (connection, statement
    caches, the driver's prepared statements), wait for all, take the next participant from the
    shared counter until none is left, then wait for all again before tearing down, so no
    start-up or exit work overlaps the timed window."""
    from oligotrial.adapters.db.allocation import SqlAllocationRepository
    from oligotrial.bootstrap import bootstrap
    from oligotrial.service import randomization
    from oligotrial.service.ports import Actor

    SqlAllocationRepository.release_before_flush = DURABILITY[durability]
    container = bootstrap(_settings(schema, 1), migrate=False)
    ctx, actor = container.ctx, Actor("bench", {TRIAL: "coordinator"})
    latencies: list[float] = []
    try:
        for pid in warm:
            randomization.randomize(ctx, actor, TRIAL, pid, {})
        barrier.wait()
        while True:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
            if i >= len(pids):
                break
            t0 = time.perf_counter()
            randomization.randomize(ctx, actor, TRIAL, pids[i], {})
            latencies.append(time.perf_counter() - t0)
        out.put((latencies, time.monotonic(), None))
        barrier.wait()
    except BaseException as exc:  # report, never hang the parent
        barrier.abort()
        out.put((latencies, time.monotonic(), f"{type(exc).__name__}: {exc}"))
    finally:
        container.dispose()


def _run_processes(schema: str, warm: list[list[str]], pids: list[str],
                   clients: int, durability: str = "barrier") -> tuple[list[float], float]:
    ctx = mp.get_context("fork")  # the parent has imported everything; children start at once
    counter, barrier, out = ctx.Value("i", 0), ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=_client, args=(schema, warm[k], pids, counter, barrier, out, durability))
             for k in range(clients)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=300)
    except Exception:  # a client failed while warming up and broke the barrier
        error = out.get(timeout=60)[2]
        for p in procs:
            p.join(60)
        raise SystemExit(f"a client failed: {error}") from None
    t0 = time.monotonic()
    results = [out.get(timeout=600) for _ in procs]
    try:
        barrier.wait(timeout=60)  # let the clients tear down only now
    except Exception:  # a client failed and broke the barrier: reported below
        pass
    for p in procs:
        p.join()
    errors = [e for _, _, e in results if e]
    if errors:
        raise SystemExit(f"{len(errors)} client(s) failed: {errors[0]}")
    return [x for lat, _, _ in results for x in lat], max(end for _, end, _ in results) - t0


def _run_threads(ctx, warm: list[list[str]], pids: list[str], clients: int) -> tuple[list[float], float]:
    from oligotrial.service import randomization
    from oligotrial.service.ports import Actor

    actor = Actor("bench", {TRIAL: "coordinator"})
    latencies: list[float] = []

    def one(pid: str) -> None:
        t0 = time.perf_counter()
        randomization.randomize(ctx, actor, TRIAL, pid, {})
        latencies.append(time.perf_counter() - t0)

    with ThreadPoolExecutor(clients) as pool:  # warm-up: open the connections, prepare statements
        list(pool.map(one, [pid for w in warm for pid in w]))
    latencies.clear()
    t0 = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, pids))
    return latencies, time.monotonic() - t0


def _check(ctx, n: int) -> dict:
    """The run was correct: every participant one slot, slots 1..n taken (none shared or
    skipped), every complete block balanced exactly by the allocation ratio, the chain verifies."""
    from oligotrial.service import audit

    protocol = ctx.load_protocol(TRIAL)
    ratio = dict(protocol.allocation_ratio)
    with ctx.uow() as uow:
        rl = uow.allocation.get_list(TRIAL)
        slots = uow.allocation.slots(rl.id)
        allocs = uow.allocation.allocations(TRIAL)
    by_stratum: dict[str, list[int]] = {}
    for s in slots:
        if s.participant_id is not None:
            by_stratum.setdefault(s.stratum, []).append(s.seq)
    for stratum, seqs in by_stratum.items():  # each stratum's slots taken in order, from 1
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"a slot of {stratum} was shared or skipped"
    assert sum(len(v) for v in by_stratum.values()) == n, "a slot was shared or skipped"
    assert len({a.participant_id for a in allocs}) == n == len(allocs), "a participant has two allocations"
    assert len({(a.stratum, a.seq) for a in allocs}) == n, "two allocations share a slot"
    blocks: dict[int, list] = {}
    for s in slots:
        blocks.setdefault((s.stratum, s.block), []).append(s)
    complete = 0
    for block in blocks.values():
        if all(s.participant_id is not None for s in block):
            arms = Counter(ctx.cipher.decrypt(s.payload_ct, f"slot|{TRIAL}|{s.stratum}|{s.seq}") for s in block)
            unit = len(block) // sum(ratio.values())
            assert arms == Counter({a: r * unit for a, r in ratio.items()}), f"block not balanced: {arms}"
            complete += 1
    rep = audit.verify(ctx)
    assert rep.ok, rep.to_dict()
    return {"duplicates": 0, "complete_blocks_balanced": complete}


def bench_randomize(n: int, clients: int, threads: bool = False, warmup: int = 8, durability: str = "barrier",
                    sqlite: bool = False, sites: int = 0) -> dict:
    """``n`` timed randomizations by ``clients`` clients, after ``warmup`` untimed ones each. With
    ``sites``, the list is stratified by site and the participants spread over the sites in turn
    (each allocation then locks its own site's cursor, and all still share the audit-chain head)."""
    import psycopg

    from oligotrial.adapters.db.allocation import SqlAllocationRepository
    from oligotrial.bootstrap import bootstrap
    from oligotrial.domain.trial.workflow import Participant
    from oligotrial.service import randomization

    SqlAllocationRepository.release_before_flush = DURABILITY[durability]
    if sqlite:
        schema = f"sqlite:///{SQLITE_DIR}/bench_{uuid.uuid4().hex[:8]}.db"
    else:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
    container = bootstrap(_settings(schema, clients if threads else 2))
    try:
        ctx = container.ctx
        total = n + clients * warmup
        codes = [f"site{k}" for k in range(sites)] if sites else None
        randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=total, sites=codes)
        record = json.loads((ROOT / "tests" / "data" / "format_example_patient.json").read_text())
        pids = [uuid.uuid4().hex for _ in range(total)]
        with ctx.uow() as uow:  # set-up only: participants already enrolled
            for i, pid in enumerate(pids):
                uow.participants.add_participant(Participant(pid, TRIAL, f"B-{i}", record, state="enrolled",
                                                     created_at="2026-03-02T00:00:00+00:00",
                                                     site=codes[i % sites] if codes else None))
            uow.commit()
        warm = [pids[k * warmup:(k + 1) * warmup] for k in range(clients)]
        timed = pids[clients * warmup:]
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN if not threads else resource.RUSAGE_SELF)
        if threads:
            latencies, wall = _run_threads(ctx, warm, timed, clients)
        else:
            container.engine.dispose()  # no connection crosses the fork
            latencies, wall = _run_processes(schema, warm, timed, clients, durability)
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN if not threads else resource.RUSAGE_SELF)
        checked = _check(ctx, total)
        qs = statistics.quantiles(latencies, n=100)
        client_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / total * 1000
        return {"clients": clients, "randomizations": len(latencies), "p50_ms": qs[49] * 1000,
                "p99_ms": qs[98] * 1000, "throughput_per_s": len(latencies) / wall,
                "client_cpu_ms_per_allocation": client_cpu, "durability": durability,
                "backend": "sqlite" if sqlite else "postgresql", "sites": sites,
                "clients_are": "threads" if threads else "processes", **checked}
    finally:
        container.dispose()
        if not sqlite:
            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _pgbench() -> str:
    exe = shutil.which("pgbench")
    if exe is None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
        if not found:
            raise SystemExit("pgbench not found: apt-get install postgresql-client (or postgresql-contrib)")
        exe = str(found[-1])
    return exe


def bench_pgbench(clients: int, seconds: int) -> float:
    exe = _pgbench()
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="1,8,32,64", help="numbers of concurrent clients, comma-separated")
    ap.add_argument("--n", type=int, default=800, help="timed randomizations per level (at most 25 per client "
                    "at one client)")
    ap.add_argument("--warmup", type=int, default=4, help="untimed randomizations per client first")
    ap.add_argument("--seconds", type=int, default=5, help="pgbench duration per level")
    ap.add_argument("--durability", choices=sorted(DURABILITY), default="barrier",
                    help="barrier: hot rows released before the flush, the call waits for it; sync: as before")
    ap.add_argument("--threads", action="store_true",
                    help="clients as threads in this process (measures the GIL too) instead of processes")
    ap.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL (no pgbench)")
    ap.add_argument("--sites", type=int, default=0, help="stratify the list by this many sites (participants "
                    "spread over them in turn); 0: one stratum, the worst case")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    results = []
    print(f"randomize on {'SQLite' if a.sqlite else 'PostgreSQL'} ({a.durability} durability"
          f"{f', stratified by {a.sites} sites' if a.sites else ''}), clients as "
          f"{'threads' if a.threads else 'processes'}, {os.cpu_count()} CPU cores shared with the server")
    print(f"{'clients':>7} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'alloc/s':>8} {'cpu ms':>7} "
          f"{'pgbench':>8} {'ratio':>6}  blocks")
    for clients in levels:
        n = min(a.n, 200) if clients == 1 else a.n
        r = bench_randomize(n, clients, a.threads, a.warmup, a.durability, a.sqlite, a.sites)
        tps = None if a.sqlite else bench_pgbench(clients, a.seconds)
        r.update(pgbench_tps=tps, ratio=None if tps is None else r["throughput_per_s"] / tps)
        results.append(r)
        tps_s = "-" if tps is None else f"{tps:.0f}"
        ratio_s = "-" if tps is None else f"{r['ratio']:.2f}"
        print(f"{clients:>7} {r['randomizations']:>5} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{r['throughput_per_s']:>8.0f} {r['client_cpu_ms_per_allocation']:>7.2f} {tps_s:>8} {ratio_s:>6}  "
              f"{r['complete_blocks_balanced']} balanced, 0 duplicates", flush=True)
    if a.sqlite:
        print("target: p99 < 500 ms at 8 clients (SQLite serialises writers on one database lock)")
    else:
        print("target: p99 < 100 ms at 32 clients and ratio >= 0.5 (issue 19)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

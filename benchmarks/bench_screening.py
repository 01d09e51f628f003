"""Benchmark: screening a synthetic registry against the five protocols.

Peer: parsing and validating the same records only (``json.loads`` + ``parse_patient``), in the
same run, on the same worker processes, under the same collector settings (``batch_gc``, as
``oligotrial screen`` uses). The screening loop evaluates every criterion of every trial and
also builds the reason of every criterion that fails or is undecided (reasons are otherwise
formatted only when read). Reports patient-screens per second (one patient screened
against all five protocols = one patient-screen; x5 for patient-protocol screens) and the ratio
of screening time to parse-only time. Targets (issue 2): >= 10,000 patient x 5-protocol screens
per second on 2 cores, at most 3x the parse-only time.

``--ceiling`` adds a third loop that bounds what *any* screening engine could reach with this
record parser and this result model: the same parse, the per-patient facts every engine has to
read from the parsed record (latest attestation per key, age on the date, performance scores,
latest lab per test, the judged and baseline scans, the per-lesion histories), and the five
trial results materialised from verdicts and reasons computed beforehand, so that no criterion
and no progression rule is evaluated in the timed loop. An engine that evaluated nothing would
still cost that much.

    .venv/bin/python benchmarks/bench_screening.py --n 100000 --workers 2 [--ceiling]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import get_context

sys.path.insert(0, os.path.dirname(__file__))


def _facts(patient) -> None:
    """Read the per-patient facts every engine needs (the same helpers the engine uses)."""
    from oligotrial.domain.eligibility.criteria import _shared as criteria
    from oligotrial.domain.response import progression

    as_of = patient.as_of
    criteria._latest_attestations(patient)
    criteria._age_and_source(patient, as_of)
    criteria._scores_until(patient, as_of)
    criteria._labs_until(patient, as_of)
    judged, baseline = progression._judged_and_baseline(patient, [])
    if judged is not None:
        progression._lesion_contexts(patient, judged, baseline)


def _ceiling_loop(texts, protocols, screened) -> tuple[float, dict[str, int]]:
    """Parse, read the facts, and materialise the results from ``screened`` (verdicts and reasons
    computed before the clock starts): the cost floor of any engine with this parser and result
    model."""
    from oligotrial.domain.record.patient import parse_patient
    from oligotrial.domain.eligibility.screening import CriterionResult, TrialScreening, trial_verdict
    from oligotrial.errors import RecordError

    verdicts: dict[str, int] = {}
    reasons = 0
    t0 = time.perf_counter()
    for t, pre in zip(texts, screened):
        try:
            patient = parse_patient(json.loads(t))
        except RecordError:
            continue
        _facts(patient)
        for p, (state, rows) in zip(protocols, pre):
            results = [CriterionResult(*row) for row in rows]
            r = TrialScreening(p.id, p.short_name, p.version, trial_verdict(results), state, tuple(results), False)
            verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
            for c in r.failing + r.undecided:
                reasons += len(c.reason)
    return time.perf_counter() - t0, verdicts


def _precomputed(texts, protocols) -> list:
    from oligotrial.domain.record.patient import parse_patient
    from oligotrial.domain.eligibility.screening import screen_against
    from oligotrial.errors import RecordError

    out = []
    for t in texts:
        try:
            screens = screen_against(parse_patient(json.loads(t)), protocols)
        except RecordError:
            out.append(None)
            continue
        out.append([(s.state, [(c.id, c.kind, c.source_text, c.verdict, c.reason, c.inputs, c.missing, c.assumed)
                               for c in s.criteria]) for s in screens])
    return out


def _work(args: tuple[int, int, int, bool]) -> tuple[float, float, int, dict, tuple | None]:
    seed, start, stop, ceiling = args
    from synthetic_registry import make_record

    from oligotrial.domain.record.patient import parse_patient
    from oligotrial.domain.eligibility.screening import screen_against
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

    floor = None
    if ceiling:
        screened = _precomputed(texts, protocols)
        with batch_gc():
            floor = _ceiling_loop(texts, protocols, screened)
    return parse_s, screen_s, len(texts), verdicts, floor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ceiling", action="store_true",
                    help="also time parse + fact reads + result materialisation with no evaluation")
    args = ap.parse_args()
    chunk = max(1, args.n // (args.workers * 8))
    tasks = [(args.seed, s, min(args.n, s + chunk), args.ceiling) for s in range(0, args.n, chunk)]
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
    if args.ceiling:
        ceiling_s = sum(r[4][0] for r in results) / args.workers
        floor_verdicts: dict[str, int] = {}
        for r in results:
            for k, v in r[4][1].items():
                floor_verdicts[k] = floor_verdicts.get(k, 0) + v
        screened_only = {k: v for k, v in verdicts.items() if k != "record_error"}
        if floor_verdicts != screened_only:  # the floor must materialise the very same results
            sys.exit(f"ceiling loop produced {floor_verdicts}, screening {screened_only}")
        out["ceiling_s"] = round(ceiling_s, 3)
        out["ceiling_patient_screens_per_s"] = round(n / ceiling_s, 1)
        out["ceiling_ratio_to_parse_only"] = round(ceiling_s / parse_s, 2)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:36s} {v}")


if __name__ == "__main__":
    main()

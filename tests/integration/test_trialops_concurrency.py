"""Simultaneous randomizations: no slot shared or skipped, every stratum balanced by its blocks."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from oligotrial.adapters.db.crypto import Argon2Hasher
from oligotrial.bootstrap import bootstrap
from oligotrial.domain.protocol.schema import Stratification, StratificationFactor
from oligotrial.protocols import load_protocol
from oligotrial.service import audit, enrolment, randomization
from oligotrial.service.ports import Actor
from service_fakes import StandInLibrary
from trialops_db import fake_screener

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
STOP2 = load_protocol("STOP-2")
COORD = Actor("coord", {STOP2.id: "coordinator"})
PROTO = STOP2.model_copy(update={
    "allocation_ratio": {"palliative": 2, "sabr": 1},
    "stratification": Stratification(
        factors=[StratificationFactor(id="site", label="Site", levels=["a", "b"], source_text="test"),
                 StratificationFactor(id="ecog", label="ECOG", levels=["0", "1"], source_text="test")],
        registry_names_none=False, note="test design")})


def _ctx(settings):
    c = bootstrap(settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True))
    return c, dataclasses.replace(c.ctx, library=StandInLibrary(only=PROTO))


def _run(settings, n: int, workers: int):
    c, ctx = _ctx(settings)
    try:
        randomization.generate_list(ctx, STOP2.id, seed=2026, size_per_stratum=n)
        pids = []
        for i in range(n):
            p = enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "id": f"P-{i:04d}"})["id"]
            enrolment.screen(ctx, COORD, STOP2.id, p)
            enrolment.consent(ctx, COORD, STOP2.id, p, {"date": "2026-03-01", "form_version": "v1"})
            enrolment.enrol(ctx, COORD, STOP2.id, p)
            pids.append((p, {"site": "ab"[i % 2], "ecog": "01"[(i // 2) % 2]}))
        barrier = threading.Barrier(min(workers, n))

        def go(item):
            pid, strata = item
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass
            return pid, randomization.randomize(ctx, COORD, STOP2.id, pid, strata)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = dict(pool.map(go, pids))
        assert len(results) == n
        with ctx.uow() as uow:
            rl = uow.allocation.get_list(STOP2.id)
            slots = uow.allocation.slots(rl.id)
            allocs = {a.participant_id: a for a in uow.allocation.allocations(STOP2.id)}
        assert len(allocs) == n
        by_stratum = defaultdict(list)
        for s in slots:
            if s.participant_id is not None:
                by_stratum[s.stratum].append(s)
        for stratum, taken in by_stratum.items():
            seqs = sorted(s.seq for s in taken)
            assert seqs == list(range(1, len(seqs) + 1)), f"{stratum}: slot skipped or shared {seqs}"
            # each participant got the arm of their own slot
            for s in taken:
                arm = ctx.cipher.decrypt(s.payload_ct, randomization.slot_context(STOP2.id, stratum, s.seq))
                assert results[s.participant_id]["arm"] == arm
                assert allocs[s.participant_id].seq == s.seq and allocs[s.participant_id].stratum == stratum
            # every completed block holds the ratio exactly; the open block is a prefix of one
            blocks = defaultdict(list)
            for s in taken:
                blocks[s.block].append(results[s.participant_id]["arm"])
            sizes = {s.block: s.block_size for s in slots if s.stratum == stratum}
            for b, arms in blocks.items():
                if len(arms) == sizes[b]:
                    m = sizes[b] // 3
                    assert Counter(arms) == {"palliative": 2 * m, "sabr": m}, (stratum, b, arms)
                else:
                    assert b == max(blocks), f"{stratum}: an earlier block {b} left incomplete"
        assert len({s.participant_id for s in slots if s.participant_id}) == n
        assert audit.verify(ctx).ok
    finally:
        c.dispose()


def test_200_simultaneous_randomizations_on_postgres(pg_settings):
    _run(pg_settings, 200, 200)


def test_simultaneous_randomizations_on_sqlite(tmp_path):
    from oligotrial.config import Settings

    _run(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}"), 60, 30)


def test_concurrent_appends_from_every_use_case_keep_one_unforked_chain_on_postgres(pg_settings):
    """Randomizations in four strata, registrations and screenings at once: each appends to the
    one audit chain in its commit round trip; no entry is lost, doubled or linked to the wrong
    predecessor, and the head matches the last entry."""
    c, ctx = _ctx(pg_settings)
    try:
        randomization.generate_list(ctx, STOP2.id, seed=7, size_per_stratum=20)
        ready = []
        for i in range(24):
            p = enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "id": f"R-{i:04d}"})["id"]
            enrolment.screen(ctx, COORD, STOP2.id, p)
            enrolment.consent(ctx, COORD, STOP2.id, p, {"date": "2026-03-01", "form_version": "v1"})
            enrolment.enrol(ctx, COORD, STOP2.id, p)
            ready.append((p, {"site": "ab"[i % 2], "ecog": "01"[(i // 2) % 2]}))
        fresh = [enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "id": f"S-{i:04d}"})["id"] for i in range(12)]
        before = audit.verify(ctx).checked
        jobs = ([lambda p=p, s=s: randomization.randomize(ctx, COORD, STOP2.id, p, s) for p, s in ready]
                + [lambda i=i: enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "id": f"N-{i:04d}"})
                   for i in range(24)]
                + [lambda p=p: enrolment.screen(ctx, COORD, STOP2.id, p) for p in fresh])
        barrier = threading.Barrier(len(jobs))

        def go(job):
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass
            return job()

        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            list(pool.map(go, jobs))
        with ctx.uow() as uow:
            entries, head = uow.audit.audit_entries(), uow.audit.audit_head()
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        assert len(entries) == before + len(jobs) and head == (entries[-1]["seq"], entries[-1]["hash"])
        rep = audit.verify(ctx)
        assert rep.ok, rep.to_dict()
    finally:
        c.dispose()

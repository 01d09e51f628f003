"""The storage adapter's hot paths (randomize): only changed columns are written, writes nothing
reads before commit are sent with COMMIT (PostgreSQL: one round trip, so the audit-chain head
is locked that long only) yet are seen by later reads, a failure there saves nothing, and
waiters queue on advisory locks rather than stampede on the hot rows."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from trialops_db import PG_URL, fake_screener

from oligotrial.adapters.db import pg_hotpath
from oligotrial.errors import StorageError
from oligotrial.service import audit, enrolment, randomization
from oligotrial.service.ports import Actor, Allocation

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})


def _pg(settings):
    from oligotrial.bootstrap import bootstrap

    return bootstrap(settings, screener=fake_screener())


def _enrolled(ctx, n=1):
    p = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": f"P-{n:04d}"})["id"]
    enrolment.screen(ctx, COORD, TRIAL, p)
    enrolment.consent(ctx, COORD, TRIAL, p, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, p)
    return p


def _allocation(uow, pid, seq=1):
    rl = uow.repo.get_list(TRIAL)
    return Allocation(pid, TRIAL, rl.id, "all", seq, {}, "opaque", "2026-03-02T00:00:00+00:00", "coord")


def test_saving_named_fields_leaves_the_other_columns_untouched(container):
    ctx = container.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-1"})["id"]
    with ctx.uow() as uow:
        p = uow.repo.get_participant(TRIAL, pid, for_update=True)
        p.state, p.record = "screened", {"not": "saved"}
        uow.repo.save_participant(p, ("state",))
        with pytest.raises(ValueError):
            uow.repo.save_participant(p, ("id",))
        uow.commit()
    with ctx.uow() as uow:
        p = uow.repo.get_participant(TRIAL, pid)
    assert p.state == "screened" and p.record["id"] == "P-1"


def test_held_back_writes_are_seen_by_later_reads_and_dropped_without_commit(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        uow.repo.add_allocation(_allocation(uow, pid))
        assert uow.repo.get_allocation(pid).arm_ct == "opaque"  # sent before the read
        audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
        assert uow.repo.audit_entries()[-1]["action"] == "x.test"
    checked = audit.verify(ctx).checked  # left without commit: neither was kept
    with ctx.uow() as uow:
        assert uow.repo.get_allocation(pid) is None
        uow.repo.add_allocation(_allocation(uow, pid))
        audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
        uow.commit()
    with ctx.uow() as uow:
        assert uow.repo.get_allocation(pid) is not None
    rep = audit.verify(ctx)
    assert rep.ok and rep.checked == checked + 1


def test_a_failure_in_the_commit_round_trip_saves_nothing(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        head = uow.repo.audit_head()
    with pytest.raises(StorageError) as e, ctx.uow() as uow:
        rl = uow.repo.get_list(TRIAL)
        assert uow.repo.claim_slot(rl.id, "all", pid, "2026-03-02T00:00:00+00:00")[0] == 1
        uow.repo.add_allocation(_allocation(uow, pid))
        uow.repo.add_allocation(_allocation(uow, pid))  # the same participant twice
        audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
        uow.commit()
    assert e.value.code == "conflict"
    with ctx.uow() as uow:
        assert uow.repo.audit_head() == head and uow.repo.get_allocation(pid) is None
        assert all(s.participant_id is None for s in uow.repo.slots(rl.id))
        assert uow.repo.claim_slot(rl.id, "all", pid, "2026-03-02T00:00:00+00:00")[0] == 1  # cursor unmoved
    assert audit.verify(ctx).ok


def test_the_audit_append_travels_with_commit_and_takes_the_head_only_then(pg_settings):
    c = _pg(pg_settings)
    try:
        ctx = c.ctx
        checked = audit.verify(ctx).checked
        with ctx.uow() as uow:
            audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id="1")
            with psycopg.connect(PG_URL, autocommit=True,
                                 options=f"-csearch_path={pg_settings.database_schema}") as other:
                # not yet sent: the chain head is free and the entry not there
                other.execute("SELECT last_seq FROM audit_head WHERE id = 1 FOR UPDATE NOWAIT")
                assert other.execute("SELECT count(*) FROM audit_log").fetchone()[0] == checked
            uow.commit()
        rep = audit.verify(ctx)
        assert rep.ok and rep.checked == checked + 1
    finally:
        c.dispose()


def test_claims_and_appends_queue_on_advisory_locks(pg_settings):
    held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND pid = pg_backend_pid() AND granted")
    c = _pg(pg_settings)
    try:
        ctx = c.ctx
        randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
        pid = _enrolled(ctx)
        with ctx.uow() as uow:
            rl = uow.repo.get_list(TRIAL)
            driver = uow.conn.connection.driver_connection
            assert driver.execute(held, (pg_hotpath.LOCK_NS_STRATUM,)).fetchone()[0] == 0
            uow.repo.claim_slot(rl.id, "all", pid, "2026-03-02T00:00:00+00:00")
            assert driver.execute(held, (pg_hotpath.LOCK_NS_STRATUM,)).fetchone()[0] == 1
            audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
            uow.repo.flush()
            assert driver.execute(held, (pg_hotpath.LOCK_NS_AUDIT,)).fetchone()[0] == 1
    finally:
        c.dispose()

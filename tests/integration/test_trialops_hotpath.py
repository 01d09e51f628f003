"""The storage adapter's hot paths (randomize): only changed columns are written, writes nothing
reads before commit are sent with COMMIT (PostgreSQL: one round trip, so the audit-chain head
is locked that long only) yet are seen by later reads, a failure there saves nothing, and
waiters queue on advisory locks rather than stampede on the hot rows."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from oligotrial.adapters.db import pg_hotpath
from oligotrial.domain.trial.audit import allocation_bind, readable
from oligotrial.errors import StorageError
from oligotrial.service import audit, enrolment, randomization
from oligotrial.service.ports import Actor, Allocation
from trialops_db import PG_URL, fake_screener

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})


@pytest.fixture
def pg_container(pg_settings):
    """A container on PostgreSQL only (the tests that look at its statements and locks)."""
    from oligotrial.bootstrap import bootstrap

    c = bootstrap(pg_settings, screener=fake_screener())
    yield c
    c.dispose()


def _enrolled(ctx, n=1):
    p = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": f"P-{n:04d}"})["id"]
    enrolment.screen(ctx, COORD, TRIAL, p)
    enrolment.consent(ctx, COORD, TRIAL, p, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, p)
    return p


def _allocation(uow, pid, seq=1):
    rl = uow.allocation.get_list(TRIAL)
    return Allocation(pid, TRIAL, rl.id, "all", seq, {}, "opaque", "2026-03-02T00:00:00+00:00", "coord")


def test_saving_named_fields_leaves_the_other_columns_untouched(container):
    ctx = container.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-1"})["id"]
    with ctx.uow() as uow:
        p = uow.participants.get_participant(TRIAL, pid, for_update=True)
        p.state, p.record = "screened", {"not": "saved"}
        uow.participants.save_participant(p, ("state",))
        with pytest.raises(ValueError):
            uow.participants.save_participant(p, ("id",))
        uow.commit()
    with ctx.uow() as uow:
        p = uow.participants.get_participant(TRIAL, pid)
    assert p.state == "screened" and p.record["id"] == "P-1"


def test_held_back_writes_are_seen_by_later_reads_and_dropped_without_commit(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        uow.allocation.add_allocation(_allocation(uow, pid))
        assert uow.allocation.get_allocation(pid).arm_ct == "opaque"  # sent before the read
        audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
        assert uow.audit.audit_entries()[-1]["action"] == "x.test"
    checked = audit.verify(ctx).checked  # left without commit: neither was kept
    with ctx.uow() as uow:
        assert uow.allocation.get_allocation(pid) is None
        a = _allocation(uow, pid)
        uow.allocation.add_allocation(a)
        audit.record(uow, ctx, COORD, trial=TRIAL, action="participant.randomize", entity_type="participant",
                     entity_id=pid, bind=allocation_bind(a.__dict__))  # the entry that records the allocation
        uow.commit()
    with ctx.uow() as uow:
        assert uow.allocation.get_allocation(pid) is not None
    rep = audit.verify(ctx)
    assert rep.ok and rep.checked == checked + 1


def test_a_failure_in_the_commit_round_trip_saves_nothing(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        head = uow.audit.audit_head()
    with pytest.raises(StorageError) as e, ctx.uow() as uow:
        rl = uow.allocation.get_list(TRIAL)
        assert uow.allocation.claim_slot(rl.id, "all", pid, "2026-03-02T00:00:00+00:00")[0] == 1
        uow.allocation.add_allocation(_allocation(uow, pid))
        uow.allocation.add_allocation(_allocation(uow, pid))  # the same participant twice
        audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
        uow.commit()
    assert e.value.code == "conflict"
    with ctx.uow() as uow:
        assert uow.audit.audit_head() == head and uow.allocation.get_allocation(pid) is None
        assert all(s.participant_id is None for s in uow.allocation.slots(rl.id))
        assert uow.allocation.claim_slot(rl.id, "all", pid, "2026-03-02T00:00:00+00:00")[0] == 1  # cursor unmoved
    assert audit.verify(ctx).ok


def test_the_audit_append_travels_with_commit_and_takes_the_head_only_then(pg_container, pg_settings):
    ctx = pg_container.ctx
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


def test_claims_and_appends_queue_on_advisory_locks(pg_container):
    held = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND pid = pg_backend_pid() AND granted")
    ctx = pg_container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        rl = uow.allocation.get_list(TRIAL)
        driver = uow.conn.connection.driver_connection
        assert driver.execute(held, (pg_hotpath.LOCK_NS_STRATUM,)).fetchone()[0] == 0
        uow.allocation.claim_slot(rl.id, "all", pid, "2026-03-02T00:00:00+00:00")
        assert driver.execute(held, (pg_hotpath.LOCK_NS_STRATUM,)).fetchone()[0] == 1
        audit.record(uow, ctx, COORD, trial=TRIAL, action="x.test", entity_type="participant", entity_id=pid)
        uow.session.flush()
        assert driver.execute(held, (pg_hotpath.LOCK_NS_AUDIT,)).fetchone()[0] == 1


def test_the_randomize_read_is_the_participant_and_the_list_as_read_separately(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        p, rl = uow.allocation.lock_for_randomization(TRIAL, pid)
        assert p == uow.participants.get_participant(TRIAL, pid) and rl == uow.allocation.get_list(TRIAL)
        assert uow.allocation.lock_for_randomization(TRIAL, "no-such-participant") == (None, None)
        assert uow.allocation.lock_for_randomization("NCT06523673", pid) == (None, None)  # another trial's
        assert uow.participants.get_participant("NCT06523673", pid) is None
        assert uow.participants.get_participant("NCT06523673", pid, for_update=True) is None


def test_a_trial_without_a_list_reads_the_participant_and_no_list(container):
    ctx = container.ctx
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        p, rl = uow.allocation.lock_for_randomization(TRIAL, pid)
    assert p is not None and p.state == "enrolled" and rl is None


def _request(uow, ctx, pid, marker="c0ffee00c0ffee00c0ffee00c0ffee00"):
    from oligotrial.service.ports import SlotRequest

    rl = uow.allocation.live_list(TRIAL)
    entry = audit.build_entry(ctx, COORD, trial=TRIAL, action="participant.randomize", entity_type="participant",
                              entity_id=pid, new={"from_state": "enrolled", "randomization_number": f"all#{marker}"})
    return SlotRequest(rl.id, TRIAL, "all", pid, "enrolled", {"state": "randomized", "randomized_on": "2026-03-02"},
                       {}, "2026-03-02T00:00:00+00:00", "coord", entry, marker, audit.mac(ctx, entry))


def test_one_allocation_writes_slot_participant_allocation_and_entry_together(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=2, block_multiples=(1,))
    pids = [_enrolled(ctx, n) for n in (1, 2, 3)]
    checked = audit.verify(ctx).checked
    for n, pid in enumerate(pids[:2], start=1):
        with ctx.uow() as uow:
            got = uow.allocation.allocate_and_commit(_request(uow, ctx, pid))
            uow.commit()
        assert (got.state, got.seq) == ("enrolled", n)
        with ctx.uow() as uow:
            a = uow.allocation.get_allocation(pid)
            slot = next(s for s in uow.allocation.slots(a.list_id) if s.seq == got.seq)
            p = uow.participants.get_participant(TRIAL, pid)
            entry = uow.audit.audit_entries(TRIAL)[-1]
        assert slot.participant_id == pid and a.arm_ct == slot.payload_ct == got.payload_ct
        arm = ctx.cipher.decrypt(slot.payload_ct, randomization.slot_context(TRIAL, "all", got.seq))
        assert randomization.allocation_arm(ctx, a) == arm and arm in {x.id for x in ctx.load_protocol(TRIAL).arms}
        assert (p.state, p.randomized_on) == ("randomized", "2026-03-02")
        assert readable(entry)["new"] == {"from_state": "enrolled", "randomization_number": f"all#{got.seq}"}
    rep = audit.verify(ctx)
    assert rep.ok and rep.checked == checked + 2

    def untouched(pid, state):
        with ctx.uow() as uow:
            assert uow.audit.audit_head() == head and uow.allocation.get_allocation(pid) is None
            assert uow.participants.get_participant(TRIAL, pid).state == state
            assert sum(s.participant_id is not None for s in uow.allocation.slots(1)) == 2

    with ctx.uow() as uow:
        head = uow.audit.audit_head()
    # a participant already randomized, or unknown: nothing written, the state reported
    with ctx.uow() as uow:
        assert uow.allocation.allocate_and_commit(_request(uow, ctx, pids[0])).seq is None
        uow.commit()
    with ctx.uow() as uow:
        assert uow.allocation.allocate_and_commit(_request(uow, ctx, "nobody")).state is None
        uow.commit()
    with ctx.uow() as uow:  # a participant of another trial is not found in this one
        req = _request(uow, ctx, pids[2])
        req.trial = "NCT06523673"
        assert uow.allocation.allocate_and_commit(req).state is None
        uow.commit()
    # the list (2 slots) is exhausted: nothing at all is written
    with ctx.uow() as uow:
        got = uow.allocation.allocate_and_commit(_request(uow, ctx, pids[2]))
        uow.commit()
    assert (got.state, got.seq, got.payload_ct) == ("enrolled", None, None)
    untouched(pids[2], "enrolled")
    with ctx.uow() as uow:
        assert uow.participants.get_participant(TRIAL, pids[0]).state == "randomized"
    assert audit.verify(ctx).ok


def test_a_randomization_is_one_round_trip_on_postgresql(pg_container, pg_settings, monkeypatch):
    """Once the trial's list has been read: BEGIN, the one allocation statement and COMMIT go
    together; no ping, no separate BEGIN, no read before it."""
    ctx = pg_container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    first, pid = _enrolled(ctx, 1), _enrolled(ctx, 2)
    randomization.randomize(ctx, COORD, TRIAL, first, {})  # reads (and keeps) the live list
    syncs, sent = [], []
    real, real_exec = psycopg.Connection.pipeline, psycopg.Cursor.execute

    def counting(self):
        syncs.append(1)
        return real(self)

    def executing(self, query, *a, **k):
        sent.append(query if isinstance(query, str) else str(query))
        return real_exec(self, query, *a, **k)

    monkeypatch.setattr(psycopg.Connection, "pipeline", counting)
    monkeypatch.setattr(psycopg.Cursor, "execute", executing)
    out = randomization.randomize(ctx, COORD, TRIAL, pid, {})
    monkeypatch.undo()
    # the allocation commits without waiting for the flush (its hot rows released at once); a
    # second, synchronous transaction is the barrier the call waits on (SqlSession.allocate_round_trip)
    assert len(syncs) == 1 and [q.split()[0] for q in sent] == ["BEGIN", "SET", "WITH", "COMMIT", "SELECT"], sent
    assert sent[1] == "SET LOCAL synchronous_commit TO off" and sent[-1] == "SELECT txid_current()"
    assert out["randomization_number"] == "all#2"
    with psycopg.connect(PG_URL, options=f"-csearch_path={pg_settings.database_schema}") as other:
        assert other.execute("SELECT count(*) FROM allocations").fetchone()[0] == 2  # committed
    assert audit.verify(ctx).ok


def test_a_list_is_kept_only_once_committed(container):
    from oligotrial.service.ports import EncSlot, RandomizationList

    ctx = container.ctx
    with ctx.uow() as uow:  # written and read back in a unit of work that is then dropped
        uow.allocation.add_list(RandomizationList(None, TRIAL, "permuted_blocks", "ct", {}, "0" * 64, "now", "x", 2),
                         [EncSlot("all", 1, 1, 2, "ct")])
        assert uow.allocation.live_list(TRIAL) is not None
    with ctx.uow() as uow:
        assert uow.allocation.live_list(TRIAL) is None
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=2)
    with ctx.uow() as uow:
        assert uow.allocation.live_list(TRIAL) == uow.allocation.get_list(TRIAL)


def _backend(uow):
    return uow.conn.connection.driver_connection.execute("SELECT pg_backend_pid()").fetchone()[0]


@pytest.fixture
def dropped(pg_settings):
    """A one-connection pool whose idle connection the server has just dropped:
    ``dropped(ping_after_idle_s) -> (container, the dropped backend's pid)``."""
    from oligotrial.bootstrap import bootstrap

    made = []

    def make(idle_s: float):
        c = bootstrap(pg_settings.model_copy(update={"db_pool_size": 1, "db_ping_after_idle_s": idle_s}),
                      screener=fake_screener())
        made.append(c)
        with c.ctx.uow() as uow:
            backend = _backend(uow)
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        return c, backend

    yield make
    for c in made:
        c.dispose()


def test_a_connection_dropped_while_idle_is_replaced_before_use(dropped):
    c, backend = dropped(0.0)
    pid = enrolment.register(c.ctx, COORD, TRIAL, {**RECORD, "id": "P-idle"})["id"]  # no error: reconnected
    with c.ctx.uow() as uow:
        assert _backend(uow) != backend and uow.participants.get_participant(TRIAL, pid) is not None


def test_a_connection_dropped_moments_ago_fails_one_unit_of_work_cleanly(dropped):
    """Within the idle window there is no ping: the request fails as 'unavailable', saves
    nothing, and the next one gets a new connection."""
    c, backend = dropped(3600.0)
    with pytest.raises(StorageError) as e:
        enrolment.register(c.ctx, COORD, TRIAL, {**RECORD, "id": "P-gone"})
    assert e.value.code == "unavailable"
    pid = enrolment.register(c.ctx, COORD, TRIAL, {**RECORD, "id": "P-gone"})["id"]  # nothing was half-saved
    with c.ctx.uow() as uow:
        assert _backend(uow) != backend and uow.participants.get_participant(TRIAL, pid) is not None


def test_the_claimed_slot_is_found_by_its_whole_key_not_by_filtering_the_stratum(pg_container):
    """Inside the critical section the slot is an index lookup on (list, stratum, seq) and the
    participant one on its id, even on a new list with no statistics yet (a join to the
    cursor's CTE, or an indexable ``participant_id IS NULL``, made the planner read every slot
    of the stratum)."""
    from oligotrial.domain.trial.audit import allocation_template

    ctx = pg_container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=500)
    pid = _enrolled(ctx)
    with ctx.uow() as uow:
        req = _request(uow, ctx, pid)
        row = {"participant_id": pid, "trial": TRIAL, "list_id": req.list_id, "stratum": req.stratum, "seq": 0,
               "strata": req.strata, "arm_ct": "cMARK", "allocated_at": req.at, "allocated_by": req.by}
        params = pg_hotpath.allocate_params(req, allocation_template(row, "cMARK"))
        driver = uow.conn.connection.driver_connection
        plan = driver.execute("EXPLAIN (FORMAT JSON) " + pg_hotpath.allocate_sql(tuple(req.changes)),
                              params).fetchone()[0]
        claim = driver.execute("EXPLAIN (FORMAT JSON) " + pg_hotpath.CLAIM_SLOT,
                               {"list_id": req.list_id, "stratum": "all", "participant_id": pid,
                                "at": req.at}).fetchone()[0]
        from oligotrial.adapters.db import participants as repository

        read = str(repository._GET_PARTICIPANT_FOR_UPDATE.params(pid=pid).compile(
            dialect=uow.conn.dialect, compile_kwargs={"literal_binds": True}))
        general = driver.execute("EXPLAIN (FORMAT JSON) " + read).fetchone()[0]

    def scans(node, relation):
        if node.get("Relation Name") == relation and "Scan" in node["Node Type"]:
            yield node
        for child in node.get("Plans", ()):
            yield from scans(child, relation)

    for p, relation, key in ((plan, "randomization_slots", "seq = "), (claim, "randomization_slots", "seq = "),
                             (plan, "participants", "(id)::text = "),
                             (general, "participants", "(id)::text = ")):
        found = list(scans(p[0]["Plan"], relation))
        assert found and all(key in n.get("Index Cond", "") for n in found), [n.get("Index Cond") for n in found]


def test_a_randomization_committed_synchronously_under_its_locks_still_works(pg_container, monkeypatch):
    """The variant before issue 19 (``--durability sync`` in the benchmark) stays correct."""
    from oligotrial.adapters.db.allocation import SqlAllocationRepository

    ctx = pg_container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    pids = [_enrolled(ctx, n) for n in (1, 2)]
    monkeypatch.setattr(SqlAllocationRepository, "release_before_flush", False)
    outs = [randomization.randomize(ctx, COORD, TRIAL, p, {}) for p in pids]
    assert [o["randomization_number"] for o in outs] == ["all#1", "all#2"]
    assert audit.verify(ctx).ok and randomization.verify_list(ctx, TRIAL)["ok"]


def test_a_failed_allocation_leaves_the_connection_usable(pg_container, monkeypatch):
    """An error inside the autocommit pipeline is rolled back and reported; nothing is written and
    the next randomization on the same pooled connection succeeds."""
    ctx = pg_container.ctx
    randomization.generate_list(ctx, TRIAL, seed=1, size_per_stratum=4)
    first, second = _enrolled(ctx, 1), _enrolled(ctx, 2)
    randomization.randomize(ctx, COORD, TRIAL, first, {})  # the live list is read and kept
    real = pg_hotpath.allocate_params

    def broken(req, template):
        return {**real(req, template), "list_id": "not-a-number"}

    monkeypatch.setattr(pg_hotpath, "allocate_params", broken)
    with pytest.raises(StorageError):
        randomization.randomize(ctx, COORD, TRIAL, second, {})
    monkeypatch.undo()
    assert randomization.randomize(ctx, COORD, TRIAL, second, {})["randomization_number"] == "all#2"
    assert audit.verify(ctx).ok

"""Storage on SQLite and PostgreSQL: migrations, the workflow through real units of work,
encryption at rest, the append-only audit trail and its tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from oligotrial.adapters.db import tables
from oligotrial.errors import StorageError, WorkflowError
from oligotrial.service import audit, enrolment, randomization, unblinding, users
from oligotrial.service.ports import Actor

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
#: a course that fits each STOP-2 arm's registered regimen
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}


def _enrolled(ctx, n):
    p = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": f"P-{n:04d}"})
    enrolment.screen(ctx, COORD, TRIAL, p["id"])
    enrolment.consent(ctx, COORD, TRIAL, p["id"], {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, p["id"])
    return p["id"]


def test_migrations_match_the_table_definitions(container):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with container.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert diff == []


def test_full_workflow_persists_and_the_chain_verifies(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=4, size_per_stratum=20)
    pid = _enrolled(ctx, 1)
    alloc = randomization.randomize(ctx, COORD, TRIAL, pid, {})
    enrolment.record_radiotherapy(ctx, Actor("t", {TRIAL: "treating_oncologist"}), TRIAL, pid,
                                  {"start": "2026-03-10", "end": "2026-03-14" if alloc["arm"] == "sabr"
                                   else "2026-03-10", **RT_FOR_ARM[alloc["arm"]]})
    enrolment.add_entry(ctx, COORD, TRIAL, pid, "adverse_event", {"date": "2026-03-20", "term": "Nausea", "grade": 1})
    view = enrolment.get_participant(ctx, COORD, TRIAL, pid)
    assert view["state"] == "treated" and view["allocation"]["arm"] == alloc["arm"]
    assert len(view["visits"]) == 7 and view["entries"][0]["data"]["term"] == "Nausea"
    assert audit.verify(ctx).ok
    assert randomization.verify_commitment(ctx, TRIAL)


def test_assignments_are_encrypted_at_rest(container):
    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=4, size_per_stratum=10)
    pid = _enrolled(ctx, 1)
    randomization.randomize(ctx, COORD, TRIAL, pid, {})
    with container.engine.connect() as conn:
        # the lists' params hold the public allocation ratio; everything else must be opaque
        dump = json.dumps([list(map(str, r)) for q in (
            "SELECT * FROM randomization_slots", "SELECT * FROM allocations", "SELECT * FROM audit_log",
            "SELECT seed_ct, commitment FROM randomization_lists") for r in conn.execute(text(q))])
    for arm in ("palliative", "sabr"):
        assert arm not in dump.lower()


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET reason = 'x' WHERE seq = 1",
                                       "DELETE FROM audit_log WHERE seq = 1"])
def test_the_database_refuses_to_change_the_audit_trail(container, statement):
    users.add_user(container.ctx, "alice", "password-1", "coordinator", TRIAL)
    with pytest.raises(Exception) as e, container.engine.begin() as conn:
        conn.execute(text(statement))
    assert "append-only" in str(e.value)
    assert audit.verify(container.ctx).ok


def _tamper(container, sql: str) -> None:
    with container.engine.begin() as conn:
        if container.engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text(sql))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(sql))


@pytest.mark.parametrize("sql,kind,seq", [
    ("UPDATE audit_log SET reason = 'covered up' WHERE seq = 2", "altered", 2),
    ("DELETE FROM audit_log WHERE seq = 2", "removed", 2),
    (("INSERT INTO audit_log SELECT seq + 100, at, actor, role, trial, action, entity_type, entity_id, old, new, "
      "reason, hash, hash, v, mac, bind, marker, nonce FROM audit_log WHERE seq = 4"), "inserted", 104),
])
def test_verify_reports_altered_removed_and_inserted_entries(container, sql, kind, seq):
    for n in range(2):
        enrolment.register(container.ctx, COORD, TRIAL, {**RECORD, "id": f"P-{n}"})
    users.add_user(container.ctx, "alice", "password-1", "coordinator", TRIAL)
    _tamper(container, sql)
    rep = audit.verify(container.ctx).to_dict()
    assert not rep["ok"] and seq in rep[kind], rep


def test_failed_step_leaves_nothing_half_written(container):
    ctx = container.ctx
    pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-1"})["id"]
    before = audit.verify(ctx).checked
    with pytest.raises(WorkflowError):
        enrolment.enrol(ctx, COORD, TRIAL, pid)
    with pytest.raises(WorkflowError):
        enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-1"})
    assert audit.verify(ctx).checked == before
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM participants")).scalar_one() == 1


def test_unblinding_is_recorded(container):
    ctx = container.ctx
    users.add_user(ctx, "enroller", "password-1", "enrolling_oncologist", TRIAL)
    randomization.generate_list(ctx, TRIAL, seed=4, size_per_stratum=10)
    pid = _enrolled(ctx, 1)
    randomization.randomize(ctx, COORD, TRIAL, pid, {})
    out = unblinding.emergency_unblind(ctx, Actor("enroller", {TRIAL: "enrolling_oncologist"}), TRIAL, pid,
                                       reason="severe reaction; treating team needs arm", password="password-1")
    assert out["arm"] in ("palliative", "sabr")
    assert unblinding.notifications(ctx, COORD, TRIAL)[0]["participant_id"] == pid
    assert audit.verify(ctx).ok


def test_unreachable_database_is_a_storage_error(tmp_path):
    from oligotrial.adapters.db.engine import make_engine
    from oligotrial.adapters.db.repository import SqlUnitOfWork

    eng = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError) as e, SqlUnitOfWork(eng):
        pass
    assert e.value.code == "unavailable"


def test_a_value_postgres_cannot_store_is_refused_as_bad_input_not_an_outage(pg_settings):
    # the services check lengths and the web layer NUL characters first; this is the safety net
    # (SQLite stores text of any length, so only PostgreSQL gets here)
    from oligotrial.adapters.web.app import status_for
    from oligotrial.bootstrap import bootstrap
    from oligotrial.domain.trial.workflow import Participant

    c = bootstrap(pg_settings)
    try:
        too_long = Participant("p-long", TRIAL, "X" * 300, dict(RECORD), created_at="2026-03-02T00:00:00+00:00")
        with pytest.raises(StorageError) as e, c.ctx.uow() as uow:
            uow.participants.add_participant(too_long)
        assert e.value.code == "value_rejected" and status_for(e.value) == 422
    finally:
        c.dispose()


def test_a_wrong_key_allocates_nothing(container):
    """With a key that does not open the trial's list, randomize fails before anything is
    written: no slot taken, no allocation, no audit entry, the participant still enrolled."""
    import dataclasses

    from oligotrial.adapters.db.crypto import AesGcmCipher
    from oligotrial.errors import BlindingError

    ctx = container.ctx
    randomization.generate_list(ctx, TRIAL, seed=4, size_per_stratum=10)
    pid = _enrolled(ctx, 1)
    entries = len(_audit_rows(container))
    wrong = dataclasses.replace(ctx, cipher=AesGcmCipher(bytes(32)))
    with pytest.raises(BlindingError) as exc:
        randomization.randomize(wrong, COORD, TRIAL, pid, {})
    assert exc.value.code == "decrypt_failed" and "nothing was allocated" in str(exc.value)
    assert enrolment.get_participant(ctx, COORD, TRIAL, pid)["state"] == "enrolled"
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM allocations")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM randomization_slots WHERE participant_id IS NOT NULL")).scalar() == 0
    assert len(_audit_rows(container)) == entries
    alloc = randomization.randomize(ctx, COORD, TRIAL, pid, {})  # the right key: the first slot
    assert alloc["randomization_number"].endswith("#1")
    assert audit.verify(ctx).ok


def _audit_rows(container):
    with container.engine.connect() as conn:
        return conn.execute(text("SELECT seq FROM audit_log")).fetchall()

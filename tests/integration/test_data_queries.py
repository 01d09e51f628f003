"""Data queries on SQLite and PostgreSQL: migration 0005 up and down, the lifecycle through real
units of work with its history and audit entries (the chain still verifies), and a step that
fails half-way stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect

from oligotrial.errors import AuditError, RecordError, WorkflowError
from oligotrial.service import audit, enrolment, followup, queries
from oligotrial.service.ports import Actor

RECORD = json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text())
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
DM = Actor("dm", {TRIAL: "data_manager"})
ENROLLER = Actor("enroller", {TRIAL: "enrolling_oncologist"})
AE = {"date": "2026-03-04", "term": "Fatigue", "grade": 2, "serious": False}
TABLES = {"data_queries", "data_query_messages"}


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_migration_0005_creates_and_drops_the_query_tables(db_settings):
    from alembic import command

    from oligotrial.adapters.db.engine import make_engine
    from oligotrial.adapters.db.migrate import alembic_config, upgrade

    engine = make_engine(db_settings.database_url, schema=db_settings.database_schema)
    try:
        assert upgrade(engine, "0004") == "0004"
        assert not TABLES & _tables(engine)
        assert upgrade(engine, "0005") == "0005"
        assert TABLES <= _tables(engine)
        cols = {c["name"] for c in inspect(engine).get_columns("data_queries")}
        assert {"id", "trial", "participant_id", "entry_id", "field", "status", "raised_by", "raised_at",
                "updated_at"} <= cols
        cfg = alembic_config()
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
            conn.commit()
        assert not TABLES & _tables(engine)
        assert upgrade(engine, "0005") == "0005" and TABLES <= _tables(engine)
    finally:
        engine.dispose()


@pytest.fixture
def study(container):
    ctx = container.ctx
    p = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": "P-0001"})
    enrolment.screen(ctx, COORD, TRIAL, p["id"])
    enrolment.consent(ctx, COORD, TRIAL, p["id"], {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, TRIAL, p["id"])
    entry = followup.record_entry(ctx, COORD, TRIAL, p["id"], "adverse_event", AE)["id"]
    return container, p["id"], entry


def test_the_lifecycle_is_stored_with_its_history_and_the_chain_verifies(study):
    container, pid, entry = study
    ctx = container.ctx
    q = queries.raise_query(ctx, DM, TRIAL, pid, entry=entry, field="grade", text="Grade 2 fatigue: any treatment?")
    queries.answer_query(ctx, ENROLLER, TRIAL, q["id"], "None given; grade 2 is right.")
    queries.close_query(ctx, DM, TRIAL, q["id"], "Thank you.")
    queries.reopen_query(ctx, DM, TRIAL, q["id"], "The source notes a prescription.")
    got = queries.get_query(ctx, COORD, TRIAL, q["id"])
    assert got["status"] == "open" and got["entry_kind"] == "adverse_event" and got["external_id"] == "P-0001"
    assert got["question"] == "Grade 2 fatigue: any treatment?"
    assert [(m["seq"], m["action"], m["by"]) for m in got["history"]] == [
        (1, "raise", "dm"), (2, "answer", "enroller"), (3, "close", "dm"), (4, "reopen", "dm")]
    assert got["history"][2]["text"] == "Thank you." and all(m["at"] for m in got["history"])
    second = queries.raise_query(ctx, DM, TRIAL, "P-0001", field="birth_date", text="Birth date: please confirm.")
    assert second["entry"] is None and second["id"] != q["id"]
    assert queries.open_count(ctx, COORD, TRIAL) == {"open": 2, "answered": 0, "unresolved": 2}
    assert [x["id"] for x in queries.list_queries(ctx, COORD, TRIAL, status="open", participant=pid)] == [
        q["id"], second["id"]]
    trail = [e for e in audit.trail(ctx, COORD, TRIAL) if e["entity_type"] == "data_query"]
    assert [e["action"] for e in trail] == ["query.raise", "query.answer", "query.close", "query.reopen",
                                            "query.raise"]
    assert trail[0]["entity_id"] == f"{pid}/query-{q['id']}"
    rep = audit.verify(ctx)
    assert rep.ok, rep.to_dict()


def _counts(container) -> tuple[int, int]:
    with container.ctx.uow() as uow:
        return uow.session.count("data_queries"), uow.session.count("data_query_messages")


def test_a_step_that_fails_half_way_stores_nothing(study, monkeypatch):
    container, pid, entry = study
    ctx = container.ctx
    q = queries.raise_query(ctx, DM, TRIAL, pid, entry=entry, field="grade", text="Please check the grade.")
    before = _counts(container)

    def broken(*a, **kw):  # the audit append fails after the query's rows were written
        raise AuditError("audit anchor: unavailable", code="no_audit_key")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(AuditError):
        queries.raise_query(ctx, DM, TRIAL, pid, entry=entry, field="term", text="Please check the term.")
    with pytest.raises(AuditError):
        queries.answer_query(ctx, COORD, TRIAL, q["id"], "Checked.")
    monkeypatch.undo()
    assert _counts(container) == before
    assert queries.get_query(ctx, DM, TRIAL, q["id"])["status"] == "open"


def test_refused_input_stores_nothing(study):
    container, pid, entry = study
    ctx = container.ctx
    with pytest.raises(RecordError) as err:
        queries.raise_query(ctx, DM, TRIAL, pid, entry=entry, field="grade", text="  ")
    assert err.value.field == "text"
    with pytest.raises(RecordError) as err:
        queries.raise_query(ctx, DM, TRIAL, pid, entry=entry, field="x" * 300, text="Please check.")
    assert err.value.field == "field"
    with pytest.raises(WorkflowError):
        queries.answer_query(ctx, COORD, TRIAL, 12345, "Checked.")
    assert _counts(container) == (0, 0)


def test_the_migrations_have_one_head_and_every_one_goes_up_and_down(db_settings):
    """Migrations added side by side must be chained: one head, and the whole chain upgrades
    from nothing, downgrades to 0005 and upgrades again."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from oligotrial.adapters.db.engine import make_engine
    from oligotrial.adapters.db.migrate import alembic_config, upgrade

    cfg = alembic_config()
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, heads
    engine = make_engine(db_settings.database_url, schema=db_settings.database_schema)
    try:
        assert upgrade(engine) == heads[0]
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
            conn.commit()
        assert upgrade(engine) == heads[0]
    finally:
        engine.dispose()

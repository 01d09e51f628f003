"""service.queries against the in-memory fakes: raise -> answer -> close -> reopen with the
history and the audit entries, the roles of each step, sites, bad input (nothing stored) and the
arm words a blinded trial refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.protocols import load_protocol
from oligotrial.service import enrolment, followup, queries
from oligotrial.service.ports import Actor
from service_fakes import make_ctx

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
STOP2 = load_protocol("STOP-2")
T = STOP2.id
COORD = Actor("coord", {T: "coordinator"})
DM = Actor("dm", {T: "data_manager"})
ENROLLER = Actor("enroller", {T: "enrolling_oncologist"})
STAT = Actor("stat", {T: "statistician"})
AE = {"date": "2026-03-02", "term": "Fatigue", "grade": 2, "serious": False}


def _enrolled(ctx, n, site=None):
    p = enrolment.register(ctx, COORD, T, {**RECORD, "id": f"P-{n:04d}"}, site)
    enrolment.screen(ctx, COORD, T, p["id"])
    enrolment.consent(ctx, COORD, T, p["id"], {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, T, p["id"])
    return p["id"]


@pytest.fixture
def study():
    ctx, store, _ = make_ctx("eligible")
    pid = _enrolled(ctx, 1)
    entry = followup.record_entry(ctx, COORD, T, pid, "adverse_event", AE)["id"]
    return ctx, store, pid, entry


def _audit(store, prefix="query."):
    return [e for e in store["db"].audit if e["action"].startswith(prefix)]


def test_raise_answer_close_reopen_keeps_the_history_and_audits_each_step(study):
    ctx, store, pid, entry = study
    q = queries.raise_query(ctx, DM, T, pid, entry=entry, field="grade", text="Grade 2 but no treatment: confirm?")
    assert q["status"] == "open" and q["entry"] == entry and q["entry_kind"] == "adverse_event"
    assert q["field"] == "grade" and q["external_id"] == "P-0001" and q["question"].startswith("Grade 2")
    # the data manager may close an open query, not answer it; and, having raised it, release its
    # text to the blinded roles (issue 25 item 1: "a query meant for a blinded role is released by
    # whoever raised it")
    assert q["actions"] == ["close", "release"]
    assert queries.get_query(ctx, ENROLLER, T, q["id"])["actions"] == ["answer"]
    a = queries.answer_query(ctx, ENROLLER, T, q["id"], "Confirmed on the source document.")
    assert a["status"] == "answered"
    c = queries.close_query(ctx, DM, T, q["id"])
    assert c["status"] == "closed" and c["actions"] == ["reopen", "release"]
    r = queries.reopen_query(ctx, DM, T, q["id"], "The source says grade 3.")
    assert r["status"] == "open"
    hist = r["history"]
    assert [(m["seq"], m["action"], m["by"], m["role"]) for m in hist] == [
        (1, "raise", "dm", "data_manager"), (2, "answer", "enroller", "enrolling_oncologist"),
        (3, "close", "dm", "data_manager"), (4, "reopen", "dm", "data_manager")]
    assert hist[2]["text"] == "" and hist[3]["text"] == "The source says grade 3."
    trail = _audit(store)
    assert [e["action"] for e in trail] == ["query.raise", "query.answer", "query.close", "query.reopen"]
    assert {e["entity_id"] for e in trail} == {f"{pid}/query-{q['id']}"} and {e["entity_type"] for e in trail} == {
        "data_query"}
    assert trail[1]["new"] == {"from": "open", "status": "answered", "text": "Confirmed on the source document."}
    assert trail[0]["new"]["field"] == "grade" and trail[0]["actor"] == "dm"


def test_a_record_field_is_queried_without_an_entry_and_participants_by_their_own_id(study):
    ctx, _, pid, _ = study
    q = queries.raise_query(ctx, DM, T, "P-0001", field="lesions[0].organ", text="Organ missing on the CT?")
    assert q["entry"] is None and q["participant"] == pid and q["field"] == "lesions[0].organ"
    assert [x["id"] for x in queries.list_queries(ctx, COORD, T, participant="P-0001")] == [q["id"]]


@pytest.mark.parametrize("actor,step", [(COORD, "raise"), (ENROLLER, "raise"), (DM, "answer"), (COORD, "close"),
                                        (ENROLLER, "reopen"), (STAT, "answer")])
def test_each_step_is_refused_to_a_role_it_does_not_belong_to(study, actor, step):
    ctx, store, pid, entry = study
    q = queries.raise_query(ctx, DM, T, pid, entry=entry, field="grade", text="Please check the grade.")
    queries.answer_query(ctx, COORD, T, q["id"], "Checked.") if step == "reopen" else None
    before = len(store["db"].audit)
    with pytest.raises(BlindingError) as err:
        if step == "raise":
            queries.raise_query(ctx, actor, T, pid, entry=entry, field="grade", text="Please check.")
        elif step == "answer":
            queries.answer_query(ctx, actor, T, q["id"], "Checked it.")
        elif step == "close":
            queries.close_query(ctx, actor, T, q["id"])
        else:
            queries.reopen_query(ctx, actor, T, q["id"], "Not right yet.")
    assert err.value.code == "forbidden"
    assert len(store["db"].audit) == before


def test_roles_that_handle_no_queries_see_none(study):
    ctx, *_ = study
    for role in ("statistician", "dsmb", "admin"):
        with pytest.raises(BlindingError):
            queries.list_queries(ctx, Actor("x", {T: role}), T)


def test_a_step_out_of_order_is_refused_and_stores_nothing(study):
    ctx, store, pid, entry = study
    q = queries.raise_query(ctx, DM, T, pid, entry=entry, field="grade", text="Please check the grade.")
    with pytest.raises(WorkflowError, match="reopen: the query is open; expected a query that is answered or closed"):
        queries.reopen_query(ctx, DM, T, q["id"], "Why not.")
    queries.close_query(ctx, DM, T, q["id"], "Raised in error.")
    with pytest.raises(WorkflowError, match="answer: the query is closed"):
        queries.answer_query(ctx, COORD, T, q["id"], "Late answer.")
    assert len(queries.get_query(ctx, DM, T, q["id"])["history"]) == 2
    assert len(_audit(store)) == 2


@pytest.mark.parametrize("kw,field,expected", [
    ({"field": "colour", "text": "What colour?"}, "field", "a field of a adverse event entry"),
    ({"field": "grade", "text": "?"}, "text", "the question, 3-5000 characters"),
    ({"field": "grade[", "text": "Please check."}, "field", "a field path"),
    ({"field": "grade", "text": "Please check.", "entry": "x"}, "entry", "an entry number"),
])
def test_bad_input_names_the_field_and_stores_nothing(study, kw, field, expected):
    ctx, store, pid, entry = study
    kw = {"entry": entry, **kw}
    with pytest.raises(RecordError) as err:
        queries.raise_query(ctx, DM, T, pid, **kw)
    assert err.value.field == field and expected in err.value.message
    assert queries.list_queries(ctx, DM, T) == [] and _audit(store) == []


def test_unknown_participant_entry_and_query_are_not_found(study):
    ctx, _, pid, entry = study
    with pytest.raises(WorkflowError) as err:
        queries.raise_query(ctx, DM, T, "P-9999", field="grade", text="Please check.")
    assert err.value.code == "not_found" and err.value.field == "participant"
    with pytest.raises(WorkflowError) as err:
        queries.raise_query(ctx, DM, T, pid, entry=entry + 50, field="grade", text="Please check.")
    assert err.value.code == "not_found" and err.value.field == "entry"
    with pytest.raises(WorkflowError) as err:
        queries.get_query(ctx, DM, T, 77)
    assert err.value.code == "not_found" and err.value.field == "query"
    with pytest.raises(RecordError, match="status 'pending': expected one of open, answered, closed"):
        queries.list_queries(ctx, DM, T, status="pending")


def test_a_retracted_entry_is_not_queried(study):
    ctx, _, pid, entry = study
    followup.retract_entry(ctx, COORD, T, pid, entry, "Entered in error.")
    with pytest.raises(WorkflowError, match="entry .*retracted; expected an entry in force"):
        queries.raise_query(ctx, DM, T, pid, entry=entry, field="grade", text="Please check.")


def test_arm_words_are_a_warning_to_the_writer_and_the_text_is_withheld_from_blinded_roles(study):
    # issue 26 item 8: "text (query text included) is withheld from blinded roles anyway, and the
    # filter is a warning"; issue 25 item 1: "The arm-word check warns the writer at entry; the
    # warning is shown to the writer only and stored nowhere a blinded role reads."
    ctx, store, pid, entry = study
    q = queries.raise_query(ctx, DM, T, pid, entry=entry, field="grade", text="Fatigue after the SABR course?")
    assert q["warnings"] and "'sabr'" in q["warnings"][0] and q["question"] == "Fatigue after the SABR course?"
    a = queries.answer_query(ctx, COORD, T, q["id"], "Yes, after 8 Gy.")
    assert a["warnings"] and "'8 gy'" in a["warnings"][0]
    assert "warnings" not in queries.get_query(ctx, DM, T, q["id"])  # returned once, to the writer
    assert not any("may name an arm" in json.dumps(e) for e in store["db"].audit)
    for blind in (ENROLLER, Actor("oa", {T: "outcome_assessor"})):
        seen = queries.get_query(ctx, blind, T, q["id"])
        assert seen["question"] == "withheld: written by an unblinded role"
        assert [m["text"] for m in seen["history"]] == ["withheld: written by an unblinded role"] * 2
        assert [x["question"] for x in queries.list_queries(ctx, blind, T)] == ["withheld: written by an unblinded role"]
    assert len(_audit(store)) == 2


def test_an_open_label_trial_takes_any_text():
    ldrt = load_protocol("NCT05906329")
    ctx, _, _ = make_ctx("eligible")
    dm, coord = Actor("dm", {ldrt.id: "data_manager"}), Actor("c", {ldrt.id: "coordinator"})
    p = enrolment.register(ctx, coord, ldrt.id, {**RECORD, "id": "L-1"})
    q = queries.raise_query(ctx, dm, ldrt.id, p["id"], field="birth_date", text="SABR given before 8 Gy?")
    assert q["status"] == "open"


def test_a_site_role_sees_and_answers_its_sites_queries_only():
    ctx, _, _ = make_ctx("eligible")
    a, b = _enrolled(ctx, 1, "london"), _enrolled(ctx, 2, "ottawa")
    qa = queries.raise_query(ctx, DM, T, a, field="birth_date", text="Birth date: please confirm.")
    qb = queries.raise_query(ctx, DM, T, b, field="birth_date", text="Birth date: please confirm.")
    site = Actor("site", {T: "coordinator"}, sites={T: "london"})
    assert [q["id"] for q in queries.list_queries(ctx, site, T)] == [qa["id"]]
    assert queries.open_count(ctx, site, T) == {"open": 1, "answered": 0, "unresolved": 1}
    assert queries.open_count(ctx, DM, T)["unresolved"] == 2
    with pytest.raises(WorkflowError) as err:
        queries.answer_query(ctx, site, T, qb["id"], "Confirmed.")
    assert err.value.code == "not_found"
    with pytest.raises(WorkflowError):
        queries.list_queries(ctx, site, T, participant="P-0002")


def test_open_count_counts_open_and_answered_and_filters_by_status(study):
    ctx, _, pid, entry = study
    q1 = queries.raise_query(ctx, DM, T, pid, entry=entry, field="grade", text="Please check the grade.")
    q2 = queries.raise_query(ctx, DM, T, pid, entry=entry, field="term", text="Please check the term.")
    q3 = queries.raise_query(ctx, DM, T, pid, field="birth_date", text="Please check the date.")
    queries.answer_query(ctx, COORD, T, q2["id"], "Checked.")
    queries.close_query(ctx, DM, T, q3["id"], "Resolved by a correction.")
    assert queries.open_count(ctx, COORD, T) == {"open": 1, "answered": 1, "unresolved": 2}
    assert [q["id"] for q in queries.list_queries(ctx, COORD, T, status="closed")] == [q3["id"]]
    assert [q["id"] for q in queries.list_queries(ctx, COORD, T, status="open")] == [q1["id"]]

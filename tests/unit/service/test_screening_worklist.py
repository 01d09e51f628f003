"""service.screening_worklist: the candidates before enrolment with their last verdict, a
screening's criteria undecided-first, and a clinician's attestation recorded on the stored
record (an audited correction) and screened again with the real screener (in-memory fakes)."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from importlib import resources

import pytest

from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.protocols import load_protocol
from oligotrial.service import enrolment
from oligotrial.service import screening_worklist as sw
from oligotrial.service.ports import Actor
from service_fakes import make_ctx

STOP2 = load_protocol("STOP-2")
COORD = Actor("coord", {STOP2.id: "coordinator"})
STAT = Actor("stat", {STOP2.id: "statistician"})
SITE_A = Actor("site-a", {STOP2.id: "enrolling_oncologist"}, sites={STOP2.id: "a"})
ELIGIBLE = json.loads(resources.files("oligotrial.examples").joinpath("stop2_eligible.json").read_text())
KEY = "life_expectancy_6_months"


def _ctx():
    """The fakes with the real screener; the clock on the example's as_of (2026-03-02)."""
    ctx, store, _ = make_ctx()
    return dataclasses.replace(ctx, screener=screen_patient), store


def _without(key: str, rid: str = "S-1") -> dict:
    rec = copy.deepcopy(ELIGIBLE)
    rec["id"] = rid
    rec["attestations"] = [a for a in rec["attestations"] if a["key"] != key]
    return rec


def _screened(ctx, rec, actor=COORD, site=None) -> str:
    pid = enrolment.register(ctx, actor, STOP2.id, rec, site)["id"]
    enrolment.screen(ctx, actor, STOP2.id, pid)
    return pid


def _attest(ctx, pid, **kw):
    data = {"key": KEY, "value": "yes", "by": "Dr Ames", "date": "2026-03-01", "reason": "clinic letter"} | kw
    return sw.attest(ctx, COORD, STOP2.id, pid, data)


def test_the_worklist_lists_candidates_before_enrolment_with_their_last_verdict_and_counts():
    ctx, _ = _ctx()
    waiting = _screened(ctx, _without(KEY, "S-1"))
    new = enrolment.register(ctx, COORD, STOP2.id, {**ELIGIBLE, "id": "S-2"})["id"]
    done = _screened(ctx, {**ELIGIBLE, "id": "S-3"})
    enrolment.consent(ctx, COORD, STOP2.id, done, {"date": "2026-03-02", "form_version": "v1"})
    enrolment.enrol(ctx, COORD, STOP2.id, done)
    rows = {r["external_id"]: r for r in sw.worklist(ctx, STAT, STOP2.id)}
    assert set(rows) == {"S-1", "S-2"}  # the enrolled one has left the worklist
    assert (rows["S-1"]["id"], rows["S-1"]["verdict"], rows["S-1"]["undecided"], rows["S-1"]["excluding"]) == \
        (waiting, "needs_review", 1, 0)
    assert rows["S-2"]["id"] == new and rows["S-2"]["verdict"] is None and rows["S-2"]["state"] == "registered"


def test_the_worklist_is_for_roles_that_view_and_a_site_sees_its_own():
    ctx, _ = _ctx()
    _screened(ctx, _without(KEY, "S-1"), site="a")
    _screened(ctx, _without(KEY, "S-2"), site="b")
    assert [r["external_id"] for r in sw.worklist(ctx, SITE_A, STOP2.id)] == ["S-1"]
    with pytest.raises(BlindingError):
        sw.worklist(ctx, Actor("adm", {STOP2.id: "admin"}), STOP2.id)


def test_criteria_come_undecided_first_then_excluding_and_name_the_attestation_they_wait_for():
    ctx, _ = _ctx()
    rec = _without(KEY)
    rec["performance"] = [{**p, "score": 3} for p in rec["performance"]]  # ECOG 3 excludes
    pid = _screened(ctx, rec)
    crit = sw.criteria(enrolment.get_participant(ctx, COORD, STOP2.id, pid)["screening"])
    standings = [c["standing"] for c in crit]
    assert standings == sorted(standings, key=sw.STANDING_ORDER.index)
    assert crit[0]["id"] == "STOP2-IN-06" and crit[0]["attestations_missing"] == [KEY]
    assert crit[1]["standing"] == "excludes" and crit[1]["kind"] == "inclusion" and crit[1]["verdict"] == "not_met"
    assert len(crit) == len(STOP2.criteria)


@pytest.mark.parametrize(("kind", "verdict", "expected"), [
    ("inclusion", "met", "passes"), ("inclusion", "not_met", "excludes"), ("exclusion", "met", "excludes"),
    ("exclusion", "not_met", "passes"), ("exclusion", "unknown", "undecided"),
    ("inclusion", "not_applicable", "not_applicable")])
def test_standing_follows_the_screening_format(kind, verdict, expected):
    assert sw.standing({"kind": kind, "verdict": verdict}) == expected


def test_an_attestation_is_appended_to_the_record_audited_and_the_verdict_changes():
    ctx, store = _ctx()
    pid = _screened(ctx, _without(KEY))
    out = _attest(ctx, pid, note="seen in clinic")
    assert (out["before"]["verdict"], out["after"]["verdict"]) == ("needs_review", "eligible")
    assert out["changes"] == [{"id": "STOP2-IN-06", "kind": "inclusion", "was": "unknown", "now": "met",
                               "was_standing": "undecided", "now_standing": "passes"}]
    stored = enrolment.get_participant(ctx, COORD, STOP2.id, pid)
    assert stored["record"]["attestations"][-1] == {"key": KEY, "value": True, "by": "Dr Ames", "date": "2026-03-01",
                                                    "note": "seen in clinic"}
    actions = [(e["action"], e.get("reason")) for e in store["db"].audit if e["entity_id"] == pid]
    assert actions[-2:] == [("participant.correct", "clinic letter"), ("participant.screen", None)]
    correct = [e for e in store["db"].audit if e["action"] == "participant.correct"][-1]
    assert KEY not in json.dumps(correct["old"]) and KEY in json.dumps(correct["new"])


def test_a_new_answer_for_the_same_key_replaces_the_old_one_in_the_record():
    ctx, _ = _ctx()
    pid = _screened(ctx, _without(KEY))
    _attest(ctx, pid)
    out = _attest(ctx, pid, value="no", reason="re-assessed")  # same date: the newest recorded answer counts
    assert out["after"]["verdict"] == "ineligible"
    assert out["changes"][0]["was"] == "met" and out["changes"][0]["now"] == "not_met"
    mine = [a for a in enrolment.get_participant(ctx, COORD, STOP2.id, pid)["record"]["attestations"] if a["key"] == KEY]
    assert mine == [{"key": KEY, "value": False, "by": "Dr Ames", "date": "2026-03-01"}]


@pytest.mark.parametrize(("field", "data"), [
    ("key", {"key": "not_a_key"}), ("value", {"value": "maybe"}), ("value", {"value": None}),
    ("by", {"by": " "}), ("date", {"date": "03/01/2026"}), ("date", {"date": "2026-03-09"}),
    ("reason", {"reason": ""}), ("note", {"note": "x" * 501})])
def test_a_refused_attestation_names_its_field_and_writes_nothing(field, data):
    ctx, store = _ctx()
    pid = _screened(ctx, _without(KEY))
    before = (copy.deepcopy(enrolment.get_participant(ctx, COORD, STOP2.id, pid)), len(store["db"].audit))
    with pytest.raises(RecordError) as err:
        _attest(ctx, pid, **data)
    assert err.value.field == field and "expected" in err.value.message
    assert (enrolment.get_participant(ctx, COORD, STOP2.id, pid), len(store["db"].audit)) == before


def test_attestations_are_for_the_roles_that_correct_and_screen_and_only_while_screening():
    ctx, _ = _ctx()
    pid = _screened(ctx, _without(KEY))
    with pytest.raises(BlindingError):
        sw.attest(ctx, STAT, STOP2.id, pid, {"key": KEY, "value": "yes", "by": "x", "date": "2026-03-01",
                                             "reason": "abc"})
    enrolment.consent(ctx, COORD, STOP2.id, pid, {"date": "2026-03-02", "form_version": "v1"})
    with pytest.raises(WorkflowError) as err:
        _attest(ctx, pid)
    assert err.value.field == "state"
    assert KEY not in json.dumps(enrolment.get_participant(ctx, COORD, STOP2.id, pid)["record"])


def test_changes_from_no_screening_lists_every_criterion():
    ctx, _ = _ctx()
    pid = _screened(ctx, _without(KEY))
    after = enrolment.get_participant(ctx, COORD, STOP2.id, pid)["screening"]
    assert len(sw.changes(None, after)) == len(STOP2.criteria)
    assert sw.changes(after, after) == []
    assert dt.date.fromisoformat(after["as_of"]) == dt.date(2026, 3, 2)


def test_the_screening_log_lists_every_candidate_with_reasons_and_counts_them_by_verdict():
    ctx, _ = _ctx()
    waiting = _screened(ctx, _without(KEY, "S-1"))  # needs review: STOP2-IN-06 undecided
    ineligible = json.loads(resources.files("oligotrial.examples").joinpath("stop2_ineligible.json").read_text())
    out = _screened(ctx, {**ineligible, "id": "S-2"})
    enrolled = _screened(ctx, {**ELIGIBLE, "id": "S-3"})
    enrolment.consent(ctx, COORD, STOP2.id, enrolled, {"date": "2026-03-02", "form_version": "v1"})
    enrolment.enrol(ctx, COORD, STOP2.id, enrolled, {})
    enrolment.register(ctx, COORD, STOP2.id, {**ELIGIBLE, "id": "S-4"})  # registered, never screened

    log = sw.screening_log(ctx, COORD, STOP2.id)
    rows = {r["participant"]: r for r in log["rows"]}
    assert list(rows) == ["S-1", "S-2", "S-3", "S-4"] and log["total"] == 4
    assert tuple(rows["S-1"]) == sw.LOG_COLUMNS
    assert rows["S-1"]["verdict"] == "needs_review" and rows["S-1"]["undecided_criteria"] == "STOP2-IN-06"
    assert rows["S-1"]["excluding_criteria"] == "" and rows["S-1"]["enrolled_on"] == ""
    stored = enrolment.get_participant(ctx, COORD, STOP2.id, out)["screening"]["result"]["criteria"]
    expected = [c["id"] for c in sw.criteria({"result": {"criteria": stored}}) if c["standing"] == "excludes"]
    assert expected and rows["S-2"]["verdict"] == "ineligible"
    assert rows["S-2"]["excluding_criteria"] == ";".join(expected)
    assert rows["S-3"]["state"] == "enrolled" and rows["S-3"]["consented_on"] == "2026-03-02"
    assert rows["S-3"]["enrolled_on"] == "2026-03-02" and rows["S-3"]["enrolled_against_verdict"] == "no"
    assert rows["S-4"]["verdict"] == "not screened" and rows["S-4"]["enrolled_against_verdict"] == ""
    assert log["by_verdict"] == {"needs_review": 1, "ineligible": 1, "eligible": 1, "not screened": 1}
    assert [(r["id"], r["count"]) for r in log["excluding"]] == [(i, 1) for i in sorted(expected)]
    assert all(r["text"] for r in log["excluding"])  # the registry's words for each reason
    assert waiting in {p["id"] for p in enrolment.list_participants(ctx, COORD, STOP2.id)}


def test_the_screening_log_is_for_roles_that_view_and_a_site_sees_its_own():
    ctx, _ = _ctx()
    _screened(ctx, _without(KEY, "A-1"), actor=COORD, site="a")
    _screened(ctx, _without(KEY, "B-1"), actor=COORD, site="b")
    assert [r["participant"] for r in sw.screening_log(ctx, SITE_A, STOP2.id)["rows"]] == ["A-1"]
    assert sw.screening_log(ctx, STAT, STOP2.id)["total"] == 2  # the statistician views (no arm in a log)
    with pytest.raises(BlindingError):
        sw.screening_log(ctx, Actor("nobody", {}), STOP2.id)


@pytest.mark.parametrize(("cell", "safe"), [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"),
                                            ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
                                            ("S-001", "S-001"), ("", ""), (None, "")])
def test_a_log_cell_never_starts_a_spreadsheet_formula(cell, safe):
    assert sw.spreadsheet_safe(cell) == safe

"""The data query lifecycle (oligotrial.domain.trial.queries): every transition allowed and
refused, text and field rules, and the arm words a blinded trial's query text may not carry."""

from __future__ import annotations

import pytest

from oligotrial.domain.trial import queries as dq
from oligotrial.errors import RecordError, WorkflowError
from oligotrial.protocols import load_protocol

STOP2 = load_protocol("STOP-2")

ALLOWED = [("answer", "open", "answered"), ("close", "open", "closed"), ("close", "answered", "closed"),
           ("reopen", "answered", "open"), ("reopen", "closed", "open")]
REFUSED = [("answer", "answered"), ("answer", "closed"), ("close", "closed"), ("reopen", "open")]


@pytest.mark.parametrize("action,start,end", ALLOWED)
def test_allowed_transitions(action, start, end):
    assert dq.next_status(action, start) == end
    assert action in dq.actions_from(start)


@pytest.mark.parametrize("action,start", REFUSED)
def test_refused_transitions_name_the_status_and_what_was_expected(action, start):
    with pytest.raises(WorkflowError) as err:
        dq.next_status(action, start)
    assert err.value.code == "illegal_step" and err.value.field == "status"
    assert f"the query is {start}" in err.value.message and "expected a query that is" in err.value.message
    assert action not in dq.actions_from(start)


def test_a_query_is_raised_once_and_opens():
    assert dq.next_status("raise", None) == "open"
    with pytest.raises(WorkflowError, match="already raised"):
        dq.next_status("raise", "open")
    with pytest.raises(RecordError, match="expected one of raise, answer, close, reopen"):
        dq.next_status("delete", "open")


def test_every_status_is_reachable_and_closed_can_only_be_reopened():
    assert dq.actions_from("open") == ("answer", "close")
    assert dq.actions_from("answered") == ("close", "reopen")
    assert dq.actions_from("closed") == ("reopen",)


@pytest.mark.parametrize("action,text,expected", [
    ("raise", "", "the question, 3-5000 characters"),
    ("raise", "  ab  ", "the question, 3-5000 characters"),
    ("answer", None, "the answer, 3-5000 characters"),
    ("reopen", "x" * 5001, "why the query is re-opened, 3-5000 characters"),
    ("close", "no", "a closing note (or nothing), 3-5000 characters"),
    ("raise", 42, "text"),
])
def test_bad_text_is_refused_naming_the_field_the_value_and_the_expectation(action, text, expected):
    with pytest.raises(RecordError) as err:
        dq.clean_text(action, text)
    assert err.value.field == "text" and err.value.errors[0]["expected"] == expected
    assert "text" in err.value.message and expected in err.value.message


def test_text_is_stripped_and_a_close_may_have_none():
    assert dq.clean_text("raise", "  Diameter 300 mm: please check the CT.  ") == "Diameter 300 mm: please check the CT."
    assert dq.clean_text("close", "   ") == "" and dq.clean_text("close", None) == ""


@pytest.mark.parametrize("field", ["grade", "findings[0].diameter_mm", "findings[12].lesion", "term"])
def test_field_paths_of_known_fields(field):
    assert dq.clean_field(f" {field} ", {"grade", "findings", "term"}, "an entry") == field


@pytest.mark.parametrize("field,expected", [
    ("", "the field the query is about"),
    ("findings[0]..x", "a field path of at most 200 characters"),
    ("findings[a]", "a field path"),
    ("a" * 201, "a field path of at most 200 characters"),
    ("colour", "a field of an entry: one of findings, grade, term"),
    (None, "the field the query is about"),
])
def test_bad_field_paths_are_refused_naming_what_was_expected(field, expected):
    with pytest.raises(RecordError) as err:
        dq.clean_field(field, {"grade", "findings", "term"}, "an entry")
    assert err.value.field == "field" and expected in err.value.message


# ---- blinding -----------------------------------------------------------------------------------

TERMS = dq.arm_terms(STOP2)


@pytest.mark.parametrize("text", [
    "Was this the SABR course?",
    "palliative arm: dose not recorded",
    "Experimental Arm (SABR) participant",
    "check the 8 Gy plan",
    "35Gy in 5 fractions?",
    "SBRT to the rib",
    "Stereotactic ablative radiotherapy given twice?",
    "sabr",
])
def test_arm_words_are_found_in_a_stop2_text(text):
    spans = dq.arm_mentions(text, TERMS)
    assert spans, text
    with pytest.raises(RecordError) as err:
        dq.check_no_arm(text, TERMS, "STOP-2")
    assert err.value.code == "arm_in_text" and err.value.field == "text"
    # the refusal says where, never which words (it may be shown to a blinded role)
    from oligotrial.domain.trial.blinding import find_arm_information
    assert find_arm_information([err.value.message, err.value.errors], TERMS.ids, TERMS.labels) == []
    assert "characters" in err.value.message


@pytest.mark.parametrize("text", [
    "Diameter 300 mm for L1 is implausible; please check the CT report.",
    "Grade 5 fatigue with no death recorded: please confirm.",
    "Date of the assessment is before consent.",
])
def test_ordinary_query_texts_pass(text):
    assert dq.arm_mentions(text, TERMS) == []
    dq.check_no_arm(text, TERMS, "STOP-2")


def test_a_trial_that_blinds_no_one_has_no_arm_terms():
    assert dq.arm_terms(load_protocol("NCT05906329")) is None  # single-arm, open label
    dq.check_no_arm("the SABR course", None, "LDRT")  # nothing to hide


def test_arm_terms_come_from_the_protocol():
    assert set(TERMS.ids) == {"palliative", "sabr"} and TERMS.doses_differ
    assert "sbrt" in TERMS.words and "Palliative radiotherapy" in TERMS.words
    hcc = dq.arm_terms(load_protocol("NCT06592612"))  # masks its outcome assessors only
    assert hcc is not None and "control" in hcc.ids
    assert dq.arm_mentions("Control arm patient", hcc)

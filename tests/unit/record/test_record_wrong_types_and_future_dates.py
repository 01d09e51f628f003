"""Issue 26 item 6: a value of the wrong JSON type is an error naming the field, the value's type
and what was expected (a lab ``test`` or ``unit`` given as a list or an object raised TypeError,
"unhashable type", a 500 on the API and a traceback in ``oligotrial screen``); with the caller's
today (``not_after``) a date of something the record says happened after it is refused, named
by its path."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.domain.record.entries import parse_entry
from oligotrial.domain.record.patient import parse_patient
from oligotrial.errors import RecordError

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
LAB = {"date": "2026-02-25", "test": "hemoglobin", "value": 11.8, "unit": "g/dL"}
TODAY = dt.date(2026, 3, 5)


def _issues(call) -> list[dict]:
    with pytest.raises(RecordError) as e:
        call()
    return e.value.errors


@pytest.mark.parametrize(("field", "value", "words"), [
    ("test", ["hemoglobin"], "not a list"),
    ("test", {"name": "hemoglobin"}, "not an object"),
    ("unit", ["g/dL"], "not a list"),
    ("unit", {"g": "dL"}, "not an object"),
    ("test", 7, "not a number"),
])
def test_a_lab_test_or_unit_that_is_not_text_names_the_field_and_the_type(field, value, words):
    bad = {**LAB, field: value}
    in_record = _issues(lambda: parse_patient({**RECORD, "labs": [bad]}))
    assert in_record[0] == {"path": f"labs[0].{field}", "value": value,
                            "expected": f"text (the {field}'s name), {words}"}
    as_entry = _issues(lambda: parse_entry("lab", bad))
    assert as_entry[0] == {"path": field, "value": value, "expected": f"text (the {field}'s name), {words}"}


@pytest.mark.parametrize(("patch", "path", "expected"), [
    ({"id": 5}, "id", "text, not a number"),
    ({"cancer": "NSCLC"}, "cancer", "an object, not text"),
    ({"lesions": {"id": "L1"}}, "lesions", "a list, not an object"),
    ({"performance": [{"date": ["2026-02-20"], "scale": "ECOG", "score": 1}]}, "performance[0].date",
     "an ISO 8601 date (YYYY-MM-DD), not a list"),
])
def test_any_field_of_the_wrong_json_type_says_what_was_expected_and_what_was_given(patch, path, expected):
    issues = _issues(lambda: parse_patient({**RECORD, **patch}))
    assert {"path": path, "expected": expected} == {k: issues[0][k] for k in ("path", "expected")}


# ---- dates after today --------------------------------------------------------------------------

def test_a_record_event_after_today_is_refused_naming_its_path():
    rec = {**RECORD, "events": [{"kind": "progression", "date": "2026-02-20"},
                                {"kind": "death", "date": "2026-03-06"}]}
    issues = _issues(lambda: parse_patient(rec, not_after=TODAY))
    assert [i["path"] for i in issues] == ["events[1].date"]
    assert issues[0]["value"] == "2026-03-06"
    assert "a date not after today (2026-03-05)" in issues[0]["expected"]


def test_every_dated_fact_of_the_record_is_checked_not_only_events():
    rec = {**RECORD,
           "labs": [{**LAB, "date": "2026-04-01"}],
           "adverse_events": [{"date": "2026-03-01", "term": "Fatigue", "grade": 1, "resolved_on": "2026-03-09"}],
           "systemic_therapy": [{**RECORD["systemic_therapy"][0], "end": "2027-01-01"}],
           "reproductive": {"childbearing_potential": True,
                            "pregnancy_test": {"date": "2026-03-10", "result": "negative"}}}
    paths = {i["path"] for i in _issues(lambda: parse_patient(rec, not_after=TODAY))}
    assert paths == {"labs[0].date", "adverse_events[0].resolved_on", "systemic_therapy[0].end",
                     "reproductive.pregnancy_test.date"}


def test_today_itself_and_a_future_as_of_are_accepted_and_without_a_today_nothing_is_refused():
    on_today = {**RECORD, "events": [{"kind": "progression", "date": TODAY.isoformat()}]}
    assert parse_patient(on_today, not_after=TODAY).events[0].date == TODAY
    # as_of is the date the record is judged at, not something that happened
    assert parse_patient({**RECORD, "as_of": "2026-06-01"}, not_after=TODAY).as_of == dt.date(2026, 6, 1)
    later = {**RECORD, "events": [{"kind": "death", "date": "2027-01-03"}]}
    assert parse_patient(later).death_date() == dt.date(2027, 1, 3)  # a file read without a today


@pytest.mark.parametrize(("kind", "entry", "path"), [
    ("event", {"date": "2026-03-06", "kind": "death"}, "date"),
    ("adverse_event", {"date": "2026-03-01", "term": "Fatigue", "grade": 1, "resolved_on": "2026-04-01"},
     "resolved_on"),
    ("therapy", {"line": 2, "agents": ["docetaxel"], "start": "2026-03-01", "end": "2026-05-01"}, "end"),
    ("assessment", {"date": "2026-03-20", "modality": "CT", "findings": []}, "date"),
])
def test_an_entry_dated_after_today_is_refused_naming_the_field(kind, entry, path):
    issues = _issues(lambda: parse_entry(kind, entry, not_after=TODAY))
    assert issues[0]["path"] == path and "not after today (2026-03-05)" in issues[0]["expected"]
    assert parse_entry(kind, entry)  # the shape alone is valid

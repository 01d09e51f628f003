"""Issue 26 item 6, on SQLite and PostgreSQL: input that used to answer 500 answers 422 naming the
field, and nothing is stored; a record or an entry dating something after the service's today
(the injected clock's, ``ServiceContext.today``) is refused with a 422 naming the field.

Before the fix (probe of issue 26): a lab ``test`` or ``unit`` given as a list or an object
answered 500 (``TypeError: unhashable type``) on registration and as a follow-up lab entry; a
record registered or corrected with a death dated after today was stored, and an adverse event's
``resolved_on`` after today was stored with it."""

from __future__ import annotations

import pytest

import hostile_app
from hostile_app import BASE, RECORD, counts, raw

api = hostile_app.api  # the fixture, by name (imported, every test's `api` parameter would shadow it: F811)

LAB = {"date": "2026-03-04", "test": "hemoglobin", "value": 11.8, "unit": "g/dL"}


def _refused(api, r, field: str, before: dict[str, int]) -> dict:
    assert r.status_code == 422, (r.status_code, r.text)
    body = r.json()
    assert body["field"] == field, r.text
    assert counts(api) == before, "a refused request stored something"
    return body


@pytest.mark.parametrize(("field", "value", "words"), [
    ("test", ["hemoglobin"], "not a list"), ("test", {"x": 1}, "not an object"),
    ("unit", ["g/dL"], "not a list"), ("unit", {"g": "dL"}, "not an object"),
])
def test_a_lab_test_or_unit_as_a_list_or_object_is_422_on_registration_and_as_an_entry(api, field, value, words):
    before = counts(api)
    r = raw(api, "POST", BASE, "coordinator", {**RECORD, "id": "P-LAB", "labs": [{**LAB, field: value}]})
    body = _refused(api, r, f"labs[0].{field}", before)
    assert body["errors"][0]["expected"] == f"text (the {field}'s name), {words}"

    pid = api.enrolled(1)
    before = counts(api)
    r = raw(api, "POST", f"{BASE}/{pid}/labs", "coordinator", {**LAB, field: value})
    body = _refused(api, r, field, before)
    assert words in body["message"]


def test_a_record_with_an_event_after_today_is_422_on_registration_and_correction(api):
    api.clock.set("2026-03-05")
    before = counts(api)
    late = {**RECORD, "id": "P-0001", "events": [{"kind": "death", "date": "2026-03-06"}]}
    body = _refused(api, raw(api, "POST", BASE, "coordinator", late), "events[0].date", before)
    assert "a date not after today (2026-03-05)" in body["message"]
    # today itself is fine
    on_today = {**late, "events": [{"kind": "progression", "date": "2026-03-05"}]}
    r = raw(api, "POST", BASE, "coordinator", on_today)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]

    before = counts(api)
    r = raw(api, "PUT", f"{BASE}/{pid}/record", "coordinator", {"record": late, "reason": "source data check"})
    _refused(api, r, "events[0].date", before)


def test_an_entry_or_its_correction_dated_after_today_is_422_naming_the_field(api):
    pid = api.enrolled(1)
    api.clock.set("2026-03-20")
    before = counts(api)
    ae = {"date": "2026-03-10", "term": "Fatigue", "grade": 1, "resolved_on": "2026-03-21"}
    body = _refused(api, raw(api, "POST", f"{BASE}/{pid}/adverse-events", "coordinator", ae), "resolved_on", before)
    assert "not after today (2026-03-20)" in body["message"]

    r = raw(api, "POST", f"{BASE}/{pid}/adverse-events", "coordinator", {**ae, "resolved_on": "2026-03-20"})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    before = counts(api)
    r = raw(api, "PUT", f"{BASE}/{pid}/entries/{eid}", "coordinator",
            {"data": {**ae, "date": "2026-03-25", "resolved_on": None}, "reason": "onset per source"})
    _refused(api, r, "date", before)

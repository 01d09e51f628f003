"""Issue 19 item 3, one test per attack, on SQLite and PostgreSQL: every input is answered, never
with a server error, and a refused request stores nothing.

Before the fix (probe of 2026-12): a lone UTF-16 surrogate echoed back answered 500 after the
write was committed (the participant page and the audit trail then answered 500 to every
role); NaN or Infinity inside a validation error answered 500; SQLite stored NaN (201) where
PostgreSQL refused it (500); a radiotherapy start in year 9999 overflowed the visit planner
(500); a 1 MB note and 20,000 lesions were accepted."""

from __future__ import annotations

import json

import pytest

import hostile_app
from hostile_app import BASE, RECORD, RT_FOR_ARM, counts, raw

api = hostile_app.api  # the fixture, by name (imported, every test's `api` parameter would shadow it: F811)

SURROGATE = "\ud800"


def _ready(api, n: int = 1, *, randomized: bool = False) -> tuple[str, str | None]:
    pid = api.enrolled(n)
    arm = None
    if randomized:
        r = api.call("POST", f"{BASE}/{pid}/randomize", "coordinator", json={})
        assert r.status_code == 200, r.text
        arm = r.json()["arm"]
    return pid, arm


def _refused(api, r, field: str, before: dict[str, int], status: int = 422) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["field"] == field, r.text
    json.dumps(r.json(), allow_nan=False).encode("utf-8")  # the answer itself is valid, encodable JSON
    assert counts(api) == before, "a refused request stored something"


def _register(api, record) -> object:
    return raw(api, "POST", BASE, "coordinator", record)


# ---- lone surrogates --------------------------------------------------------------------------

def test_a_lone_surrogate_in_a_record_is_422_naming_the_field_and_nothing_is_stored(api):
    before = counts(api)
    lesions = [{**RECORD["lesions"][0], "location": f"right {SURROGATE} lobe"}, *RECORD["lesions"][1:]]
    r = _register(api, {**RECORD, "id": "P-S1", "lesions": lesions})
    _refused(api, r, "lesions[0].location", before)
    assert "surrogate" in r.json()["message"]
    assert api.call("GET", BASE, "coordinator").json() == []


@pytest.mark.parametrize("route,body,field", [
    ("adverse-events", {"date": "2026-03-20", "term": "Nausea", "grade": 1, "note": f"x{SURROGATE}"}, "note"),
    ("events", {"date": "2026-03-20", "kind": "progression", "detail": SURROGATE}, "detail"),
    ("consent", {"date": "2026-03-01", "form_version": f"v{SURROGATE}"}, "form_version"),
    ("unblind", {"reason": f"anaphylaxis {SURROGATE} now", "password": "x"}, "reason"),
    ("radiotherapy", {"start": "2026-03-10", "end": "2026-03-10", "dose_gy": 8, "fractions": 1,
                      "technique": SURROGATE}, "technique"),
])
def test_a_lone_surrogate_in_any_write_is_422_and_nothing_is_stored(api, route, body, field):
    pid, _arm = _ready(api)
    before = counts(api)
    r = raw(api, "POST", f"{BASE}/{pid}/{route}", "coordinator", body)
    _refused(api, r, field, before)


def test_a_stored_value_that_cannot_be_encoded_never_makes_a_page_fail(api, tmp_path):
    """A value stored before these checks (written here past the service, as an older version
    could) is rendered escaped: the participant page and the audit trail still answer 200."""
    pid, _arm = _ready(api)
    sqlite = api.container.settings.database_url.startswith("sqlite")
    try:
        with api.container.ctx.uow() as uow:
            p = uow.participants.find_participant("NCT06918951", "P-0001")
            uow.participants.add_entry(p.id, "adverse_event", {"date": "2026-03-20", "term": "Nausea", "grade": 1,
                                                       "note": f"legacy {SURROGATE}", "score": float("nan")},
                               "2026-03-20T09:00:00+00:00", "legacy")
            uow.commit()
        stored = True
    except Exception:  # noqa: BLE001 - PostgreSQL's jsonb refuses both values: nothing odd is stored there
        stored = False
    assert stored == sqlite
    for user in ("coordinator", "data_manager", "statistician"):
        for url in (f"{BASE}/{pid}", BASE, "/api/v1/trials/NCT06918951/audit"):
            r = api.call("GET", url, user)
            assert r.status_code == 200, (user, url, r.status_code, r.text)
            json.loads(r.content)


# ---- NaN and Infinity --------------------------------------------------------------------------

@pytest.mark.parametrize("route,body,field", [
    ("labs", {"date": "2026-03-20", "test": "hemoglobin", "value": float("nan"), "unit": "g/dL"}, "value"),
    ("labs", {"date": "2026-03-20", "test": "hemoglobin", "value": 11.8, "uln": float("inf"), "unit": "g/dL"},
     "uln"),
    ("assessments", {"date": "2026-06-01", "modality": "CT",
                     "findings": [{"lesion": "L1", "diameter_mm": 10, "fragments_mm": [float("-inf")]}]},
     "findings[0].fragments_mm[0]"),
    ("radiotherapy", {"start": "2026-03-10", "end": "2026-03-10", "dose_gy": float("nan"), "fractions": 1},
     "dose_gy"),
    ("randomize", {"strata": {"x": float("nan")}}, "strata.x"),
])
def test_nan_and_infinity_are_422_on_both_backends_and_nothing_is_stored(api, route, body, field):
    pid, _arm = _ready(api)
    before = counts(api)
    user = "outcome_assessor" if route == "assessments" else "coordinator"  # STOP-2 masks its assessors
    r = raw(api, "POST", f"{BASE}/{pid}/{route}", user, body)
    _refused(api, r, field, before)
    assert "finite" in r.json()["message"]


def test_nan_inside_a_registered_record_is_422_not_stored_on_sqlite_and_refused_on_postgres(api):
    before = counts(api)
    r = _register(api, {**RECORD, "id": "P-N1", "vitals": [{"date": "2026-03-01", "weight_kg": 70,
                                                             "height_cm": float("nan")}]})
    _refused(api, r, "vitals[0].height_cm", before)


# ---- dates --------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"start": "9999-12-30", "end": "9999-12-31"}, "start"),
    ({"start": "2026-03-10", "end": "2101-01-01"}, "end"),
    ({"start": "1899-12-31", "end": "2026-03-10"}, "start"),
])
def test_a_radiotherapy_date_outside_1900_2100_is_422_and_plans_no_visit(api, body, field):
    pid, arm = _ready(api, randomized=True)
    before = counts(api)
    r = raw(api, "POST", f"{BASE}/{pid}/radiotherapy", "treating_oncologist", {**body, **RT_FOR_ARM[arm]})
    _refused(api, r, field, before)
    assert "1900-01-01 to 2100-12-31" in r.json()["message"]


def test_a_far_future_date_in_an_entry_or_record_is_422(api):
    pid, _arm = _ready(api)
    before = counts(api)
    r = raw(api, "POST", f"{BASE}/{pid}/events", "coordinator", {"date": "9999-12-31", "kind": "death"})
    _refused(api, r, "date", before)
    r = _register(api, {**RECORD, "id": "P-D1", "birth_date": "0001-01-01"})
    _refused(api, r, "birth_date", before)


# ---- sizes --------------------------------------------------------------------------------------

def test_a_body_over_one_megabyte_is_413_before_any_route(api):
    before = counts(api)
    big = {**RECORD, "id": "P-B1", "lesions": [{**RECORD["lesions"][0], "id": f"L{i}"} for i in range(20_000)]}
    r = _register(api, big)
    _refused(api, r, "body", before, status=413)
    r = _register(api, {**RECORD, "id": "P-B2", "cancer": {**RECORD["cancer"], "histology": "x" * 1_100_000}})
    _refused(api, r, "body", before, status=413)


def test_a_chunked_body_over_the_limit_is_413_too(api):
    before = counts(api)

    def chunks():
        for _ in range(20):
            yield b" " * 100_000

    headers = {**api.headers("coordinator"), "Content-Type": "application/json"}
    r = api.client.post(BASE, headers=headers, content=chunks())
    _refused(api, r, "body", before, status=413)


def test_free_text_and_lesion_lists_are_bounded(api):
    before = counts(api)
    lesions = [{"id": f"L{i}", "kind": "metastasis", "organ": "lung"} for i in range(201)]
    r = _register(api, {**RECORD, "id": "P-L1", "lesions": lesions})
    _refused(api, r, "lesions", before)
    pid, _arm = _ready(api)
    before = counts(api)
    r = raw(api, "POST", f"{BASE}/{pid}/adverse-events", "coordinator",
            {"date": "2026-03-20", "term": "Nausea", "grade": 1, "note": "x" * 5001})
    _refused(api, r, "note", before)
    r = raw(api, "POST", f"{BASE}/{pid}/assessments", "outcome_assessor",  # STOP-2 masks its assessors
            {"date": "2026-06-01", "modality": "CT", "findings": [{"lesion": "L1"}] * 201})
    _refused(api, r, "findings", before)
    r = raw(api, "POST", f"{BASE}/{pid}/consent", "coordinator", {"date": "2026-03-01", "form_version": "v" * 65})
    _refused(api, r, "form_version", before)


def test_a_deeply_nested_body_is_422_never_5xx(api):
    pid, _arm = _ready(api)
    before = counts(api)
    deep: object = "x"
    for _ in range(40):
        deep = [deep]
    r = raw(api, "PUT", f"{BASE}/{pid}/record", "coordinator", {"record": {**RECORD, "extra": deep},
                                                                "reason": "nested attack"})
    _refused(api, r, "record.extra" + "[0]" * 30, before)  # the body's 32nd level
    assert "at most 32 levels of nesting" in r.json()["message"]
    r = raw(api, "POST", BASE, "coordinator", b"[" * 100_000 + b"]" * 100_000)
    assert r.status_code in (400, 413, 422), r.status_code
    assert counts(api) == before

"""A birth date after the record's date (``as_of``, or today when absent) is refused on
``birth_date`` itself, as the first issue, not only on its consequences."""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.record.patient import parse_patient
from oligotrial.errors import RecordError


def _record(**fields) -> dict:
    rec = {"format": "oligotrial.patient/1", "id": "BD-1", "sex": "female"}
    rec.update(fields)
    return {k: v for k, v in rec.items() if v is not None}


def test_birth_after_as_of_is_refused_on_birth_date_first():
    # the diagnosis falls "before birth" too: that consequence may be reported, but after
    rec = _record(as_of="2026-03-02", birth_date="2026-03-03",
                  cancer={"diagnosis": "NSCLC", "diagnosed_on": "2025-06-01", "confirmation": "histology"})
    with pytest.raises(RecordError) as e:
        parse_patient(rec)
    err = e.value
    assert err.field == "birth_date"
    first = err.errors[0]
    assert first["path"] == "birth_date"
    assert first["value"] == "2026-03-03"
    assert "on or before the record's date" in first["expected"] and "as_of 2026-03-02" in first["expected"]
    assert "birth_date" in err.message


def test_birth_on_as_of_passes():
    p = parse_patient(_record(as_of="2026-03-02", birth_date="2026-03-02"))
    assert p.birth_date == dt.date(2026, 3, 2)


def test_birth_before_as_of_passes_even_if_after_today():
    # as_of decides, not the clock: a record dated in the future with a birth before it is fine
    p = parse_patient(_record(as_of="2100-01-02", birth_date="2100-01-01"), today=dt.date(2026, 3, 2))
    assert p.as_of == dt.date(2100, 1, 2)


def test_absent_as_of_uses_today():
    today = dt.date(2026, 3, 2)
    with pytest.raises(RecordError) as e:
        parse_patient(_record(birth_date="2026-03-03"), today=today)
    assert e.value.field == "birth_date"
    assert e.value.errors[0]["path"] == "birth_date"
    assert "2026-03-02" in e.value.errors[0]["expected"]
    p = parse_patient(_record(birth_date="2026-03-02"), today=today)
    assert p.as_of == today and p.birth_date == today


def test_age_years_alone_is_unaffected():
    p = parse_patient(_record(as_of="2026-03-02", age_years=70))
    assert p.age_years == 70 and p.birth_date is None

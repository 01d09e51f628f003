"""The patient record: shape, unit conversion and impossible-record checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core_builders import base, parsed
from oligotrial.domain.record.patient import parse_patient, patient_json_schema
from oligotrial.errors import RecordError

FORMAT_EXAMPLE = Path(__file__).parents[2] / "data" / "format_example_patient.json"


def test_format_example_parses_with_every_field():
    p = parse_patient(json.loads(FORMAT_EXAMPLE.read_text()))
    assert p.id == "P-0001"
    assert [lesion.id for lesion in p.lesions] == ["L1", "L2", "L3", "L6"]
    assert p.lesion_map()["L6"].intracranial is True
    assert p.attestation("all_progressive_sites_sbrt_suitable").value is True


@pytest.mark.parametrize("test,value,unit,expected_value,expected_unit", [
    ("creatinine", 1.0, "mg/dL", 88.42, "umol/L"),
    ("total_bilirubin", 2.0, "mg/dL", 34.208, "umol/L"),
    ("hemoglobin", 12.5, "g/dL", 125.0, "g/L"),
    ("albumin", 2.8, "g/dL", 28.0, "g/L"),
    ("platelets", 150, "10^9/L", 150, "10^9/L"),
])
def test_lab_units_are_converted_to_canonical(test, value, unit, expected_value, expected_unit):
    p = parsed(base(labs=[{"date": "2026-02-01", "test": test, "value": value, "unit": unit, "uln": value * 2}]))
    lab = p.labs[0]
    assert lab.unit == expected_unit
    assert lab.value == pytest.approx(expected_value)
    assert lab.uln == pytest.approx(expected_value * 2)


def _errors(rec) -> list[dict]:
    with pytest.raises(RecordError) as exc:
        parse_patient(rec)
    return exc.value.errors


def test_unknown_field_is_rejected_with_its_path():
    errs = _errors(base(ecog=1))
    assert errs[0]["path"] == "ecog" and "unknown field" in errs[0]["expected"]


def test_unknown_nested_field_is_rejected():
    errs = _errors(base(cancer={"diagnosis": "NSCLC", "stagee": "IV"}))
    assert errs[0]["path"] == "cancer.stagee"


def test_unknown_lab_test_names_the_accepted_tests():
    errs = _errors(base(labs=[{"date": "2026-02-01", "test": "plt", "value": 100, "unit": "10^9/L"}]))
    assert errs[0]["path"] == "labs[0].test" and errs[0]["value"] == "plt"
    assert "platelets" in errs[0]["expected"]


def test_unknown_unit_names_the_accepted_units():
    errs = _errors(base(labs=[{"date": "2026-02-01", "test": "creatinine", "value": 1, "unit": "mmol/L"}]))
    assert errs[0] == {"path": "labs[0].unit", "value": "mmol/L", "expected": "umol/L or mg/dL for creatinine"}


def test_scan_before_birth_is_impossible():
    errs = _errors(base(assessments=[{"date": "1959-01-01", "modality": "CT", "findings": []}]))
    assert errs[0]["path"] == "assessments[0].date" and "before birth" in errs[0]["expected"]


def test_death_before_diagnosis_is_impossible():
    errs = _errors(base(cancer={"diagnosis": "NSCLC", "diagnosed_on": "2024-05-02"},
                        events=[{"kind": "death", "date": "2024-01-01"}]))
    assert any(e["path"] == "events[0].date" and "before diagnosis" in e["expected"] for e in errs)


def test_finding_for_unknown_lesion_is_rejected():
    errs = _errors(base(lesions=[], assessments=[{"date": "2026-01-01", "modality": "CT",
                                                   "findings": [{"lesion": "L9", "diameter_mm": 12}]}]))
    assert errs[0]["path"] == "assessments[0].findings[0].lesion" and errs[0]["value"] == "L9"


def test_new_lesion_may_be_absent_from_lesions_list():
    p = parsed(base(lesions=[], assessments=[{"date": "2026-01-01", "modality": "CT",
                                              "findings": [{"lesion": "L9", "new": True, "diameter_mm": 12}]}]))
    assert p.assessments[0].findings[0].new


def test_node_measured_by_longest_diameter_is_rejected():
    errs = _errors(base(lesions=[{"id": "N1", "kind": "lymph_node", "organ": "lymph_node"}],
                        assessments=[{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "N1", "diameter_mm": 18}]}]))
    assert errs[0]["path"] == "assessments[0].findings[0].diameter_mm"
    assert "short_axis_mm" in errs[0]["expected"]


def test_new_flag_on_a_lesion_seen_before_is_rejected():
    rec = base(lesions=[{"id": "L1", "kind": "metastasis", "organ": "lung"}], assessments=[
        {"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 10}]},
        {"date": "2026-02-01", "modality": "CT", "findings": [{"lesion": "L1", "new": True, "diameter_mm": 12}]}])
    assert _errors(rec)[0]["path"] == "assessments[1].findings[0].new"


def test_every_problem_is_listed_and_nothing_is_returned():
    errs = _errors(base(foo=1, labs=[{"date": "2026-02-01", "test": "alt", "value": 3, "unit": "ukat"}]))
    assert {e["path"] for e in errs} == {"foo", "labs[0].unit"}


def test_error_message_names_field_value_and_expectation():
    with pytest.raises(RecordError) as exc:
        parse_patient(base(sex="f"))
    assert "sex" in exc.value.message and "'f'" in exc.value.message and "female" in exc.value.message


def test_as_of_defaults_to_given_today():
    import datetime as dt
    rec = base()
    del rec["as_of"]
    assert parse_patient(rec, today=dt.date(2026, 1, 2)).as_of == dt.date(2026, 1, 2)


def test_json_schema_describes_the_format():
    schema = patient_json_schema()
    assert schema["title"] == "oligotrial.patient/1"
    assert schema["additionalProperties"] is False
    assert {"lesions", "assessments", "labs", "attestations"} <= set(schema["properties"])

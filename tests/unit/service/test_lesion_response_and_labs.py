"""Data entry that helps, in the service layer (in-memory fakes): a lab value far outside the
plausible range is kept only with a reason (nothing stored without one); the live lesion table
of an assessment being typed (sum, change from baseline and nadir, RECIST 1.1 response) and the
spider plot's series, both from the response engine; a refused radiotherapy course lists every
problem by its field for an unblinded caller, and names no arm or range for a blinded one.

The hand-computed RECIST 1.1 examples (Eisenhauer 2009, s.4.3.1): baseline L1 40 mm (lung) and
L2 20 mm short axis (node): sum 60 mm. Follow-up L1 28 + L2 14 = 42 mm: (42 - 60) / 60 = -30.0 %,
at least a 30 % decrease: PR. Then L1 40 + L2 21 = 61 mm against the nadir 42 mm: +45.2 % and
+19 mm (>= 20 % and >= 5 mm): PD.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.domain.record import lab_ranges
from oligotrial.domain.record.units import LAB_UNITS
from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.errors import AssessmentError, BlindingError, DoseError, RecordError
from oligotrial.protocols import load_protocol
from oligotrial.service import (
    enrolment,
    followup,
    lesion_response,
    radiotherapy,
    randomization,
)
from oligotrial.service.ports import Actor
from service_fakes import committed, make_ctx

STOP2 = load_protocol("STOP-2")
T = STOP2.id
COORD = Actor("coord", {T: "coordinator"})
OA = Actor("oa", {T: "outcome_assessor"})
TREATER = Actor("treater", {T: "treating_oncologist"})
BASE = {"date": "2026-02-20", "modality": "CT",
        "findings": [{"lesion": "L1", "diameter_mm": 40}, {"lesion": "L2", "short_axis_mm": 20}]}
RECORD = {**json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text()),
          "assessments": [BASE], "events": []}


def _randomized(ctx, store, n=1):
    pid = enrolment.register(ctx, COORD, T, {**RECORD, "id": f"P-{n:04d}"})["id"]
    enrolment.screen(ctx, COORD, T, pid)
    enrolment.consent(ctx, COORD, T, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, T, pid)
    randomization.randomize(ctx, COORD, T, pid, {})
    store["clock"][0] = dt.datetime(2026, 6, 10, 9, 0, tzinfo=dt.UTC)
    return pid


@pytest.fixture
def study():
    ctx, store, _ = make_ctx("eligible")
    randomization.generate_list(ctx, T, seed=1, size_per_stratum=20)
    return ctx, store, _randomized(ctx, store)


def _scan(date, l1, l2):
    return {"date": date, "modality": "CT",
            "findings": [{"lesion": "L1", "diameter_mm": l1}, {"lesion": "L2", "short_axis_mm": l2}]}


# ---- lab plausibility ----------------------------------------------------------------------------

def test_every_lab_test_has_a_plausible_range_around_its_reference_interval():
    assert set(lab_ranges.RANGES) == set(LAB_UNITS)
    for r in lab_ranges.RANGES.values():
        assert r.plausible_low <= (r.reference_low or 0) and r.reference_high <= r.plausible_high, r


@pytest.mark.parametrize(("test", "value", "side"), [("hemoglobin", 11.8, "below"), ("albumin", 3.9, "below"),
                                                      ("creatinine", 0.9, "below"), ("alt", 25000, "above")])
def test_a_value_far_outside_is_implausible_and_the_message_names_the_range(test, value, side):
    why = lab_ranges.implausible(test, value)
    r = lab_ranges.RANGES[test]
    assert why and side in why and f"{r.plausible_low:g}-{r.plausible_high:g} {r.unit}" in why


def test_values_within_the_limits_are_plausible_even_outside_the_reference_interval():
    assert lab_ranges.implausible("hemoglobin", 118) is None
    assert lab_ranges.implausible("neutrophils", 0.2) is None  # neutropenia is real
    assert lab_ranges.implausible("afp", 250000) is None       # advanced HCC


LAB = {"date": "2026-06-01", "test": "hemoglobin", "value": 11.8, "unit": "g/L"}


def test_an_implausible_lab_asks_for_a_reason_and_stores_nothing_then_is_kept_with_it(study):
    ctx, store, pid = study
    with pytest.raises(RecordError) as exc:
        followup.record_entry(ctx, COORD, T, pid, "lab", LAB)
    assert exc.value.field == "unusual_value_reason" and "30-250 g/L" in exc.value.errors[0]["expected"]
    assert committed(store).participants.entries(pid) == []
    out = followup.record_entry(ctx, COORD, T, pid, "lab", {**LAB, "unusual_value_reason": "checked with the lab"})
    assert out["data"] == {"date": "2026-06-01", "test": "hemoglobin", "value": 11.8, "unit": "g/L"}
    assert any("checked with the lab" in n for n in out["notes"])
    assert committed(store).audit.audit_entries(T)[-1]["reason"] == "checked with the lab"


def test_a_plausible_lab_needs_no_reason_and_a_unit_conversion_is_judged_after_it(study):
    ctx, _store, pid = study
    out = followup.record_entry(ctx, COORD, T, pid, "lab", {**LAB, "unit": "g/dL"})  # 11.8 g/dL = 118 g/L
    assert out["data"]["value"] == pytest.approx(118) and out["notes"] == []


def test_correcting_a_lab_to_an_implausible_value_also_asks_for_the_reason(study):
    ctx, store, pid = study
    eid = followup.record_entry(ctx, COORD, T, pid, "lab", {**LAB, "value": 118})["id"]
    with pytest.raises(RecordError) as exc:
        followup.correct_entry(ctx, COORD, T, pid, eid, LAB, "typo")
    assert exc.value.field == "unusual_value_reason"
    assert committed(store).participants.entries(pid)[0]["data"]["value"] == 118
    out = followup.correct_entry(ctx, COORD, T, pid, eid, {**LAB, "unusual_value_reason": "as reported"}, "typo")
    assert out["data"]["value"] == 11.8 and "as reported" in committed(store).participants.entries(pid)[0]["reason"]


# ---- the live lesion table and the spider plot ----------------------------------------------------

def test_the_preview_gives_the_hand_computed_sum_change_and_pr_and_stores_nothing(study):
    ctx, store, pid = study
    out = lesion_response.preview_assessment(ctx, OA, T, pid, _scan("2026-06-01", 28, 14))
    assert out["baseline"] == "2026-02-20" and out["targets"] == ["L1", "L2"]
    assert out["baseline_sum_mm"] == 60 and out["sum_mm"] == 42 and out["sizes_mm"] == {"L1": 28, "L2": 14}
    assert out["change_from_baseline_pct"] == -30.0 and out["change_from_nadir_pct"] == -30.0
    assert out["target"] == "PR" and out["overall"] == "PR"
    assert committed(store).participants.entries(pid) == []


def test_the_preview_measures_progression_from_the_nadir(study):
    ctx, _store, pid = study
    followup.record_entry(ctx, OA, T, pid, "assessment", _scan("2026-05-01", 28, 14))
    out = lesion_response.preview_assessment(ctx, OA, T, pid, _scan("2026-06-01", 40, 21))
    assert out["sum_mm"] == 61 and out["nadir_mm"] == 42 and out["change_from_nadir_mm"] == 19
    assert out["change_from_nadir_pct"] == 45.2 and out["change_from_baseline_pct"] == 1.7
    assert out["target"] == "PD" and out["overall"] == "PD"


def test_the_preview_refuses_what_recording_would_refuse_naming_the_field(study):
    ctx, _store, pid = study
    with pytest.raises(RecordError) as exc:
        lesion_response.preview_assessment(ctx, OA, T, pid, _scan("2026-06-01", -3, 14))
    assert exc.value.field == "findings[0].diameter_mm"
    with pytest.raises(AssessmentError) as exc:
        lesion_response.preview_assessment(ctx, OA, T, pid, _scan("2026-01-01", 30, 14))
    assert exc.value.field == "date"
    # STOP-2 takes assessments from its masked assessor only: so does the preview
    with pytest.raises(BlindingError):
        lesion_response.preview_assessment(ctx, COORD, T, pid, _scan("2026-06-01", 28, 14))


def test_the_spider_series_are_one_per_target_and_the_sum_from_zero_at_baseline(study):
    ctx, _store, pid = study
    followup.record_entry(ctx, OA, T, pid, "assessment", _scan("2026-05-01", 28, 14))
    followup.record_entry(ctx, OA, T, pid, "assessment", _scan("2026-06-01", 20, 21))
    out = lesion_response.spider(ctx, COORD, T, pid)
    assert [s["id"] for s in out["series"]] == ["L1", "L2", "sum"] and out["note"] is None
    l1, l2, total = (s["points"] for s in out["series"])
    assert [p["change_pct"] for p in l1] == [0.0, -30.0, -50.0]
    assert [p["change_pct"] for p in l2] == [0.0, -30.0, 5.0]
    assert [p["change_pct"] for p in total] == [0.0, -30.0, -31.7]  # 41 / 60
    assert out["responses"] == {"2026-05-01": "PR", "2026-06-01": "PR"}


def test_the_spider_of_a_record_without_follow_up_says_why_it_is_flat(study):
    ctx, _store, pid = study
    out = lesion_response.spider(ctx, COORD, T, pid)
    assert out["note"] == "only the baseline scan so far" and len(out["series"]) == 3


# ---- radiotherapy refused: every problem by field, no arm for the blind ----------------------------

def _treated_sabr_or_palliative(ctx, pid, actor):
    """A course that fits neither STOP-2 arm (70 Gy in 35 fractions)."""
    return enrolment.record_radiotherapy(ctx, actor, T, pid, {"start": "2026-03-10", "end": "2026-04-20",
                                                               "dose_gy": 70, "fractions": 35,
                                                               "technique": "IMRT", "lesions": ["L1"]})


def test_a_refused_course_lists_every_problem_by_field_for_an_unblinded_role(study):
    ctx, store, pid = study
    with pytest.raises(DoseError) as exc:
        _treated_sabr_or_palliative(ctx, pid, TREATER)
    fields = {e["path"] for e in exc.value.errors}
    assert {"dose_gy", "fractions"} <= fields and len(exc.value.errors) >= 2
    assert all(e["expected"] for e in exc.value.errors)
    assert committed(store).participants.get_participant(T, pid).radiotherapy is None


@pytest.mark.parametrize("arm", [a.id for a in STOP2.arms])
def test_a_refused_course_names_no_arm_and_no_range_for_a_blinded_role(arm):
    """No role the service lets record radiotherapy is blinded today (coordinator and treating
    oncologist are never blinded: blinding.ALWAYS_UNBLINDED), so the blinded refusal is built
    here directly, as record_radiotherapy builds it for a blinded caller."""
    rt = {"start": "2026-03-10", "end": "2026-04-20", "dose_gy": 70.0, "fractions": 35, "technique": "IMRT",
          "lesions": ["L1"]}
    report = radiotherapy.check(STOP2, arm, rt)
    assert report.status == "fail"
    err = radiotherapy.refusal(report, rt, blinded=True)
    assert len(err.errors) == 1 and "allocated arm" in err.message
    shown = [err.message, *(e["expected"] for e in err.errors)]
    assert find_arm_information(shown, [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]) == []
    assert not any(x in " ".join(shown) for x in ("8 Gy", "Gy/", "regimen", "allowed"))
    unblinded = radiotherapy.refusal(report, rt, blinded=False)
    assert "regimen" in " ".join(e["expected"] for e in unblinded.errors)  # what the blinded one leaves out

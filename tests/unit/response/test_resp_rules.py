"""RECIST 1.1 rules beyond the reference vectors: bad input, options, selection, PET."""

from __future__ import annotations

import pytest

from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.response import recist
from oligotrial.errors import AssessmentError, RecordError
from resp_helpers import patient_from_vector


def _rec(assessments, lesions=None, **extra):
    lesions = lesions or [{"id": "L1", "kind": "metastasis", "organ": "liver"}]
    return parse_patient({"id": "X", "as_of": "2027-01-01", "lesions": lesions, "assessments": assessments, **extra})


def test_resp_followup_lesion_never_seen_and_not_new_is_an_error():
    lesions = [{"id": "L1", "kind": "metastasis", "organ": "liver"}, {"id": "L2", "kind": "metastasis", "organ": "lung"}]
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]},
              {"date": "2026-03-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30},
                                                                    {"lesion": "L2", "diameter_mm": 12}]}], lesions)
    with pytest.raises(AssessmentError, match="L2.*never seen.*not marked new"):
        recist.assess(p)


def test_resp_unknown_lesion_id_is_a_record_error():
    with pytest.raises(RecordError, match="L9"):
        _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]},
              {"date": "2026-03-01", "modality": "CT", "findings": [{"lesion": "L9", "diameter_mm": 30}]}])


def test_resp_two_assessments_one_date_disagree_is_an_error():
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]},
              {"date": "2026-03-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 20}]},
              {"date": "2026-03-01", "modality": "MRI", "findings": [{"lesion": "L1", "diameter_mm": 25}]}])
    with pytest.raises(AssessmentError, match="disagree on lesion L1") as exc:
        recist.assess(p)
    assert exc.value.code == "conflicting_assessments"


def test_resp_two_assessments_one_date_merge_when_consistent():
    lesions = [{"id": "L1", "kind": "metastasis", "organ": "liver"}, {"id": "L2", "kind": "metastasis", "organ": "brain"}]
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]},
              {"date": "2026-01-01", "modality": "MRI", "findings": [{"lesion": "L2", "diameter_mm": 20}]},
              {"date": "2026-03-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 10}]},
              {"date": "2026-03-01", "modality": "MRI", "findings": [{"lesion": "L2", "diameter_mm": 10}]}], lesions)
    r = recist.assess(p)
    assert r.targets == ("L1", "L2") and len(r.timepoints) == 1 and r.timepoints[0].target == "PR"


def test_resp_node_by_longest_diameter_is_a_record_error():
    with pytest.raises(RecordError, match="short_axis_mm"):
        _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "N1", "diameter_mm": 30}]}],
             [{"id": "N1", "kind": "lymph_node", "organ": "lymph_node"}])


def test_resp_flagged_nonmeasurable_target_is_an_error():
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 8, "target": True}]}])
    with pytest.raises(AssessmentError, match="measurable"):
        recist.assess(p)


def test_resp_no_disease_at_baseline_is_an_error():
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "state": "absent"}]}])
    with pytest.raises(AssessmentError, match="no disease"):
        recist.assess(p)


def test_resp_baseline_option_must_name_an_assessment():
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 30}]}])
    import datetime as dt
    with pytest.raises(AssessmentError, match="baseline 2026-01-02"):
        recist.assess(p, baseline=dt.date(2026, 1, 2))


def test_resp_automatic_selection_limits():
    organs = ["liver"] * 3 + ["lymph_node"] * 3 + ["lung", "adrenal"]
    lesions, findings = [], []
    for i, organ in enumerate(organs):
        lid = f"L{i}"
        node = organ == "lymph_node"
        lesions.append({"id": lid, "kind": "lymph_node" if node else "metastasis", "organ": organ})
        findings.append({"lesion": lid, ("short_axis_mm" if node else "diameter_mm"): 50 - i})
    findings.append({"lesion": "N9", "short_axis_mm": 12})
    lesions.append({"id": "N9", "kind": "lymph_node", "organ": "lymph_node"})
    sel = recist.select_targets(_rec([{"date": "2026-01-01", "modality": "CT", "findings": findings}], lesions),
                                recist.timeline(_rec([{"date": "2026-01-01", "modality": "CT", "findings": findings}], lesions))[0])
    assert sel.targets == ("L0", "L1", "L3", "L4", "L6")   # 2 liver, 2 nodes (one organ), lung
    assert "N9" in sel.non_targets and "L2" in sel.non_targets and "L7" in sel.non_targets
    assert any("selected by oligotrial" in n for n in sel.notes)


def test_resp_sticky_pr_option():
    vec = {"id": "S", "lesions": [{"id": "L1", "organ": "liver"}],
           "timepoints": [{"date": "2026-01-01", "L1": 100}, {"date": "2026-03-01", "L1": 65},
                          {"date": "2026-04-01", "L1": 65}, {"date": "2026-05-01", "L1": 75}]}
    p = patient_from_vector(vec)
    assert [t.target for t in recist.assess(p).timepoints] == ["PR", "PR", "SD"]
    held = recist.assess(p, options=recist.RecistOptions(hold_confirmed_pr=True))
    assert [t.target for t in held.timepoints] == ["PR", "PR", "PR"]


def test_resp_reappearance_after_unconfirmed_cr_with_confirmed_option():
    vec = {"id": "Re", "lesions": [{"id": "L1", "organ": "liver"}, {"id": "L2", "organ": "lung"}],
           "timepoints": [{"date": "2026-01-01", "L1": 50, "L2": 50}, {"date": "2026-03-01", "L1": 0, "L2": 0},
                          {"date": "2026-05-01", "L1": 3, "L2": 0}]}
    p = patient_from_vector(vec)
    assert [t.overall for t in recist.assess(p).timepoints] == ["CR", "PD"]
    strict = recist.assess(p, options=recist.RecistOptions(reappearance_pd="confirmed_cr"))
    assert [t.overall for t in strict.timepoints] == ["CR", "PR"]   # 3 vs nadir 0: +3 mm, not PD; -97 % vs baseline


def test_resp_pet_only_without_baseline_pet_waits_for_ct():
    lesions = [{"id": "L1", "kind": "metastasis", "organ": "liver"}]
    p = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 50}]},
              {"date": "2026-03-01", "modality": "PET-CT", "findings": [
                  {"lesion": "L1", "diameter_mm": 45}, {"lesion": "L9", "new": True, "organ": "bone", "suv_max": 7}]},
              {"date": "2026-05-01", "modality": "CT", "findings": [
                  {"lesion": "L1", "diameter_mm": 45}, {"lesion": "L9", "state": "present"}]}], lesions)
    r = recist.assess(p)
    assert [t.overall for t in r.timepoints] == ["PD", "PD"]   # confirmed on CT: dated to the PET
    p2 = _rec([{"date": "2026-01-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 50}]},
               {"date": "2026-03-01", "modality": "PET-CT", "findings": [
                   {"lesion": "L1", "diameter_mm": 45}, {"lesion": "L9", "new": True, "organ": "bone", "suv_max": 7}]}],
              lesions)
    assert [t.overall for t in recist.assess(p2).timepoints] == ["SD"]


def test_resp_irradiated_lesion_not_auto_selected():
    lesions = [{"id": "L1", "kind": "metastasis", "organ": "liver"}, {"id": "L2", "kind": "metastasis", "organ": "lung"}]
    p = _rec([{"date": "2026-01-01", "modality": "CT",
               "findings": [{"lesion": "L1", "diameter_mm": 50}, {"lesion": "L2", "diameter_mm": 20}]}], lesions,
             radiotherapy=[{"start": "2025-11-01", "end": "2025-11-05", "lesions": ["L1"]}])
    r = recist.assess(p)
    assert r.targets == ("L2",) and r.non_targets == ("L1",)
    r2 = recist.assess(p, options=recist.RecistOptions(exclude_irradiated_from_auto_targets=False))
    assert r2.targets == ("L1", "L2")


@pytest.mark.parametrize("kwargs", [{"sd_min_days": -1}, {"confirm_min_days": 1.5}, {"reappearance_pd": "x"}])
def test_resp_options_rejected(kwargs):
    with pytest.raises(AssessmentError):
        recist.RecistOptions(**kwargs)


def test_resp_bor_worst_per_date_and_until():
    import datetime as dt
    d = dt.date
    seq = [(d(2020, 3, 1), "PR"), (d(2020, 3, 1), "PD"), (d(2020, 4, 1), "CR")]
    assert recist.best_overall_response(seq, start=d(2020, 1, 1)).response == "PD"
    seq = [(d(2020, 3, 1), "SD"), (d(2020, 5, 1), "PR")]
    got = recist.best_overall_response(seq, start=d(2020, 1, 1), until=d(2020, 4, 1))
    assert got.response == "SD"
    early = [(d(2020, 1, 20), "SD"), (d(2020, 2, 1), "PD")]
    assert recist.best_overall_response(early, start=d(2020, 1, 1)).response == "PD"
    assert recist.best_overall_response(early[:1], start=d(2020, 1, 1)).response == "NE"

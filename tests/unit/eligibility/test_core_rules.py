"""Eligibility rules at their boundaries, and the trial-specific vectors T5
(shared/reference/recist-and-oligo.md section 6, T5: built from each seed's registry text)."""

from __future__ import annotations

import pytest

from core_builders import base, example, lesion_record, parsed
from oligotrial.domain.eligibility.compiler import compile_rule
from oligotrial.domain.eligibility.kleene import Context
from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.domain.response.counting import evaluate_disease_state
from oligotrial.protocols import load_protocol


def verdict(rule: dict, rec: dict, trial: str = "STOP-2", assume: bool = False) -> str:
    p = parsed(rec)
    ctx = Context(patient=p, as_of=p.as_of, protocol=load_protocol(trial), assume_attested=assume)
    return compile_rule(rule)(ctx).verdict.value


# The review fixes (tests/unit/eligibility/test_registry_fixes.py) ask for answers the shipped
# examples predate: STOP-2 EX-01's other serious comorbidities, the driver genes beyond EGFR and
# ALK (ORES IN-13, OPPRESS IN-05), LDRT IN-10's symptoms and reconfirmation. An eligible example
# is eligible once those answers are recorded.
FIX_ANSWERS = {
    "stop2_eligible": [("serious_comorbidity_precludes_radiotherapy", False)],
    "oppress_eligible": [("no_other_driver_alteration", True)],
    "oligoresidual_eligible": [("no_other_driver_alteration", True)],
    "ldrt_eligible": [("no_clinical_symptom_improvement", True), ("resistance_progression_reconfirmed", True)],
}


def answered(name: str) -> dict:
    rec = example(name)
    rec["attestations"] = list(rec.get("attestations") or []) + [
        {"key": k, "value": v, "by": "Dr Review", "date": rec["as_of"]} for k, v in FIX_ANSWERS.get(name, [])]
    return rec


def criterion(trial: str, cid: str, rec: dict, assume: bool = False):
    result = screen_patient(parsed(rec), load_protocol(trial), assume_attested=assume)
    return next(c for c in result.criteria if c.id == cid)


# ---- boundaries ---------------------------------------------------------------------------

@pytest.mark.parametrize("birth,expected", [("2008-03-02", "met"), ("2008-03-03", "not_met")])
def test_age_18_on_the_birthday(birth, expected):
    assert verdict({"age": {"min": 18}}, base(birth_date=birth)) == expected


@pytest.mark.parametrize("lab_date,expected", [("2026-02-15", "met"), ("2026-02-14", "unknown")])
def test_lab_window_day_15_and_16(lab_date, expected):
    # as_of 2026-03-02: 2026-02-15 is 15 days before (inside), 2026-02-14 is 16 days (outside)
    rec = base(labs=[{"date": lab_date, "test": "neutrophils", "value": 2.0, "unit": "10^9/L"}])
    assert verdict({"lab": {"test": "neutrophils", "op": ">=", "value": 1.5, "days": 15}}, rec) == expected


@pytest.mark.parametrize("value,op,expected", [(1.5, ">=", "met"), (1.5, ">", "not_met"), (1.49, ">=", "not_met")])
def test_lab_threshold_keeps_registry_operator(value, op, expected):
    rec = base(labs=[{"date": "2026-03-01", "test": "neutrophils", "value": value, "unit": "10^9/L"}])
    assert verdict({"lab": {"test": "neutrophils", "op": op, "value": 1.5}}, rec) == expected


def test_lab_against_reporting_labs_own_uln():
    rec = base(labs=[{"date": "2026-03-01", "test": "alt", "value": 100, "unit": "U/L", "uln": 40}])
    assert verdict({"lab": {"test": "alt", "op": "<=", "x_uln": 2.5}}, rec) == "met"       # exactly 2.5 x ULN
    rec["labs"][0]["uln"] = 39.9
    assert verdict({"lab": {"test": "alt", "op": "<=", "x_uln": 2.5}}, rec) == "not_met"
    del rec["labs"][0]["uln"]
    assert verdict({"lab": {"test": "alt", "op": "<=", "x_uln": 2.5}}, rec) == "unknown"   # no ULN: undecidable


def _cp_record(bili, alb, inr, ascites, enceph="none"):
    cf = {"encephalopathy": enceph}
    if ascites is not None:
        cf["ascites"] = ascites
    return base(clinical_findings=cf, labs=[
        {"date": "2026-03-01", "test": "total_bilirubin", "value": bili, "unit": "umol/L"},
        {"date": "2026-03-01", "test": "albumin", "value": alb, "unit": "g/L"},
        {"date": "2026-03-01", "test": "inr", "value": inr, "unit": "1"}])


@pytest.mark.parametrize("rec,expected", [
    (_cp_record(40, 32, 1.0, "none"), "met"),        # 2+2+1+1+1 = 7
    (_cp_record(40, 32, 1.8, "none"), "not_met"),    # 2+2+2+1+1 = 8
    (_cp_record(17, 40, 1.0, None), "met"),          # 4 known at 1 point: 5-7 whatever the ascites
    (_cp_record(40, 40, 1.0, None), "unknown"),      # 2+1+1+1 = 5 known; ascites 1-3 -> 6-8: undecided
    (_cp_record(60, 25, 1.0, None), "not_met"),      # 3+3+1+1 = 8 already: 9-11 whatever the ascites
])
def test_child_pugh_at_7_and_8_and_with_a_missing_part(rec, expected):
    assert verdict({"child_pugh": {"op": "<=", "value": 7}}, rec, trial="HCC-OPD") == expected


@pytest.mark.parametrize("scale,score,rule,expected", [
    ("ECOG", 0, {"scale": "KPS", "min": 80}, "met"),        # ECOG 0 = KPS 90-100
    ("ECOG", 1, {"scale": "KPS", "min": 80}, "unknown"),    # ECOG 1 = KPS 70-80: undecided
    ("ECOG", 2, {"scale": "KPS", "min": 80}, "not_met"),
    ("KPS", 80, {"scale": "KPS", "min": 80}, "met"),
    ("KPS", 70, {"scale": "ECOG", "max": 1}, "met"),
])
def test_performance_across_scales(scale, score, rule, expected):
    rec = base(performance=[{"date": "2026-03-01", "scale": scale, "score": score}])
    assert verdict({"performance": rule}, rec) == expected


@pytest.mark.parametrize("values,expected", [((1.0, 2.0), "met"), ((2.0, 1.0), "not_met")])
def test_latest_lab_of_a_date_is_the_last_recorded_and_later_results_are_ignored(values, expected):
    # two results on the screening date's eve: the one recorded last decides; a result dated
    # after the screening date (2026-03-02) is not read, however good it is
    rec = base(labs=[{"date": "2026-03-01", "test": "neutrophils", "value": v, "unit": "10^9/L"} for v in values]
               + [{"date": "2026-03-05", "test": "neutrophils", "value": 9.0, "unit": "10^9/L"}])
    assert verdict({"lab": {"test": "neutrophils", "op": ">=", "value": 1.5, "days": 15}}, rec) == expected


def test_lab_window_is_judged_on_the_latest_result_before_the_screening_date():
    # the latest result (day 16, outside a 15-day window) hides nothing: an older one is older still
    rec = base(labs=[{"date": "2026-01-10", "test": "neutrophils", "value": 2.0, "unit": "10^9/L"},
                     {"date": "2026-02-14", "test": "neutrophils", "value": 2.0, "unit": "10^9/L"}])
    assert verdict({"lab": {"test": "neutrophils", "op": ">=", "value": 1.5, "days": 15}}, rec) == "unknown"
    assert verdict({"lab": {"test": "neutrophils", "op": ">=", "value": 1.5, "days": 16}}, rec) == "met"


@pytest.mark.parametrize("rule,expected", [({"scale": "KPS", "min": 80}, "met"), ({"scale": "ECOG", "max": 1}, "not_met")])
def test_performance_on_the_same_date_reads_the_score_on_the_asked_scale(rule, expected):
    # ECOG 2 and KPS 90 recorded the same day (they disagree): each rule reads its own scale
    rec = base(performance=[{"date": "2026-03-01", "scale": "ECOG", "score": 2},
                            {"date": "2026-03-01", "scale": "KPS", "score": 90},
                            {"date": "2026-01-01", "scale": "KPS", "score": 50}])
    assert verdict({"performance": rule}, rec) == expected


def test_creatinine_clearance_unknown_sex_decided_when_both_agree():
    rec = base(sex="unknown", vitals=[{"date": "2026-03-01", "weight_kg": 72}],
               labs=[{"date": "2026-03-01", "test": "creatinine", "value": 88.42, "unit": "umol/L"}])
    # age 66: male 74 mL/min, female 62.9 mL/min
    assert verdict({"creatinine_clearance": {"op": ">", "value": 50, "method": "cockcroft_gault"}}, rec) == "met"
    assert verdict({"creatinine_clearance": {"op": ">", "value": 70, "method": "cockcroft_gault"}}, rec) == "unknown"


def test_pregnancy_test_not_applicable_for_men_and_windowed_for_women():
    assert verdict({"pregnancy_test": {"days": 14}}, base(sex="male")) == "not_applicable"
    female = base(sex="female", reproductive={"childbearing_potential": True,
                                             "pregnancy_test": {"date": "2026-02-16", "result": "negative"}})
    assert verdict({"pregnancy_test": {"days": 14}}, female) == "met"          # day 14
    female["reproductive"]["pregnancy_test"]["date"] = "2026-02-15"            # day 15
    assert verdict({"pregnancy_test": {"days": 14}}, female) == "unknown"


def test_absent_list_is_unknown_and_empty_list_is_none():
    assert verdict({"radiotherapy_history": {}}, base()) == "unknown"
    assert verdict({"radiotherapy_history": {}}, base(radiotherapy=[])) == "not_met"
    assert verdict({"condition": {"any_of": ["scleroderma"]}}, base()) == "unknown"
    assert verdict({"condition": {"any_of": ["scleroderma"]}}, base(conditions=[])) == "not_met"


# ---- per-lesion progression: exactly +20 % and +5 mm ------------------------------------------

LUNG = [{"id": "L1", "kind": "metastasis", "organ": "lung"}]
LINE = [{"line": 1, "agents": ["x"], "classes": ["chemotherapy"], "start": "2025-01-01", "best_response": "SD"}]


def _growth(sizes: list[float]) -> dict:
    dates = ["2024-12-20", "2025-06-01", "2026-02-20"][-len(sizes):]
    return lesion_record([(d, [{"lesion": "L1", "diameter_mm": s}]) for d, s in zip(dates, sizes)], LUNG, lines=LINE)


def _status(rec, trial):
    ds = evaluate_disease_state(parsed(rec), load_protocol(trial).disease_state)
    return {s.lesion: s.status for s in ds.lesions}["L1"]


@pytest.mark.parametrize("sizes,expected", [
    ([25.0, 30.0], "progressing"),     # exactly +20.0 % and exactly +5.0 mm
    ([25.0, 29.9], "not_progressing"),
    ([20.0, 24.9], "not_progressing"),  # +24.5 % but +4.9 mm
    ([20.0, 25.0], "progressing"),
    ([0.1 * 253, 0.1 * 253 + 5.0], "not_progressing"),  # +5.0 mm but +19.8 %
])
def test_stop2_rule1_boundaries_hold_in_floating_point(sizes, expected):
    assert _status(_growth(sizes), "STOP-2") == expected


@pytest.mark.parametrize("sizes,expected", [
    ([25.0, 30.0], "not_progressing"),   # HCC (1) needs > 20 % and > 5 mm
    ([25.0, 30.1], "progressing"),
])
def test_hcc_rule1_strict_inequalities(sizes, expected):
    assert _status(_growth(sizes), "HCC-OPD") == expected


# ---- T5 vectors ------------------------------------------------------------------------------

def test_T5_S1_stop2_nadir_12_to_17_progressive():
    assert _status(_growth([20, 12, 17]), "STOP-2") == "progressing"   # +41.7 %, +5 mm vs nadir


def test_T5_S2_stop2_20_18_22_not_progressive():
    assert _status(_growth([20, 18, 22]), "STOP-2") == "not_progressing"   # +4 mm


@pytest.mark.parametrize("mm,expected", [(4, "not_progressing"), (6, "progressing")])
def test_T5_S4_stop2_new_lesion_5mm(mm, expected):
    rec = lesion_record([("2025-06-01", [{"lesion": "L1", "diameter_mm": 10}]),
                         ("2026-02-20", [{"lesion": "L1", "diameter_mm": 10},
                                         {"lesion": "N9", "new": True, "organ": "lung", "diameter_mm": mm}])], LUNG, lines=LINE)
    ds = evaluate_disease_state(parsed(rec), load_protocol("STOP-2").disease_state)
    assert {s.lesion: s.status for s in ds.lesions}["N9"] == expected


def test_T5_H1_hcc_30_to_37_progressive():
    assert _status(_growth([30, 37]), "HCC-OPD") == "progressing"   # +23 %, +7 mm vs baseline


@pytest.mark.parametrize("mm,typical,expected", [(9, True, "not_progressing"), (10, True, "progressing"),
                                                 (15, False, "not_progressing")])
def test_T5_H4_hcc_new_intrahepatic_lesion(mm, typical, expected):
    rec = lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 30}]),
                         ("2026-02-20", [{"lesion": "L1", "diameter_mm": 30},
                                         {"lesion": "H9", "new": True, "organ": "liver", "diameter_mm": mm, "typical_hcc": typical}])],
                        LUNG, lines=LINE)
    ds = evaluate_disease_state(parsed(rec), load_protocol("HCC-OPD").disease_state)
    assert {s.lesion: s.status for s in ds.lesions}["H9"] == expected


def test_T5_H5_hcc_new_bone_metastasis_any_size():
    rec = lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 30}]),
                         ("2026-02-20", [{"lesion": "L1", "diameter_mm": 30},
                                         {"lesion": "B9", "new": True, "organ": "bone", "diameter_mm": 3}])], LUNG, lines=LINE)
    ds = evaluate_disease_state(parsed(rec), load_protocol("HCC-OPD").disease_state)
    assert {s.lesion: s.status for s in ds.lesions}["B9"] == "progressing"


def test_hcc_drainage_area_is_one_organ_and_stop2_counts_lesions():
    lesions = [{"id": "N1", "kind": "lymph_node", "organ": "lymph_node", "node_region": "hepatic hilum"},
               {"id": "N2", "kind": "lymph_node", "organ": "lymph_node", "node_region": "hepatic hilum"},
               {"id": "N3", "kind": "lymph_node", "organ": "lymph_node", "node_region": "para-aortic"}]
    rec = lesion_record([("2024-12-20", [{"lesion": n, "short_axis_mm": 15} for n in ("N1", "N2", "N3")]),
                         ("2026-02-20", [{"lesion": n, "short_axis_mm": 22} for n in ("N1", "N2", "N3")])],
                        lesions, lines=LINE)
    hcc = evaluate_disease_state(parsed(rec), load_protocol("HCC-OPD").disease_state)
    assert (hcc.sites, hcc.organs) == (3, 2)            # 3 lesions, 2 drainage areas
    stop2 = evaluate_disease_state(parsed(rec), load_protocol("STOP-2").disease_state)
    assert (stop2.sites, stop2.organs) == (3, 1)        # individual lesions; nodes one organ


def test_T5_N1_oppress_nodes_in_one_region_are_one_site():
    ex = answered("oppress_eligible")
    ds = evaluate_disease_state(parsed(ex), load_protocol("OPPRESS").disease_state)
    assert sorted(ds.counted) == ["A1", "L1", "L2", "N1", "N2", "N3"]
    assert ds.sites == 4                                 # 2 lung nodules, 1 nodal region, 1 adrenal
    assert screen_patient(parsed(ex), load_protocol("OPPRESS")).verdict == "eligible"


def test_oppress_treated_intracranial_lesion_is_not_counted_untreated_fails():
    ex = example("oppress_eligible")
    ex["lesions"].append({"id": "BR1", "kind": "metastasis", "organ": "brain"})
    ex["assessments"][2]["findings"].append({"lesion": "BR1", "diameter_mm": 12})
    ex["assessments"][1]["findings"].append({"lesion": "BR1", "diameter_mm": 5})
    untreated = criterion("OPPRESS", "OPPRESS-IN-06", ex)
    assert untreated.verdict == "not_met" and "intracranial" in untreated.reason
    ex["radiotherapy"] = [{"start": "2026-02-22", "end": "2026-02-22", "lesions": ["BR1"], "dose_gy": 20, "fractions": 1,
                           "technique": "SRS", "intent": "palliative"}]
    treated = criterion("OPPRESS", "OPPRESS-IN-06", ex)
    assert treated.verdict == "met" and "BR1" in treated.reason


def test_T5_O1_oligoresidual_four_lesions_three_organs():
    ex = answered("oligoresidual_eligible")
    ds = evaluate_disease_state(parsed(ex), load_protocol("NCT07014202").disease_state)
    assert sorted(ds.counted) == ["B1", "N1", "N2", "P1"] and (ds.sites, ds.organs) == (4, 3)
    assert screen_patient(parsed(ex), load_protocol("NCT07014202")).verdict == "eligible"


@pytest.mark.parametrize("name,verdict_", [("ldrt_eligible", "met"), ("ldrt_ineligible", "not_met")])
def test_T5_L1_ldrt_10_lesions_in_5_organs_and_11_lesions(name, verdict_):
    c = criterion("NCT05906329", "LDRT-IN-09", example(name))
    assert c.verdict == verdict_


def test_stop2_consecutive_enlargement_rule_needs_60_to_92_days():
    def rec(second: str):
        return lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 20}]),
                              (second, [{"lesion": "L1", "diameter_mm": 22}]),
                              ("2026-02-20", [{"lesion": "L1", "diameter_mm": 25}])], LUNG, lines=LINE)
    # 20 -> 22 -> 25: +25 % and +5 mm vs baseline, also meets rule (1) vs nadir 20 -> no; nadir is 20: +25%, +5 mm
    ds = evaluate_disease_state(parsed(rec("2025-12-20")), load_protocol("STOP-2").disease_state)
    assert ds.lesions[0].status == "progressing"


def test_stop2_rule3_alone():
    # 20 -> 23 -> 25.5: vs nadir 20 +27.5 % and +5.5 mm is rule 1; make rule 1 fail with a large nadir ratio
    def rec(second: str):
        return lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 30}]),
                              (second, [{"lesion": "L1", "diameter_mm": 32}]),
                              ("2026-02-20", [{"lesion": "L1", "diameter_mm": 35}])], LUNG, lines=LINE)
    inside = evaluate_disease_state(parsed(rec("2025-12-20")), load_protocol("STOP-2").disease_state)  # 62 days
    assert inside.lesions[0].status == "progressing" and "consecutive" in inside.lesions[0].rule
    outside = evaluate_disease_state(parsed(rec("2025-11-01")), load_protocol("STOP-2").disease_state)  # 111 days
    assert outside.lesions[0].status == "not_progressing"


def test_unevaluated_lesion_is_uncertain_never_silently_stable():
    rec = lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 20}]),
                         ("2026-02-20", [{"lesion": "L1", "state": "not_evaluated"}])], LUNG, lines=LINE)
    ds = evaluate_disease_state(parsed(rec), load_protocol("STOP-2").disease_state)
    assert ds.uncertain == ("L1",)
    assert criterion("STOP-2", "STOP2-IN-07", rec).verdict == "unknown"


def test_nadir_reference_window_starts_at_the_current_lines_baseline():
    # a smaller size before the current line started does not count as nadir
    lines = [{"line": 1, "agents": ["a"], "classes": ["chemotherapy"], "start": "2023-01-01", "end": "2024-12-01"},
             {"line": 2, "agents": ["b"], "classes": ["chemotherapy"], "start": "2025-01-01"}]
    rec = lesion_record([("2024-06-01", [{"lesion": "L1", "diameter_mm": 10}]),
                         ("2024-12-20", [{"lesion": "L1", "diameter_mm": 20}]),
                         ("2026-02-20", [{"lesion": "L1", "diameter_mm": 23}])], LUNG, lines=lines)
    ds = evaluate_disease_state(parsed(rec), load_protocol("STOP-2").disease_state)
    assert ds.baseline.isoformat() == "2024-12-20" and ds.lesions[0].status == "not_progressing"


# ---- --assume-attested keeps the decidable part ------------------------------------------------

def test_assume_attested_still_fails_a_52mm_hcc_lesion():
    ex = example("hcc_eligible")
    ex["attestations"] = []
    ex["assessments"][2]["findings"][0] = {"lesion": "T1", "diameter_mm": 52}
    c = criterion("HCC-OPD", "HCC-IN-04", ex, assume=True)
    assert c.verdict == "not_met" and "52 mm" in c.reason
    assert c.assumed == ("all_oligoprogressive_lesions_rt_suitable",)


def test_assume_attested_still_excludes_active_ild_with_thoracic_lesion():
    ex = example("stop2_eligible")
    ex["attestations"] = []
    ex["conditions"] = [{"name": "interstitial_lung_disease", "active": True}]
    assert criterion("STOP-2", "STOP2-EX-01a", ex, assume=True).verdict == "met"
    result = screen_patient(parsed(ex), load_protocol("STOP-2"), assume_attested=True)
    assert result.verdict == "ineligible" and result.assumed_attested


def test_assume_attested_makes_the_eligible_pending_signoff_list():
    ex = example("stop2_eligible")
    ex["attestations"] = []
    assert screen_patient(parsed(ex), load_protocol("STOP-2")).verdict == "needs_review"
    assert screen_patient(parsed(ex), load_protocol("STOP-2"), assume_attested=True).verdict == "eligible"


def test_unknown_says_what_would_decide_it():
    ex = example("oppress_eligible")
    del ex["biomarkers"]
    c = criterion("OPPRESS", "OPPRESS-IN-05", ex)
    assert c.verdict == "unknown" and any("EGFR" in m for m in c.missing)


@pytest.mark.parametrize("name,trial", [
    ("stop2_eligible", "STOP-2"), ("oppress_eligible", "OPPRESS"), ("oligoresidual_eligible", "NCT07014202"),
    ("ldrt_eligible", "NCT05906329"), ("hcc_eligible", "NCT06592612")])
def test_each_trials_eligible_example_is_eligible_and_ineligible_is_not(name, trial):
    ok = screen_patient(parsed(answered(name)), load_protocol(trial))
    assert ok.verdict == "eligible", [(c.id, c.verdict, c.reason) for c in ok.criteria if c.verdict not in ("met", "not_applicable")]
    bad = screen_patient(parsed(example(name.replace("eligible", "ineligible"))), load_protocol(trial))
    assert bad.verdict == "ineligible" and bad.failing


def test_every_criterion_is_reported_even_when_the_verdict_is_known():
    bad = screen_patient(parsed(example("stop2_ineligible")), load_protocol("STOP-2"))
    assert [c.id for c in bad.criteria] == [c.id for c in load_protocol("STOP-2").criteria]


def test_stop2_ineligible_for_the_documented_reasons():
    bad = screen_patient(parsed(example("stop2_ineligible")), load_protocol("STOP-2"))
    failing = {c.id for c in bad.failing}
    assert {"STOP2-IN-07", "STOP2-EX-06"} <= failing       # 6 progressing lesions; 41 mm brain metastasis


def test_hcc_ineligible_child_pugh_8_and_62mm_lesion():
    bad = screen_patient(parsed(example("hcc_ineligible")), load_protocol("HCC-OPD"))
    failing = {c.id: c.reason for c in bad.failing}
    assert "HCC-IN-05" in failing and "Child-Pugh 8" in failing["HCC-IN-05"]
    assert "HCC-IN-04" in failing and "62 mm" in failing["HCC-IN-04"]


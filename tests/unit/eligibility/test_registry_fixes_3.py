"""Fixes from the third review of the criteria against the registries' words (issue 25, item 8):
each test quotes the registry words it enforces (verified against shared/seeds/*.txt) and failed
on the code before its fix."""

from __future__ import annotations

import re

import pytest

from core_builders import base, example, lesion_record, parsed
from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.protocols import list_protocols, load_protocol
from registry_words import LDRT, OPPRESS, ORES, SEEDS, STOP2, quoted


def screening(trial: str, rec: dict, assume: bool = False):
    return screen_patient(parsed(rec), load_protocol(trial), assume_attested=assume)


def criterion(trial: str, cid: str, rec: dict, assume: bool = False):
    return next(c for c in screening(trial, rec, assume).criteria if c.id == cid)


def att(key: str, value: bool, by: str = "Dr A") -> dict:
    return {"key": key, "value": value, "by": by, "date": "2026-03-01"}


def _without(ex: dict, *keys: str) -> dict:
    ex["attestations"] = [a for a in ex["attestations"] if a["key"] not in keys]
    return ex


DRIVERS_NEG = [{"name": n, "status": "negative"} for n in
               ("EGFR", "ALK", "ROS1", "KRAS G12C", "BRAF V600E", "MET ex14", "RET", "NTRK", "HER2")]
IN05 = ("Driver gene-negative NSCLC patients with oligo-progression during first-line chemotherapy combined with "
        "Immune Checkpoint Inhibitors (ICI).")


# ---- 1. OPPRESS IN-05: the oligoprogression happened *during* line 1 ---------------------------------

def _oppress(lines: list[dict]) -> dict:
    ex = example("oppress_eligible")
    ex["biomarkers"] = DRIVERS_NEG
    ex["systemic_therapy"] = lines
    return ex


CHEMO_IO = {"line": 1, "agents": ["carboplatin", "pemetrexed", "pembrolizumab"],
            "classes": ["chemotherapy", "platinum", "immunotherapy"], "start": "2025-01-05", "cycles": 4,
            "best_response": "PR"}


def test_oppress_in05_progression_during_line_1_passes():
    quoted(OPPRESS, IN05)
    c = criterion("OPPRESS", "OPPRESS-IN-05", _oppress([dict(CHEMO_IO, progression_date="2026-02-15")]))
    assert c.verdict == "met" and "2026-02-15" in c.reason and "during line 1" in c.reason


@pytest.mark.parametrize("lines,why", [
    # line 1 stopped in June 2025; the progression of February 2026 came off treatment
    ([dict(CHEMO_IO, end="2025-06-01", progression_date="2026-02-15")], "ended on 2025-06-01"),
    # line 1 progressed in 2025; the patient is on line 2 now: today's oligoprogression is on line 2
    ([dict(CHEMO_IO, end="2025-06-10", progression_date="2025-06-01"),
      {"line": 2, "agents": ["docetaxel"], "classes": ["chemotherapy"], "start": "2025-06-15"}], "line 2"),
    # the progression is recorded after line 2 started: it happened on line 2
    ([dict(CHEMO_IO, end="2025-06-10"),
      {"line": 2, "agents": ["docetaxel"], "classes": ["chemotherapy"], "start": "2025-06-15",
       "progression_date": "2026-02-15"}], "line 2"),
])
def test_oppress_in05_progression_outside_line_1_fails(lines, why):
    quoted(OPPRESS, IN05)
    c = criterion("OPPRESS", "OPPRESS-IN-05", _oppress(lines))
    assert c.verdict == "not_met", c.reason
    assert why in c.reason


def test_oppress_in05_no_progression_on_line_1_is_unknown_not_met():
    quoted(OPPRESS, IN05)
    ex = _oppress([dict(CHEMO_IO)])
    ex["assessments"] = ex["assessments"][:2]      # PR on 2025-07-01, no later scan, no progression recorded
    c = criterion("OPPRESS", "OPPRESS-IN-05", ex)
    assert c.verdict == "unknown" and "systemic_therapy line 1 progression_date" in c.missing


# ---- 2. driver genes: the variant recorded; a driver without targeted therapy is a judgement -----------

DRIVER_CASES = [
    ("OPPRESS", "OPPRESS-IN-05", "oppress_eligible", (OPPRESS, IN05)),
    ("NCT07014202", "ORES-IN-13", "oligoresidual_eligible",
     (ORES, ("lack specific genetic mutations (Epidermal Growth Factor Receptor [EGFR], Anaplastic Lymphoma Kinase "
             "[ALK], etc.)"))),
]


def _drivers(name: str, extra: list[dict]) -> dict:
    ex = _without(example(name), "no_other_driver_alteration")
    drop = {_k(b["name"])[:4] for b in extra}
    ex["biomarkers"] = [b for b in DRIVERS_NEG if _k(b["name"])[:4] not in drop] + extra
    return ex


def _k(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


@pytest.mark.parametrize("trial,cid,name,words", DRIVER_CASES)
def test_kras_variant_without_targeted_therapy_asks_for_an_attestation(trial, cid, name, words):
    quoted(*words)
    quoted(OPPRESS, "Driver gene-positive NSCLC patients, such as epidermal growth factor receptor (EGFR) mutation or "
                    "anaplastic lymphoma kinase (ALK) fusion positivity")
    ex = _drivers(name, [{"name": "KRAS", "status": "positive", "detail": "G12D"}])
    c = criterion(trial, cid, ex)
    assert c.verdict == "unknown", c.reason
    assert "KRAS (G12D)" in c.reason and "G12C" not in c.reason          # the variant recorded, never another
    assert "attestation driver_variant_not_actionable" in c.missing
    ex["attestations"].append(att("driver_variant_not_actionable", True))
    assert criterion(trial, cid, ex).verdict == "met"
    ex["attestations"][-1]["value"] = False                               # the investigator counts it a driver
    c = criterion(trial, cid, ex)
    assert c.verdict == "not_met" and "KRAS (G12D)" in c.reason


@pytest.mark.parametrize("trial,cid,name,words", DRIVER_CASES)
@pytest.mark.parametrize("marker,shown", [
    ({"name": "KRAS", "status": "positive"}, "KRAS positive (variant not recorded)"),
    ({"name": "MET", "status": "positive", "detail": "amplification"}, "MET (amplification)"),
    ({"name": "BRAF", "status": "positive", "detail": "G469A"}, "BRAF (G469A)"),
    ({"name": "HER2", "status": "positive", "detail": "IHC 3+ overexpression"}, "HER2 (IHC 3+ overexpression)"),
])
def test_other_driver_results_are_judgements_named_as_recorded(trial, cid, name, words, marker, shown):
    quoted(*words)
    c = criterion(trial, cid, _drivers(name, [marker]))
    assert c.verdict == "unknown", c.reason
    assert shown in c.reason
    for invented in ("KRAS G12C positive", "MET ex14 positive", "BRAF V600E positive", "HER2 positive"):
        assert invented not in c.reason


@pytest.mark.parametrize("trial,cid,name,words", DRIVER_CASES)
@pytest.mark.parametrize("marker,shown", [
    ({"name": "KRAS", "status": "positive", "detail": "p.G12C"}, "KRAS (p.G12C)"),
    ({"name": "KRAS G12C", "status": "positive"}, "KRAS G12C"),
    ({"name": "MET", "status": "positive", "detail": "exon 14 skipping"}, "MET (exon 14 skipping)"),
    ({"name": "BRAF", "status": "positive", "detail": "V600E"}, "BRAF (V600E)"),
    ({"name": "ERBB2", "status": "positive", "detail": "exon 20 insertion mutation"}, "ERBB2 (exon 20 insertion"),
])
def test_actionable_variant_excludes_and_is_named_as_recorded(trial, cid, name, words, marker, shown):
    quoted(*words)
    c = criterion(trial, cid, _drivers(name, [marker]))
    assert c.verdict == "not_met" and shown in c.reason, c.reason


# ---- 8. --assume-attested fills only what no one has answered ----------------------------------------

def test_assume_attested_keeps_a_recorded_answer():
    quoted(OPPRESS, "Serious active comorbidities that would interfere with treatment in this study.")
    ex = _without(example("oppress_eligible"), "no_serious_comorbidity")
    c = criterion("OPPRESS", "OPPRESS-EX-06", ex, assume=True)
    assert c.verdict == "not_met" and c.assumed == ("no_serious_comorbidity",)     # nobody answered: assumed
    ex["attestations"].append(att("no_serious_comorbidity", False))              # serious comorbidity: yes
    r = screening("OPPRESS", ex, assume=True)
    c = next(c for c in r.criteria if c.id == "OPPRESS-EX-06")
    assert c.verdict == "met" and not c.assumed and "Dr A" in c.reason
    assert r.verdict == "ineligible"


def test_assume_attested_keeps_a_recorded_driver_answer():
    quoted(OPPRESS, IN05)
    ex = _without(example("oppress_eligible"), "no_other_driver_alteration")
    ex["attestations"].append(att("no_other_driver_alteration", False))
    c = criterion("OPPRESS", "OPPRESS-IN-05", ex, assume=True)
    assert c.verdict == "not_met" and not c.assumed
    ex = _drivers("oppress_eligible", [{"name": "KRAS", "status": "positive", "detail": "G12D"}])
    ex["attestations"].append(att("driver_variant_not_actionable", False))
    c = criterion("OPPRESS", "OPPRESS-IN-05", ex, assume=True)
    assert c.verdict == "not_met" and not c.assumed


# ---- 3. OPPRESS IN-08: local therapy; the count shown is the count judged -----------------------------

IN08 = ("Intracranial progressive lesions and symptomatic lesions can be treated with palliative radiotherapy and "
        "local therapy prior to enrollment and are not counted within the oligo-progressive sites.")


def _six_sites() -> dict:
    ex = example("oppress_eligible")
    ex["biomarkers"] = DRIVERS_NEG
    ex["lesions"] += [{"id": "B1", "kind": "metastasis", "organ": "bone", "location": "right ilium"},
                      {"id": "B2", "kind": "metastasis", "organ": "bone", "location": "left femur"}]
    ex["assessments"][1]["findings"] += [{"lesion": "B1", "diameter_mm": 10}, {"lesion": "B2", "diameter_mm": 10}]
    ex["assessments"][2]["findings"] += [{"lesion": "B1", "diameter_mm": 18}, {"lesion": "B2", "diameter_mm": 18}]
    return ex


def test_oppress_in08_lesion_treated_by_local_therapy_is_not_counted():
    quoted(OPPRESS, IN08)
    ex = _six_sites()
    ex["local_therapies"] = []
    assert criterion("OPPRESS", "OPPRESS-IN-06", ex).verdict == "not_met"
    ex["local_therapies"] = [{"kind": "resection", "date": "2026-02-20", "lesions": ["B2"],
                              "detail": "pathological fracture risk, painful"}]
    r = screening("OPPRESS", ex)
    c = next(c for c in r.criteria if c.id == "OPPRESS-IN-06")
    assert c.verdict == "met" and "B2" in c.reason and "resection" in c.reason
    # the count shown is the count the verdict is about
    assert r.disease_state["sites"] == 5 and r.disease_state["treated_not_counted"] == ["B2"]


def test_oppress_in08_count_shown_leaves_out_palliative_radiotherapy_too():
    quoted(OPPRESS, IN08)
    ex = _six_sites()
    ex["radiotherapy"] = [{"start": "2026-02-20", "end": "2026-02-20", "lesions": ["B2"], "dose_gy": 8,
                           "fractions": 1, "intent": "palliative"}]
    r = screening("OPPRESS", ex)
    c = next(c for c in r.criteria if c.id == "OPPRESS-IN-06")
    assert c.verdict == "met" and "sites 5" in c.reason
    assert r.disease_state["sites"] == 5 and r.disease_state["sites_max"] == 5
    assert "B2" not in r.disease_state["progressing_lesions"] and r.disease_state["treated_not_counted"] == ["B2"]


def test_oppress_in08_intracranial_lesion_resected_before_enrolment_is_not_counted():
    quoted(OPPRESS, IN08)
    ex = example("oppress_eligible")
    ex["biomarkers"] = DRIVERS_NEG
    ex["assessments"][2]["findings"].append({"lesion": "BR1", "new": True, "organ": "brain", "diameter_mm": 15})
    ex["local_therapies"] = []
    assert criterion("OPPRESS", "OPPRESS-IN-08", ex).verdict == "not_met"
    ex["local_therapies"] = [{"kind": "resection", "date": "2026-02-25", "lesions": ["BR1"]}]
    c = criterion("OPPRESS", "OPPRESS-IN-08", ex)
    assert c.verdict == "met" and "BR1" in c.reason


# ---- 4. LDRT IN-10: the record's response history decides ---------------------------------------------

IN10 = ("Malignant tumor patients with immune therapy resistance (evaluated after 6-8 weeks of treatment and no "
        "improvement in clinical symptoms) without standard treatment options.")


def test_ldrt_in10_responding_without_progression_is_not_resistance():
    quoted(LDRT, IN10)
    quoted(LDRT, "primary resistance may occur and imaging is needed to confirm the disease progression again")
    # line 1 chemo-immunotherapy since 2025-02-01, best response PR recorded, no progression, screened on
    # 2025-07-01: a response, and 150 days of exposure at most (not "more than 6 months")
    ex = example("oligoresidual_eligible")
    c = criterion("NCT05906329", "LDRT-IN-10", ex)
    assert c.verdict == "not_met", c.reason
    assert "PR" in c.reason and "at most 150 days" in c.reason and "not recorded" not in c.reason


def test_ldrt_in10_scans_without_progression_are_not_resistance():
    quoted(LDRT, "if the drug exposure time is more than 6 months, the tumor does not respond, and the acquired drug "
                 "resistance may occur")
    # 14 months of pembrolizumab; nothing recorded but the scans: stable (20 -> 19 -> 20 mm), no PD
    rec = lesion_record([("2025-01-01", [{"lesion": "L1", "diameter_mm": 20}]),
                         ("2025-06-01", [{"lesion": "L1", "diameter_mm": 19}]),
                         ("2026-02-20", [{"lesion": "L1", "diameter_mm": 20}])],
                        [{"id": "L1", "kind": "metastasis", "organ": "lung"}],
                        lines=[{"line": 1, "agents": ["pembrolizumab"], "classes": ["immunotherapy"],
                                "start": "2025-01-05"}])
    c = criterion("NCT05906329", "LDRT-IN-10", rec)
    assert c.verdict == "not_met", c.reason
    assert "no PD on its scans up to 2026-02-20" in c.reason and "SD on imaging" in c.reason


def test_ldrt_in10_reason_names_what_is_missing():
    quoted(LDRT, IN10)
    # best response recorded (SD), no scan on the line: only the progression date is missing
    rec = base(systemic_therapy=[{"line": 1, "agents": ["pembrolizumab"], "classes": ["immunotherapy"],
                                  "start": "2025-01-05", "best_response": "SD"}])
    c = criterion("NCT05906329", "LDRT-IN-10", rec)
    assert c.verdict == "unknown"
    assert "progression on line 1 not recorded" in c.reason and "best response" not in c.reason.split(";")[0]
    assert "systemic_therapy line 1 progression_date" in c.missing
    # progression recorded at day 100 (primary window passed), no best response and no scans: the response decides
    rec["systemic_therapy"][0].update(best_response=None, progression_date="2025-04-15")
    c = criterion("NCT05906329", "LDRT-IN-10", rec)
    assert c.verdict == "unknown" and "best response to line 1 not recorded" in c.reason
    assert "systemic_therapy line 1 best_response" in c.missing


# ---- 5. STOP-2 EX-01a: "the lung or thorax" ---------------------------------------------------------

EX01A = "For participants with oligoprogressive lesions in the lung or thorax, this includes interstitial lung disease."


def _stop2_one(lesion: dict, ild: bool = True) -> dict:
    size = "short_axis_mm" if lesion["organ"] == "lymph_node" else "diameter_mm"
    return lesion_record([("2025-06-01", [{"lesion": "M1", size: 20}]),
                          ("2026-02-20", [{"lesion": "M1", size: 27}])], [lesion],
                         lines=[{"line": 1, "agents": ["x"], "classes": ["chemotherapy"], "start": "2025-01-01",
                                 "best_response": "SD"}],
                         conditions=[{"name": "interstitial_lung_disease", "active": True}] if ild else [])


@pytest.mark.parametrize("lesion", [
    {"id": "M1", "kind": "lymph_node", "organ": "lymph_node", "node_region": "mediastinal 4R"},
    {"id": "M1", "kind": "lymph_node", "organ": "lymph_node", "node_region": "subcarinal (station 7)"},
    {"id": "M1", "kind": "metastasis", "organ": "soft_tissue", "location": "chest wall"},
    {"id": "M1", "kind": "metastasis", "organ": "bone", "location": "left 6th rib"},
    {"id": "M1", "kind": "metastasis", "organ": "bone", "location": "sternum"},
    {"id": "M1", "kind": "metastasis", "organ": "bone", "location": "T7"},
])
def test_stop2_ex01a_thoracic_lesion_with_ild_excludes(lesion):
    quoted(STOP2, EX01A)
    c = criterion("STOP-2", "STOP2-EX-01a", _stop2_one(lesion))
    assert c.verdict == "met" and "M1" in c.reason, c.reason
    assert criterion("STOP-2", "STOP2-EX-01a", _stop2_one(lesion, ild=False)).verdict == "not_met"


@pytest.mark.parametrize("lesion", [
    {"id": "M1", "kind": "metastasis", "organ": "bone"},                                  # where: not recorded
    {"id": "M1", "kind": "lymph_node", "organ": "lymph_node", "node_region": "left axilla"},
    {"id": "M1", "kind": "lymph_node", "organ": "lymph_node", "node_region": "hepatic hilum"},
])
def test_stop2_ex01a_lesion_not_named_thoracic_still_goes_to_review(lesion):
    quoted(STOP2, EX01A)
    c = criterion("STOP-2", "STOP2-EX-01a", _stop2_one(lesion))
    assert c.verdict == "unknown" and "thorax" in c.reason


# ---- 6. STOP-2 EX-08: SINS concerns spinal lesions --------------------------------------------------

EX08 = "Participants with spine instability as judged by a Spinal Instability Neoplastic Score (SINS) of >12."


def _stop2_bones(locations: list[str | None], sins: int | None = None) -> dict:
    ex = example("stop2_eligible")
    ex["lesions"] = [ex["lesions"][0]] + [
        {"id": f"B{i}", "kind": "metastasis", "organ": "bone", **({"location": loc} if loc else {})}
        for i, loc in enumerate(locations)]
    for a in ex["assessments"]:
        a["findings"] = [f for f in a["findings"] if f["lesion"] == "L1"] + [
            {"lesion": f"B{i}", "diameter_mm": 15} for i in range(len(locations))]
    ex.pop("clinical_findings", None)
    if sins is not None:
        ex["clinical_findings"] = {"sins": sins, "date": "2026-02-24"}
    return ex


@pytest.mark.parametrize("locations", [["left 6th rib"], ["right ilium"], ["right ilium", "left femur"]])
def test_stop2_ex08_no_sins_needed_for_rib_or_pelvic_lesions(locations):
    quoted(STOP2, EX08)
    c = criterion("STOP-2", "STOP2-EX-08", _stop2_bones(locations))
    assert c.verdict == "not_met" and "no lesion in the spine" in c.reason, c.reason   # does not exclude
    assert "sins" not in c.reason and not c.missing


@pytest.mark.parametrize("location", ["T10", "L3 vertebral body", "sacrum", "C5", "thoracic spine"])
def test_stop2_ex08_spinal_lesion_needs_its_sins(location):
    quoted(STOP2, EX08)
    c = criterion("STOP-2", "STOP2-EX-08", _stop2_bones(["left 6th rib", location]))
    assert c.verdict == "unknown" and "clinical_findings.sins" in c.missing
    assert criterion("STOP-2", "STOP2-EX-08", _stop2_bones([location], sins=13)).verdict == "met"
    assert criterion("STOP-2", "STOP2-EX-08", _stop2_bones([location], sins=12)).verdict == "not_met"


def test_stop2_ex08_bone_lesion_without_location_asks_where_it_is():
    quoted(STOP2, EX08)
    c = criterion("STOP-2", "STOP2-EX-08", _stop2_bones([None], sins=5))
    assert c.verdict == "not_met"              # SINS 5 decides whatever the lesion's site
    c = criterion("STOP-2", "STOP2-EX-08", _stop2_bones([None]))
    assert c.verdict == "unknown" and any("B0" in m and "spine" in m for m in c.missing)


# ---- 7. label what is ours; quote only the registry --------------------------------------------------

def test_oppress_in10_comprehensive_examination_reading_is_labelled_ours():
    words = quoted(OPPRESS, "Comprehensive examination completed within 28 days prior to enrollment in the study")
    crit = next(c for c in load_protocol("OPPRESS").criteria if c.id == "OPPRESS-IN-10")
    assert words in crit.source_text and "our reading" in crit.note.lower()
    c = criterion("OPPRESS", "OPPRESS-IN-10", example("oppress_eligible"))
    assert c.verdict == "met"
    assert "comprehensive examination read as the latest imaging (our reading" in c.reason


def _seed_text(seed: str) -> str:
    return re.sub(r"\s+", " ", (SEEDS / seed).read_text(encoding="utf-8").replace("\\", "")).strip()


@pytest.mark.parametrize("p", list_protocols(), ids=lambda p: p.short_name)
def test_endpoint_origin_quotes_the_registry(p):
    from oligotrial.domain.protocol.endpoint_schema import parse_endpoint_rules

    rules = parse_endpoint_rules(p.endpoint_rules, trial=p.id)
    text = _seed_text(p.registry.seed_file)
    assert re.sub(r"\s+", " ", rules.origin_source_text).strip() in text, (p.id, rules.origin_source_text)


def test_ldrt_origin_quotes_the_registry_and_labels_ours():
    from oligotrial.domain.protocol.endpoint_schema import parse_endpoint_rules

    words = quoted(LDRT, "Patients who meet the conditions shall be treated after signing a written informed consent "
                         "form.")
    quoted(LDRT, "prospective, single arm, open clinical study")
    rules = parse_endpoint_rules(load_protocol("NCT05906329").endpoint_rules, trial="NCT05906329")
    assert rules.origin == "treatment_start" and rules.origin_source_text == words
    assert rules.origin_note and rules.origin_note.startswith("Ours, not the registry's")


def test_protocols_show_prints_the_origin_quote_and_our_note_apart():
    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app

    r = CliRunner().invoke(app, ["protocols", "show", "NCT05906329"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    out = re.sub(r"\s+", " ", r.output)
    assert "origin: Patients who meet the conditions shall be treated after signing" in out
    assert "origin note: Ours, not the registry's" in out


def test_cli_assume_attested_keeps_the_recorded_serious_comorbidity(tmp_path):
    import json

    from typer.testing import CliRunner

    from oligotrial.adapters.cli.main import app

    quoted(OPPRESS, "Serious active comorbidities that would interfere with treatment in this study.")
    ex = _without(example("oppress_eligible"), "no_serious_comorbidity")
    ex["attestations"].append(att("no_serious_comorbidity", False))
    f = tmp_path / "p.json"
    f.write_text(json.dumps(ex))
    r = CliRunner().invoke(app, ["screen", str(f), "--trial", "OPPRESS", "--assume-attested", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)["results"][0]
    assert res["verdict"] == "ineligible"
    ex06 = next(c for c in res["criteria"] if c["id"] == "OPPRESS-EX-06")
    assert ex06["verdict"] == "met" and "assumed_attestations" not in ex06
    r = CliRunner().invoke(app, ["screen", str(f), "--trial", "OPPRESS", "--assume-attested"],
                           env={"COLUMNS": "300"})
    assert "not yet answered" in r.output

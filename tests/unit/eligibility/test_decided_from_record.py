"""Issue 17, item 2: decide from the record what the record can decide. An attestation is for
judgement only; where the record's scans or its therapy lines hold the facts, the rule decides
from them and cites them, and ``assume_attested`` cannot hide a fact that excludes. Each test
quotes the registry words it enforces (verified against tests/data/seeds/*.txt) and failed on
the code before the change."""

from __future__ import annotations

import copy
import json
from importlib import resources

from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.domain.record.patient import parse_patient
from oligotrial.protocols import load_protocol
from registry_words import HCC, LDRT, STOP2, quoted


def example(name: str) -> dict:
    return json.loads(resources.files("oligotrial.examples").joinpath(f"{name}.json").read_text())


def criterion(trial: str, cid: str, rec: dict, assume: bool = False):
    result = screen_patient(parse_patient(copy.deepcopy(rec)), load_protocol(trial), assume_attested=assume)
    return next(c for c in result.criteria if c.id == cid)


def att(key: str, value: bool) -> dict:
    return {"key": key, "value": value, "by": "Dr A", "date": "2026-02-27"}


def off_therapy_stop2(end: str = "2025-08-01") -> dict:
    """The STOP-2 example with its current line (fulvestrant from 2024-05-20; baseline scan
    2024-05-10, SD on 2025-06-10, PD with a new lesion on 2026-02-20) stopped on ``end``, so that
    the participant is not on systemic therapy at oligoprogression (criteria 10 and 11 apply)."""
    rec = example("stop2_eligible")
    rec["systemic_therapy"][1]["end"] = end
    assert not any(a["key"] == "response_persisted_3_months" for a in rec["attestations"])
    return rec


IN10 = ("There must be PR, CR or SD persisting for at least 3 months prior to the development of "
        "oligoprogressive lesions")


# ---- 1. response persisting >= 3 months: met from the scans, no attestation -------------------

def test_stop2_in10_persisting_response_is_met_from_the_scans_without_an_attestation():
    quoted(STOP2, "If the participant is not on systemic therapy at the time of oligoprogression")
    quoted(STOP2, IN10)
    c = criterion("STOP-2", "STOP2-IN-10", off_therapy_stop2())
    assert c.verdict == "met", c.reason
    assert not c.assumed
    assert "SD on the scan of 2025-06-10, 386 days after the start" in c.reason
    assert "baseline scan of 2024-05-10" in c.reason
    assert "assessments 2024-05-10, 2025-06-10, 2026-02-20" in c.inputs


# ---- 2. PD at the first scan: not met, even with assume_attested -------------------------------

def pd_at_first_scan() -> dict:
    rec = off_therapy_stop2(end="2024-08-01")
    rec["systemic_therapy"][1]["best_response"] = None
    # 56 days into the line: L1 20 -> 35 mm, target sum 54 -> 69 mm (+28 %, +15 mm): RECIST PD
    rec["assessments"].insert(1, {"date": "2024-07-15", "modality": "CT", "findings": [
        {"lesion": "L1", "diameter_mm": 35}, {"lesion": "L2", "diameter_mm": 18}, {"lesion": "L3", "short_axis_mm": 16}]})
    return rec


def test_stop2_in10_pd_at_the_first_scan_is_not_met_even_with_assume_attested():
    quoted(STOP2, IN10)
    for assume in (False, True):
        c = criterion("STOP-2", "STOP2-IN-10", pd_at_first_scan(), assume=assume)
        assert c.verdict == "not_met", (assume, c.reason)
        assert "PD at the first response assessment (primary resistance) on 2024-07-15" in c.reason
    result = screen_patient(parse_patient(pd_at_first_scan()), load_protocol("STOP-2"), assume_attested=True)
    assert result.verdict == "ineligible"


def test_stop2_in10_an_attestation_cannot_overrule_the_scans():
    rec = pd_at_first_scan()
    rec["attestations"].append(att("response_persisted_3_months", True))
    assert criterion("STOP-2", "STOP2-IN-10", rec).verdict == "not_met"


# ---- 3. no usable scans: the attestation decides, and the record says what it lacks ------------

def no_baseline_scan() -> dict:
    rec = off_therapy_stop2()
    rec["systemic_therapy"][1]["start"] = "2024-05-01"      # before the first scan: no RECIST baseline
    return rec


def test_stop2_in10_without_usable_scans_the_attestation_decides():
    quoted(STOP2, IN10)
    c = criterion("STOP-2", "STOP2-IN-10", no_baseline_scan())
    assert c.verdict == "unknown"
    assert "attestation response_persisted_3_months" in c.missing
    assert any("follow-up imaging" in m for m in c.missing), c.missing
    for value, verdict in ((True, "met"), (False, "not_met")):
        rec = no_baseline_scan()
        rec["attestations"].append(att("response_persisted_3_months", value))
        c = criterion("STOP-2", "STOP2-IN-10", rec)
        assert c.verdict == verdict
        assert "the record cannot tell: no scan on or before the start of line 2 (2024-05-01)" in c.reason
    c = criterion("STOP-2", "STOP2-IN-10", no_baseline_scan(), assume=True)
    assert c.verdict == "met" and c.assumed == ("response_persisted_3_months",)


# ---- 4. the progression date the scans show when none was typed --------------------------------

def test_hcc_ex02_progression_date_is_derived_from_imaging_and_the_reason_says_so():
    quoted(HCC, "Tumor progression within 3 months after first-line standard systemic therapy;")
    rec = example("hcc_eligible")
    del rec["systemic_therapy"][0]["progression_date"]
    # line 1 from 2025-03-01 (baseline scan 2025-02-20): T1 30 -> 40 mm on 2025-05-01 is RECIST PD
    rec["assessments"].insert(1, {"date": "2025-05-01", "modality": "MRI", "findings": [
        {"lesion": "T1", "diameter_mm": 40}, {"lesion": "N1", "short_axis_mm": 12}]})
    c = criterion("HCC-OPD", "HCC-EX-02", rec)
    assert c.verdict == "met", c.reason                     # an exclusion met: progression on day 61
    assert "progression date from imaging (first PD on 2025-05-01), not recorded" in c.reason
    assert "assessments 2025-02-20, 2025-05-01, 2025-06-01, 2025-11-10" in c.inputs


def test_ldrt_resistance_uses_the_progression_date_the_scans_show():
    quoted(LDRT, "Malignant tumor patients with immune therapy resistance")
    rec = example("ldrt_eligible")
    del rec["systemic_therapy"][0]["progression_date"]      # the 2024-01-20 scan shows PD (+22 %)
    c = criterion("LDRT-IO", "LDRT-IN-10", rec, assume=True)
    assert c.verdict == "met", c.reason
    assert "acquired resistance: progression on line 1 after 353 days" in c.reason
    assert "progression date from imaging (first PD on 2024-01-20), not recorded" in c.reason


# ---- best response not recorded, PD at the first response assessment: primary resistance -------

def test_stop2_in08_pd_at_the_first_scan_is_no_initial_response():
    quoted(STOP2, "with an initial partial response (PR), complete response (CR) or stable disease (SD) prior to "
                  "the development of oligoprogressive lesions")
    rec = pd_at_first_scan()
    rec["systemic_therapy"][1]["end"] = None                 # on therapy at oligoprogression: criterion 8
    for assume in (False, True):
        c = criterion("STOP-2", "STOP2-IN-08", rec, assume=assume)
        assert c.verdict == "not_met", c.reason
        assert "progression date from imaging (first PD on 2024-07-15), not recorded" in c.reason


def test_stop2_in08_benefit_from_the_scans_when_no_best_response_was_typed():
    rec = example("stop2_eligible")
    rec["systemic_therapy"][1]["best_response"] = None
    c = criterion("STOP-2", "STOP2-IN-08", rec)
    assert c.verdict == "met", c.reason
    assert "SD on imaging" in c.reason and "first PD on 2026-02-20" in c.reason

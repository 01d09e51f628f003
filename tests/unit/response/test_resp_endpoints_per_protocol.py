"""Endpoints of each seed trial on crafted histories, each expected value worked out by hand.

The common history: origin (randomization, or enrolment in the single-arm trial) 2026-01-10.
Scans: 2025-10-01 (L1 20, L2 15 mm); 2026-01-05, the last scan before the origin, where the
lesion that made the patient eligible, L3, is first seen (18 mm, ``new: true``); then follow-up.
Days from 2026-01-10: 2026-04-01 = 21 + 28 + 31 + 1 = 81; 2026-07-01 = 81 + 30 + 31 + 30 = 172.
"""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.response.derivation import derive_endpoints
from oligotrial.protocols import list_protocols, load_protocol

ORIGIN = dt.date(2026, 1, 10)
LESIONS = [{"id": "L1", "kind": "metastasis", "organ": "lung"},
           {"id": "L2", "kind": "metastasis", "organ": "liver"}]
PRE = [{"date": "2025-10-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 20},
                                                             {"lesion": "L2", "diameter_mm": 15}]},
       {"date": "2026-01-05", "modality": "CT", "findings": [
           {"lesion": "L1", "diameter_mm": 20}, {"lesion": "L2", "diameter_mm": 15},
           {"lesion": "L3", "new": True, "organ": "adrenal", "diameter_mm": 18}]}]


def _scan(date: str, l1: float | None, l2: float, l3: float, *extra: dict) -> dict:
    f1 = {"lesion": "L1", "diameter_mm": l1} if l1 is not None else {"lesion": "L1", "state": "not_evaluated"}
    return {"date": date, "modality": "CT", "findings": [f1, {"lesion": "L2", "diameter_mm": l2},
                                                         {"lesion": "L3", "diameter_mm": l3}, *extra]}


def _record(*follow: dict, therapy: list | None = None) -> dict:
    rec = {"id": "H", "as_of": "2026-08-01", "lesions": LESIONS, "assessments": [*PRE, *follow]}
    if therapy is not None:
        rec["systemic_therapy"] = therapy
    return rec


def _ep(doc: dict, endpoint: str) -> dict:
    return next(e for e in doc["endpoints"] if e["endpoint"] == endpoint)


@pytest.mark.parametrize("protocol", list_protocols(), ids=lambda p: p.short_name)
def test_the_enrolling_lesion_that_shrinks_is_not_a_pfs_event(protocol):
    # Response baseline = the last scan on or before the origin (2026-01-05): L3 is present there,
    # so it is a baseline lesion, never a new one. Targets L1 20 + L2 15 + L3 18 = 53 mm;
    # 2026-04-01: 19 + 14 + 12 = 45 mm (-15 %: SD); 2026-07-01: 19 + 14 + 10 = 43 mm (SD, nadir 43).
    # No progression: PFS censored at the last adequate assessment, 2026-07-01, day 172.
    # (Measured from the first scan ever, L3 was "new" at every scan: PD at day 81.)
    rec = _record(_scan("2026-04-01", 19, 14, 12), _scan("2026-07-01", 19, 14, 10))
    doc = derive_endpoints(parse_patient(rec), protocol, start=ORIGIN)
    assert doc["origin"] == "2026-01-10" and doc["response_baseline"] == "2026-01-05"
    pfs = _ep(doc, "pfs")
    assert pfs["event"] is False and pfs["date"] == "2026-07-01" and pfs["days"] == 172, pfs
    assert "last adequate assessment 2026-07-01" in pfs["reason"]


def test_hcc_control_arm_second_line_does_not_censor_but_other_therapy_does():
    # NCT06592612 control arm: "lenvatinib or regorafenib ... will be used for second-line treatment".
    # Lenvatinib from 2026-01-12 is that arm's protocol therapy. 2026-07-01: L1 30 + 14 + 12 = 56 mm,
    # +24.4 % and +11 mm over the nadir 45 -> PD: PFS event on 2026-07-01, day 172.
    hcc = load_protocol("NCT06592612")
    follow = (_scan("2026-04-01", 19, 14, 12), _scan("2026-07-01", 30, 14, 12))
    lenvatinib = [{"line": 2, "agents": ["lenvatinib"], "classes": ["tki"], "start": "2026-01-12"}]
    doc = derive_endpoints(parse_patient(_record(*follow, therapy=lenvatinib)), hcc, start=ORIGIN, arm="control")
    pfs = _ep(doc, "pfs")
    assert pfs["event"] is True and pfs["date"] == "2026-07-01" and pfs["days"] == 172, pfs
    assert any("protocol therapy of arm control" in n for n in doc["notes"])
    # doxorubicin (chemotherapy, no arm directs it) from 2026-05-01 is new anticancer therapy:
    # censored at the last adequate assessment before it, 2026-04-01, day 81
    other = [*lenvatinib, {"line": 3, "agents": ["doxorubicin"], "classes": ["chemotherapy"], "start": "2026-05-01"}]
    doc = derive_endpoints(parse_patient(_record(*follow, therapy=other)), hcc, start=ORIGIN, arm="control")
    pfs = _ep(doc, "pfs")
    assert pfs["event"] is False and pfs["date"] == "2026-04-01" and pfs["days"] == 81
    assert "new anticancer therapy 2026-05-01" in pfs["reason"]


def test_oligoresidual_maintenance_is_protocol_therapy_in_both_arms():
    # NCT07014202: "Maintenance: Pemetrexed (500mg/m2) + pembrolizumab 200mg IV q3w" in both arms.
    # Maintenance from 2026-02-01 never censors; PD on 2026-07-01 (56 mm vs nadir 45) is the event.
    ores = load_protocol("NCT07014202")
    maint = [{"line": 2, "agents": ["pemetrexed", "pembrolizumab"], "classes": ["chemotherapy", "immunotherapy"],
              "start": "2026-02-01"}]
    rec = _record(_scan("2026-04-01", 19, 14, 12), _scan("2026-07-01", 30, 14, 12), therapy=maint)
    for arm in ("maintenance", "rt_maintenance"):
        pfs = _ep(derive_endpoints(parse_patient(rec), ores, start=ORIGIN, arm=arm), "pfs")
        assert pfs["event"] is True and pfs["date"] == "2026-07-01" and pfs["days"] == 172


def test_stop2_polymetastatic_pfs_counts_more_than_five_lesions():
    # STOP-2 PPFS: "polymetastatic progression-free survival", more than 5 lesions.
    # Baseline lesions L1-L3 (3). 2026-04-01: two new lesions -> 5 lesions, not > 5: no PPFS event,
    # but a new lesion is RECIST PD: PFS event on 2026-04-01 (day 81).
    # 2026-07-01: a third new lesion -> 6 > 5: PPFS event on 2026-07-01 (day 172).
    stop2 = load_protocol("STOP-2")
    n4 = {"lesion": "L4", "new": True, "organ": "liver", "diameter_mm": 12}
    n5 = {"lesion": "L5", "new": True, "organ": "lung", "diameter_mm": 11}
    n6 = {"lesion": "L6", "new": True, "organ": "bone", "diameter_mm": 14}
    rec = _record(_scan("2026-04-01", 19, 14, 12, n4, n5),
                  _scan("2026-07-01", 19, 14, 12, {"lesion": "L4", "diameter_mm": 12},
                        {"lesion": "L5", "diameter_mm": 11}, n6))
    doc = derive_endpoints(parse_patient(rec), stop2, start=ORIGIN)
    pfs, ppfs = _ep(doc, "pfs"), _ep(doc, "ppfs")
    assert pfs["event"] is True and pfs["date"] == "2026-04-01" and pfs["days"] == 81
    assert ppfs["event"] is True and ppfs["date"] == "2026-07-01" and ppfs["days"] == 172, ppfs
    assert "6 lesions > 5" in ppfs["reason"]


def test_stop2_pfs_nest_progression_before_a_next_line_is_not_an_event():
    # PFS-NEST: oligoprogression on unchanged systemic therapy is not an event. 2026-04-01:
    # L1 40 + 14 + 12 = 66 mm vs 53 at baseline: +24.5 % and +13 mm -> PD (a PFS event, day 81),
    # before any next line. Next line from 2026-05-01; re-baselined at the last scan on or before
    # it (2026-04-01, 66 mm); 2026-07-01: 45 + 14 + 12 = 71 mm, +7.6 %: not PD.
    # No PFS-NEST event: censored at the last adequate assessment, 2026-07-01 (day 172).
    stop2 = load_protocol("STOP-2")
    therapy = [{"line": 1, "agents": ["pembrolizumab"], "start": "2025-06-01", "end": "2026-04-30"},
               {"line": 2, "agents": ["docetaxel"], "start": "2026-05-01"}]
    rec = _record(_scan("2026-04-01", 40, 14, 12), _scan("2026-07-01", 45, 14, 12), therapy=therapy)
    doc = derive_endpoints(parse_patient(rec), stop2, start=ORIGIN)
    nest = _ep(doc, "pfs_nest")
    assert nest["event"] is False and nest["date"] == "2026-07-01" and nest["days"] == 172, nest
    assert _ep(doc, "pfs")["event"] is True and _ep(doc, "pfs")["date"] == "2026-04-01"


def test_censoring_at_the_last_adequate_assessment_skips_a_not_evaluable_scan():
    # 2026-04-01 SD (45 mm); 2026-07-01 L1 not evaluated -> NE, not adequate. PFS censored at
    # 2026-04-01, day 81, not at the NE scan.
    doc = derive_endpoints(parse_patient(_record(_scan("2026-04-01", 19, 14, 12), _scan("2026-07-01", None, 14, 12))),
                           load_protocol("STOP-2"), start=ORIGIN)
    pfs = _ep(doc, "pfs")
    assert pfs["event"] is False and pfs["date"] == "2026-04-01" and pfs["days"] == 81


def test_no_scan_before_the_origin_means_no_response_baseline_and_says_so():
    rec = {"id": "H", "as_of": "2026-08-01", "lesions": LESIONS,
           "assessments": [{"date": "2026-04-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 19}]}]}
    doc = derive_endpoints(parse_patient(rec), load_protocol("STOP-2"), start=ORIGIN)
    assert doc["response_baseline"] is None
    assert any("no response baseline" in n for n in doc["notes"])
    assert _ep(doc, "pfs")["event"] is False


def test_an_arm_the_trial_does_not_have_is_refused():
    from oligotrial.errors import AssessmentError

    with pytest.raises(AssessmentError) as e:
        derive_endpoints(parse_patient(_record()), load_protocol("STOP-2"), start=ORIGIN, arm="soc")
    assert e.value.field == "arm"


@pytest.mark.parametrize("protocol", list_protocols(), ids=lambda p: p.short_name)
def test_best_overall_response_orr_and_dcr_per_participant(protocol):
    # targets 53 mm at the response baseline; 2026-04-01: 10 + 8 + 6 = 24 mm, -54.7 %: PR,
    # held on 2026-07-01 (91 days later, >= 28: confirmed where the trial asks for confirmation)
    doc = derive_endpoints(parse_patient(_record(_scan("2026-04-01", 10, 8, 6), _scan("2026-07-01", 10, 8, 6))),
                           protocol, start=ORIGIN)
    r = doc["response"]
    irecist = protocol.id == "NCT05906329"  # LDRT-IO: iRECIST, confirmed (response is its main endpoint)
    assert r["criteria"] == ("iRECIST" if irecist else "RECIST 1.1") and r["confirmed"] is irecist
    assert r["best_overall_response"] == ("iPR" if irecist else "PR") and r["date"] == "2026-04-01"
    assert r["objective_response"] is True and r["disease_control"] is True
    # 2026-04-01: 45 mm (-15 %): SD, 81 days after the origin (>= 42: counts as SD)
    sd = derive_endpoints(parse_patient(_record(_scan("2026-04-01", 19, 14, 12))), protocol, start=ORIGIN)["response"]
    assert sd["best_overall_response"] == ("iSD" if irecist else "SD")
    assert sd["objective_response"] is False and sd["disease_control"] is True
    none = derive_endpoints(parse_patient(_record()), protocol, start=ORIGIN)["response"]
    assert none["best_overall_response"] is None and none["objective_response"] is None

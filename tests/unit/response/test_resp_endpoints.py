"""Endpoint derivation: the PFS vectors (T2) and each trial's endpoint rules on crafted histories."""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.protocol.endpoint_schema import EndpointRules, parse_endpoint_rules
from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.response import endpoints as ep
from oligotrial.domain.response.derivation import derive_endpoints
from oligotrial.errors import ProtocolError
from oligotrial.protocols import list_protocols, load_protocol
from resp_helpers import as_date, load_vectors

V = load_vectors()


@pytest.mark.parametrize("vec", V["pfs"], ids=[v["id"] for v in V["pfs"]])
def test_resp_pfs_vector(vec):
    start = as_date(vec["start"])
    visits = [(as_date(d, start), r) for d, r in vec["visits"]]
    events = [ep.Candidate(d, "RECIST 1.1 progression") for d, r in visits if r == "PD"][:1]
    if vec.get("death"):
        events.append(ep.Candidate(as_date(vec["death"]), "death"))
    nact = ep.Candidate(as_date(vec["new_therapy"], start), "line 2") if vec.get("new_therapy") else None
    mv = ep.MissedVisit(**vec["missed_visit"]) if vec.get("missed_visit") else None
    got = ep.time_to_event("pfs", start, events=events, assessments=visits, new_therapy=nact, missed_visit=mv)
    assert got.event is vec["expect"]["event"], got.reason
    assert got.date == as_date(vec["expect"]["date"], start), got.reason
    assert got.reason


def test_resp_every_protocol_has_valid_endpoint_rules():
    for p in list_protocols():
        rules = parse_endpoint_rules(p.endpoint_rules, trial=p.id)
        assert isinstance(rules, EndpointRules) and all(e.source_text for e in rules.endpoints)


def test_resp_endpoint_rules_missing_or_bad():
    with pytest.raises(ProtocolError, match="no endpoint_rules"):
        parse_endpoint_rules(None)
    with pytest.raises(ProtocolError, match="polymetastatic_threshold_lesions"):
        parse_endpoint_rules({"origin": "randomization", "origin_source_text": "x", "endpoints": [
            {"id": "p", "kind": "polymetastatic_pfs", "name": "p", "source_text": "abc"}]})


def _find(doc, eid):
    return next(e for e in doc["endpoints"] if e["endpoint"] == eid)


def _lesion_findings(size, new=None, l2=20):
    out = [{"lesion": "L1", "diameter_mm": size}, {"lesion": "L2", "diameter_mm": l2}]
    return out + (new or [])


BASE = {"id": "E", "as_of": "2027-06-01",
        "lesions": [{"id": "L1", "kind": "metastasis", "organ": "lung"},
                    {"id": "L2", "kind": "metastasis", "organ": "liver"}]}


def _stop2_patient(next_line=True, death=None):
    # oligoprogression on line 1 -> SABR (protocol MDT) -> new lesion 2026-05-01 (PD, not PFS-NEST)
    # -> line 2 starts 2026-06-01 -> progression on line 2 on 2026-10-01
    assessments = [
        {"date": "2026-01-05", "modality": "CT", "findings": _lesion_findings(30)},
        {"date": "2026-03-01", "modality": "CT", "findings": _lesion_findings(20)},
        {"date": "2026-05-01", "modality": "CT", "findings": _lesion_findings(20, [{"lesion": "L3", "new": True, "organ": "bone", "diameter_mm": 15}])},
        {"date": "2026-05-25", "modality": "CT", "findings": _lesion_findings(20, [{"lesion": "L3", "diameter_mm": 15}])},
        {"date": "2026-08-01", "modality": "CT", "findings": _lesion_findings(20, [{"lesion": "L3", "diameter_mm": 15}])},
        {"date": "2026-10-01", "modality": "CT", "findings": _lesion_findings(30, [{"lesion": "L3", "diameter_mm": 15}], l2=30)},
    ]
    therapy = [{"line": 1, "agents": ["pembrolizumab"], "start": "2025-06-01", "end": "2026-05-31"}]
    if next_line:
        therapy.append({"line": 2, "agents": ["docetaxel"], "start": "2026-06-01"})
    rec = {**BASE, "assessments": assessments, "systemic_therapy": therapy,
           "radiotherapy": [{"start": "2026-01-20", "end": "2026-01-24", "lesions": ["L1"], "dose_gy": 35,
                             "fractions": 5, "technique": "SBRT"}],
           "events": [{"kind": "death", "date": death}] if death else []}
    return parse_patient(rec)


def test_resp_stop2_pfs_nest_progression_on_next_line():
    doc = derive_endpoints(_stop2_patient(), load_protocol("NCT06918951"), start=dt.date(2026, 1, 10))
    nest = _find(doc, "pfs_nest")
    assert nest["event"] is True and nest["date"] == "2026-10-01", nest["reason"]
    pfs = _find(doc, "pfs")
    assert pfs["event"] is True and pfs["date"] == "2026-05-01"       # new lesion, before line 2
    ttnst = _find(doc, "ttnst")
    assert ttnst["event"] is True and ttnst["date"] == "2026-06-01"
    lc = _find(doc, "local_control")["lesions"]
    assert lc[0]["lesion"] == "L1" and lc[0]["event"] is True and lc[0]["date"] == "2026-10-01"  # 20 -> 30
    ppfs = _find(doc, "ppfs")
    assert ppfs["event"] is False
    os_ = _find(doc, "os")
    # censored at the last contact, the scan of 2026-10-01, not at the record's as_of (2027-06-01):
    # as_of is the date the record is judged at, not a date the participant was seen
    assert os_["event"] is False and os_["date"] == "2026-10-01", os_["reason"]


def test_resp_stop2_pfs_nest_without_next_line_is_censored():
    doc = derive_endpoints(_stop2_patient(next_line=False), load_protocol("STOP-2"), start=dt.date(2026, 1, 10))
    nest = _find(doc, "pfs_nest")
    assert nest["event"] is False and "no next line" in nest["reason"]
    assert nest["date"] == "2026-10-01"


def test_resp_stop2_death_is_pfs_nest_event():
    doc = derive_endpoints(_stop2_patient(next_line=False, death="2026-12-01"), load_protocol("STOP-2"),
                           start=dt.date(2026, 1, 10))
    nest = _find(doc, "pfs_nest")
    assert nest["event"] is True and nest["date"] == "2026-12-01" and nest["reason"] == "death"
    assert _find(doc, "os")["event"] is True


def test_resp_pfs_new_therapy_censors_but_protocol_therapy_and_mdt_do_not():
    # OPPRESS: SBRT after the origin is protocol treatment; the second-line docetaxel both arms'
    # systemic blocks direct ("a second-line docetaxel/albumin-bound paclitaxel-based systemic therapy
    # regimen") is protocol therapy and never censors; a therapy no arm directs (osimertinib, a TKI) does.
    # Scans: 2026-01-05 baseline 50 mm (L1 30 + L2 20), 03-01 49 mm (nadir), 06-01 60 mm:
    # +22.4 % and +11 mm over the nadir -> RECIST PD on 2026-06-01, day 142 from 2026-01-10.
    rec = {**BASE, "assessments": [
        {"date": "2026-01-05", "modality": "CT", "findings": _lesion_findings(30)},
        {"date": "2026-03-01", "modality": "CT", "findings": _lesion_findings(29)},
        {"date": "2026-06-01", "modality": "CT", "findings": _lesion_findings(40)}],
        "systemic_therapy": [{"line": 1, "agents": ["pembrolizumab"], "start": "2025-06-01", "end": "2026-04-01"},
                             {"line": 2, "agents": ["docetaxel"], "classes": ["chemotherapy"], "start": "2026-04-02"}],
        "radiotherapy": [{"start": "2026-01-20", "lesions": ["L1"]}]}
    oppress = load_protocol("NCT06523673")
    for arm in ("soc", "sbrt", None):
        doc = derive_endpoints(parse_patient(rec), oppress, start=dt.date(2026, 1, 10), arm=arm)
        pfs = _find(doc, "pfs")
        assert pfs["event"] is True and pfs["date"] == "2026-06-01" and pfs["days"] == 142, (arm, pfs)
        assert any("protocol therapy" in n and "does not censor" in n for n in doc["notes"]), arm
    assert any("no arm was given" in n for n in doc["notes"])
    rec["systemic_therapy"][1] = {"line": 2, "agents": ["osimertinib"], "classes": ["tki"], "start": "2026-04-02"}
    doc = derive_endpoints(parse_patient(rec), oppress, start=dt.date(2026, 1, 10), arm="soc")
    pfs = _find(doc, "pfs")
    # censored at the last adequate assessment before the new therapy: 2026-03-01, day 50
    assert pfs["event"] is False and pfs["date"] == "2026-03-01" and pfs["days"] == 50
    assert "new anticancer therapy" in pfs["reason"]
    rec["systemic_therapy"] = rec["systemic_therapy"][:1]
    doc = derive_endpoints(parse_patient(rec), oppress, start=dt.date(2026, 1, 10))
    assert _find(doc, "pfs")["event"] is True and _find(doc, "pfs")["date"] == "2026-06-01"


def test_resp_hcc_orr_and_pfs():
    rec = {**BASE, "assessments": [
        {"date": "2026-01-05", "modality": "CT", "findings": _lesion_findings(30)},
        {"date": "2026-03-01", "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 10}, {"lesion": "L2", "diameter_mm": 10}]}]}
    doc = derive_endpoints(parse_patient(rec), load_protocol("NCT06592612"), start=dt.date(2026, 1, 10))
    orr = _find(doc, "orr")
    assert orr["value"] is True and orr["best_overall_response"] == "PR"
    pfs = _find(doc, "pfs")
    assert pfs["event"] is False and pfs["date"] == "2026-03-01"


def test_resp_oligoresidual_local_control_censored():
    # the residual lesions are read on the PET-CT before the origin (not in complete metabolic response)
    pet = [{**f, "suv_max": 5.0} for f in _lesion_findings(30)]
    rec = {**BASE, "assessments": [
        {"date": "2026-01-05", "modality": "PET-CT", "findings": pet},
        {"date": "2026-04-01", "modality": "CT", "findings": _lesion_findings(20)},
        {"date": "2026-07-01", "modality": "CT", "findings": _lesion_findings(24)}],
        "radiotherapy": [{"start": "2026-01-15", "lesions": ["L1", "L2"]}]}
    doc = derive_endpoints(parse_patient(rec), load_protocol("NCT07014202"), start=dt.date(2026, 1, 10))
    lc = {x["lesion"]: x for x in _find(doc, "local_control")["lesions"]}
    assert lc["L1"]["event"] is False and lc["L1"]["date"] == "2026-07-01"   # 20 -> 24: +4 mm
    assert _find(doc, "pfs")["event"] is False


def test_resp_ldrt_irecist_orr_dcr_and_ipfs():
    a = lambda d, s, new=None: {"date": d, "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": s}] + (new or [])}
    rec = {"id": "I", "as_of": "2027-01-01", "lesions": [{"id": "L1", "kind": "metastasis", "organ": "lung"}],
           "assessments": [a("2026-01-01", 100), a("2026-02-15", 60), a("2026-03-30", 60),
                           a("2026-05-15", 130), a("2026-06-30", 140)]}
    doc = derive_endpoints(parse_patient(rec), load_protocol("NCT05906329"), start=dt.date(2026, 1, 5))
    assert _find(doc, "orr")["value"] is True and _find(doc, "orr")["best_overall_response"] == "iPR"
    assert _find(doc, "dcr")["value"] is True
    pfs = _find(doc, "pfs")
    assert pfs["event"] is True and pfs["date"] == "2026-05-15"   # first iUPD of the confirmed block


def test_resp_endpoints_need_an_origin():
    from oligotrial.errors import AssessmentError
    rec = {**BASE, "assessments": [{"date": "2026-01-05", "modality": "CT", "findings": _lesion_findings(30)}]}
    with pytest.raises(AssessmentError, match="--start"):
        derive_endpoints(parse_patient(rec), load_protocol("NCT06592612"))


def test_resp_derivation_is_the_domains_and_the_service_names_it_for_the_adapters():
    """Issue 27 item 1: the derivation lives in domain/response; the service module the adapters
    call keeps naming the same functions (no second copy)."""
    from oligotrial.domain.response import derivation
    from oligotrial.service import assessment

    for name in ("derive_endpoints", "response_baseline", "new_anticancer_therapy", "response_options", "best_response"):
        assert getattr(assessment, name) is getattr(derivation, name), name

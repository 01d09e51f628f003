"""ORES-NSCLC (NCT07014202) local control: the registry's secondary question is "Does it improve
overall survival, control residual disease", and the arms are "Experimental: Continuation of
maintenance therapy (immunotherapy alone or with chemotherapy) plus local radiotherapy to all
residual tumors Control: Continuation of maintenance therapy only". The residual disease is the
same in both arms, so control of it is followed per residual lesion in both arms, from
randomization; the maintenance-only arm, which irradiates nothing, has values too (issue 25 item 8)."""

from __future__ import annotations

import datetime as dt

import pytest

from core_builders import example
from oligotrial.domain.protocol.endpoint_schema import EndpointRule, parse_endpoint_rules
from oligotrial.domain.record.patient import parse_patient
from oligotrial.protocols import load_protocol
from oligotrial.service.assessment import derive_endpoints
from registry_words import ORES, quoted

ORIGIN = dt.date(2025, 7, 5)   # randomization, after the eligible example's PET-CT of 2025-06-20


def _record(radiotherapy=None) -> dict:
    """The shipped eligible ORES record (residual P1, N1, N2, B1 on the PET-CT of 2025-06-20; H1
    and B2 in complete metabolic response) followed by two CT scans."""
    rec = example("oligoresidual_eligible")
    rec["as_of"] = "2026-02-01"
    rec["assessments"] += [
        {"date": "2025-10-01", "modality": "CT", "findings": [
            {"lesion": "P1", "diameter_mm": 20}, {"lesion": "N1", "short_axis_mm": 10},
            {"lesion": "N2", "short_axis_mm": 11}, {"lesion": "B1", "state": "present"}]},
        {"date": "2026-01-05", "modality": "CT", "findings": [
            {"lesion": "P1", "diameter_mm": 26}, {"lesion": "N1", "short_axis_mm": 10},
            {"lesion": "N2", "short_axis_mm": 17}, {"lesion": "B1", "state": "present"}]}]
    if radiotherapy is not None:
        rec["radiotherapy"] = radiotherapy
    return rec


def _local_control(rec: dict, arm: str) -> dict:
    doc = derive_endpoints(parse_patient(rec), load_protocol("ORES-NSCLC"), start=ORIGIN, arm=arm)
    return next(e for e in doc["endpoints"] if e["endpoint"] == "local_control")


# by hand: P1 nadir 20 mm (2025-10-01) -> 26 mm on 2026-01-05: +30 % and +6 mm, an event 184 days
# after 2025-07-05; N1 12 -> 10 -> 10: censored at 2026-01-05; N2 nadir 11 -> 17: +55 % and +6 mm,
# an event; B1 is never measured (bone, no size): no reference, censored at the origin
EXPECTED = {
    "P1": (True, "2026-01-05", 184),
    "N1": (False, "2026-01-05", 184),
    "N2": (True, "2026-01-05", 184),
    "B1": (False, "2025-07-05", 0),
}


def test_the_maintenance_only_arm_has_local_control_of_its_residual_lesions():
    quoted(ORES, "Secondary: Does it improve overall survival, control residual disease")
    quoted(ORES, "Control: Continuation of maintenance therapy only")
    lc = _local_control(_record(), "maintenance")
    got = {x["lesion"]: (x["event"], x["date"], x["days"]) for x in lc["lesions"]}
    assert got == EXPECTED
    assert lc["lesion_set"] == "residual" and lc["undetermined"] == []
    assert "H1" not in got and "B2" not in got     # in complete metabolic response: not residual


def test_the_radiotherapy_arm_follows_the_same_residual_lesions_from_randomization():
    quoted(ORES, "plus local radiotherapy to all residual tumors")
    # radiotherapy to P1 only (the others not irradiated): the residual lesions are still the four
    rt = [{"start": "2025-07-20", "end": "2025-07-24", "lesions": ["P1"], "dose_gy": 40, "fractions": 5}]
    lc = _local_control(_record(rt), "rt_maintenance")
    assert {x["lesion"]: (x["event"], x["date"], x["days"]) for x in lc["lesions"]} == EXPECTED


def test_a_lesion_the_scan_before_randomization_cannot_classify_is_undetermined_not_controlled():
    rec = _record()
    for a in rec["assessments"]:
        if a["date"] == "2025-06-20":
            a["modality"] = "CT"                      # no PET-CT: complete metabolic response unknown
            for f in a["findings"]:
                f.pop("suv_max", None)
    lc = _local_control(rec, "maintenance")
    assert lc["lesions"] == [] and {u["lesion"] for u in lc["undetermined"]} >= {"P1", "N1", "N2", "B1"}
    assert all("not known whether it was residual" in u["reason"] for u in lc["undetermined"])


def test_residual_lesions_are_for_local_control_only_and_stop2_keeps_treated_lesions():
    with pytest.raises(ValueError, match="for local_control only"):
        EndpointRule(id="pfs", kind="pfs", name="PFS", lesions="residual", source_text="abc")
    stop2 = parse_endpoint_rules(load_protocol("STOP-2").endpoint_rules)
    assert [e.lesions for e in stop2.endpoints if e.kind == "local_control"] == ["treated"]

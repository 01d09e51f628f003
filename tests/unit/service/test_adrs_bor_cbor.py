"""ADRS (issue 25 item 7): OVRLRESP with ANL01FL, BOR (unconfirmed) and CBOR (confirmed), both cut
at the next line of therapy, from hand-made scan histories.

One target lesion, L1 (lung), 50 mm at the response baseline (five days before randomization on
2026-01-10). Each time-point response below follows from RECIST 1.1 s.4.3.1 (Eisenhauer 2009):
"PR: at least a 30% decrease in the sum of diameters of target lesions, taking as reference the
baseline sum" (<= 35 mm), "PD: at least a 20% increase in the sum of diameters of target lesions,
taking as reference the smallest sum on study ... the sum must also demonstrate an absolute
increase of at least 5 mm", CR: "disappearance of all target lesions" (0 mm), SD otherwise.
The best response rules are RECIST 1.1 s.4.4.3 and s.4.6.1, with the protocol's intervals
(OPPRESS ``response_confirmation``: confirmation >= 28 days, SD >= 42 days from randomization):
- "Complete or partial responses may be claimed only if the criteria for each are met at a
  subsequent time point as specified in the protocol (generally 4 weeks later)";
- "in the case of SD, measurements must have met the SD criteria at least once after study entry
  at a minimum interval (in general not less than 6-8 weeks)"; an earlier SD is not evaluable;
- Table 3: a CR/PR not confirmed is SD if the SD minimum is met, otherwise PD or NE.
"""

from __future__ import annotations

import datetime as dt

import pytest

from oligotrial.domain.protocol.endpoint_schema import parse_endpoint_rules
from oligotrial.domain.record.patient import parse_patient
from oligotrial.protocols import load_protocol
from oligotrial.service.endpoints import participant_adrs, response_paramcd

ORIGIN = dt.date(2026, 1, 10)
BASELINE = ORIGIN - dt.timedelta(days=5)


def _d(n: int) -> str:
    return (ORIGIN + dt.timedelta(days=n)).isoformat()


# case: (scans as (day, L1 mm), next line start day or None,
#        expected OVRLRESP, expected ANL01FL, expected BOR (value, day), expected CBOR (value, day))
CASES = {
    "PR confirmed 42 days later": (
        [(42, 30), (84, 30)], None, ["PR", "PR"], ["Y", "Y"], ("PR", 42), ("PR", 42)),
    "PR repeated only 21 days later: not confirmed, SD (>= 42 d) instead": (
        [(42, 30), (63, 30)], None, ["PR", "PR"], ["Y", "Y"], ("PR", 42), ("SD", 42)),
    "PR at day 28 then PD: unconfirmed, SD minimum not met, PD": (
        [(28, 30), (56, 60)], None, ["PR", "PD"], ["Y", "Y"], ("PR", 28), ("PD", 56)),
    "CR confirmed exactly 28 days later ('generally 4 weeks')": (
        [(42, 0), (70, 0)], None, ["CR", "CR"], ["Y", "Y"], ("CR", 42), ("CR", 42)),
    "CR repeated 27 days later: not confirmed, SD": (
        [(42, 0), (69, 0)], None, ["CR", "CR"], ["Y", "Y"], ("CR", 42), ("SD", 42)),
    "SD at day 28 only (< 42 d): not evaluable": (
        [(28, 45)], None, ["SD"], ["Y"], ("NE", 28), ("NE", 28)),
    "SD at day 42 and 84": (
        [(42, 45), (84, 40)], None, ["SD", "SD"], ["Y", "Y"], ("SD", 42), ("SD", 42)),
    "next line on day 60: the later PR and PD are not used": (
        [(42, 30), (90, 30), (120, 70)], 60, ["PR", "PR", "PD"], ["Y", "", ""], ("PR", 42), ("SD", 42)),
    "nothing before the next line: not evaluable": (
        [(90, 30)], 60, ["PR"], [""], ("NE", None), ("NE", None)),
    "first PD ends the records used (RECIST 1.1 s.4.4.3: until progression)": (
        [(42, 60), (84, 30), (126, 30)], None, ["PD", "PR", "PR"], ["Y", "", ""], ("PD", 42), ("PD", 42)),
}


def _patient(scans, next_line):
    assessments = [{"date": BASELINE.isoformat(), "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": 50}]}]
    assessments += [{"date": _d(day), "modality": "CT", "findings": [{"lesion": "L1", "diameter_mm": mm}]}
                    for day, mm in scans]
    rec = {"id": "R", "as_of": _d(200), "lesions": [{"id": "L1", "kind": "metastasis", "organ": "lung"}],
           "assessments": assessments}
    if next_line is not None:
        rec["events"] = [{"date": _d(next_line), "kind": "next_line_start", "detail": "second line"}]
    return parse_patient(rec, today=dt.date(2027, 1, 1))


@pytest.mark.parametrize("case", sorted(CASES))
def test_adrs_ovrlresp_flags_bor_and_cbor(case):
    scans, next_line, ovr, flags, bor, cbor = CASES[case]
    rows = participant_adrs(_patient(scans, next_line), load_protocol("NCT06523673"), origin=ORIGIN,
                            baseline=BASELINE, arm="soc")
    points = [r for r in rows if r["PARAMCD"] == "OVRLRESP"]
    assert [r["ADT"] for r in points] == [_d(day) for day, _ in scans]
    assert [r["AVALC"] for r in points] == ovr
    assert [r["ANL01FL"] for r in points] == flags
    by = {r["PARAMCD"]: r for r in rows if r["PARAMCD"] in ("BOR", "CBOR")}
    for code, (value, day) in (("BOR", bor), ("CBOR", cbor)):
        assert by[code]["AVALC"] == value, (code, by[code])
        assert by[code]["ADT"] == (None if day is None else _d(day)), (code, by[code])
        assert by[code]["ANL01FL"] == "Y"
    assert [r["PARAMCD"] for r in rows][-2:] == ["BOR", "CBOR"]


def test_every_protocol_labels_its_response_intervals():
    # the registries name no interval: each protocol file says what is assumed
    for trial in ("NCT05906329", "NCT06523673", "NCT06592612", "NCT06918951", "NCT07014202"):
        conf = parse_endpoint_rules(load_protocol(trial).endpoint_rules).response_confirmation
        assert conf is not None and (conf.confirm_min_days, conf.sd_min_days) == (28, 42), trial
        assert "registry names no interval" in conf.assumption


def test_the_response_rate_counts_cbor_where_the_registry_endpoint_needs_confirmation():
    # LDRT-IO's primary ORR is confirmed (single arm, response primary: RECIST 1.1 s.4.6.1)
    assert response_paramcd(load_protocol("NCT05906329")) == "CBOR"
    assert response_paramcd(load_protocol("NCT06592612")) == "BOR"   # HCC-OPD: randomized, unconfirmed

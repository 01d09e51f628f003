"""RT-arm fixes from the review of the protocol files, second round (issue 17, item 1): each test
quotes the registry words it enforces (verified against shared/seeds/*.txt) and failed before
its fix."""

from __future__ import annotations

import pytest

from oligotrial.domain.radiotherapy.prescription import (
    check_prescription,
    parse_prescription,
)
from oligotrial.protocols import load_protocol
from registry_words import HCC, STOP2, quoted


def check(trial: str, arm: str, rx: dict):
    spec = load_protocol(trial).arm(arm).radiotherapy
    return check_prescription(parse_prescription(rx), spec, trial=trial, arm=arm)


# ---- 2. HCC SBRT arm: SBRT begins within 2 weeks after the start of second-line therapy --------

SBRT = [{"id": "T1", "dose_gy": 40, "fractions": 5, "technique": "SBRT"}]
LINES = [{"line": 1, "start": "2025-03-01"}, {"line": 2, "start": "2025-12-01"}]


@pytest.mark.parametrize("start,status,code", [
    ("2025-12-01", "pass", None),                               # same day as the second line
    ("2025-12-15", "pass", None),                               # day 14: within 2 weeks
    ("2025-12-16", "fail", "course_start_too_late"),            # day 15
    ("2025-11-30", "fail", "course_start_before_systemic_line"),
])
def test_hcc_sbrt_starts_within_2_weeks_of_second_line(start, status, code):
    quoted(HCC, "SBRT will be administered to all oligoprogressive lesions and must begin within 2 weeks after the "
                "start of second-line therapy.")
    report = check("HCC-OPD", "sbrt", {"start_date": start, "lesions": SBRT, "systemic_lines": LINES})
    assert report.status == status, report.to_dict()
    if code:
        f = next(f for f in report.findings if f.code == code)
        assert start in f.message and "2025-12-01" in f.message


def test_hcc_sbrt_without_a_recorded_second_line_is_not_evaluable():
    quoted(HCC, "must begin within 2 weeks after the start of second-line therapy")
    for lines in (None, LINES[:1]):
        rx = {"start_date": "2025-12-10", "lesions": SBRT}
        if lines is not None:
            rx["systemic_lines"] = lines
        report = check("HCC-OPD", "sbrt", rx)
        assert report.status == "not_evaluable"
        assert [f.code for f in report.findings] == ["systemic_line_start_missing"]
    # the rule is the arm's data, not code: the spec carries the line and the days
    rule = load_protocol("HCC-OPD").arm("sbrt").radiotherapy.start_within_days_of_systemic_line
    assert (rule.line, rule.days) == (2, 14)


def test_the_service_passes_the_records_lines_to_the_check():
    from core_builders import example, parsed
    from oligotrial.service import radiotherapy

    rec = example("hcc_eligible")
    rec["systemic_therapy"].append({"line": 2, "agents": ["regorafenib"], "classes": ["tki"], "start": "2025-11-20"})
    rt = {"start": "2025-11-25", "dose_gy": 40, "fractions": 5, "technique": "SBRT", "lesions": ["T1"]}
    protocol = load_protocol("HCC-OPD")
    assert radiotherapy.check(protocol, "sbrt", rt, parsed(rec)).status == "pass"
    late = radiotherapy.check(protocol, "sbrt", {**rt, "start": "2025-12-20"}, parsed(rec))
    assert late.status == "fail" and radiotherapy.problems(late)[0]["field"] == "start"


# ---- 4. STOP-2 SABR arm: single-fraction radiosurgery for brain metastases that stay eligible ----

@pytest.mark.parametrize("dose", [15, 18, 24])
def test_stop2_sabr_accepts_srs_15_to_24_gy_in_1_for_brain(dose):
    quoted(STOP2, "6. Brain metastasis \\> 3.5 cm in size or a total volume of brain metastases greater than 30 cc.")
    quoted(STOP2, "the experimental arm will consist of SABR treatment to all sites of oligoprogression.")
    report = check("STOP-2", "sabr", {"lesions": [{"id": "B1", "site": "brain", "dose_gy": dose, "fractions": 1,
                                                   "technique": "SRS"}]})
    assert report.status == "pass", report.to_dict()
    if dose < 16:   # below the SABR range: only the radiosurgery regimen admits it
        assert report.lesions[0].regimen.startswith("SRS")


def test_stop2_srs_regimen_is_for_brain_lesions_only():
    lesion = {"id": "B1", "dose_gy": 15, "fractions": 1, "technique": "SRS"}
    assert check("STOP-2", "sabr", {"lesions": [{**lesion, "site": "lung"}]}).status == "fail"
    assert check("STOP-2", "sabr", {"lesions": [lesion]}).status == "not_evaluable"      # site not given
    assert check("STOP-2", "sabr", {"lesions": [{**lesion, "site": "brain", "dose_gy": 12}]}).status == "fail"
    assert check("STOP-2", "sabr", {"lesions": [{**lesion, "site": "brain", "dose_gy": 27,
                                                 "fractions": 3}]}).status == "pass"  # the SABR range still applies

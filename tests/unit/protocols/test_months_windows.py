"""Issue 25 item 8: "a window of N months ends on the same day of the month N months later (the
month's last day where that day does not exist), for every window the registry states in months".

Each converted window quotes the registry's words; each leaf that reads a window in months is
checked at its boundary day, where a count of 30-day months (the old 60/90/182 days) decides the
other way. The boundaries are worked by hand from the calendar in the comments."""

from __future__ import annotations

import re

import pytest

from core_builders import base, lesion_record, parsed
from oligotrial.domain.eligibility.screening import screen_patient
from oligotrial.domain.protocol.schema import Window
from oligotrial.domain.response.counting import evaluate_disease_state
from oligotrial.protocols import list_protocols, load_protocol
from registry_words import HCC, LDRT, OPPRESS, STOP2, quoted

# (trial, window, the registry's words, the window as calendar months)
CONVERTED = [
    ("OPPRESS", "clinical_benefit", OPPRESS,
     "Patients who had prior first-line chemotherapy with clinical benefit lasting for ≥3 months", {"months": 3}),
    ("OPPRESS", "other_malignancy", OPPRESS, "within the past 3 years", {"months": 36}),
    ("LDRT-IO", "other_studies", LDRT,
     "Patients who have participated in other clinical studies/trials within three months", {"months": 3}),
    ("LDRT-IO", "acquired_resistance", LDRT,
     "if the drug exposure time is more than 6 months, the tumor does not respond, and the acquired drug",
     {"months": 6}),
    ("HCC-OPD", "consecutive_scans", HCC, "on two consecutive evaluations (at least 2 months apart)",
     {"min_months": 2}),
    ("HCC-OPD", "early_progression", HCC, "Tumor progression within 3 months after first-line standard systemic therapy",
     {"months": 3}),
    ("HCC-OPD", "bleeding", HCC, "Active bleeding (e.g., hematemesis, hemoptysis) within 2 months before enrollment",
     {"months": 2}),
    ("HCC-OPD", "other_therapy", HCC,
     "Received any other antitumor drug therapy or local treatment within 3 months before", {"months": 3}),
    ("STOP-2", "systemic_benefit", STOP2,
     "The most recent systemic therapy agent must have been delivered for a total of at least 3 months",
     {"months": 3}),
    ("STOP-2", "response_persisted", STOP2,
     "There must be PR, CR or SD persisting for at least 3 months prior to the development of oligoprogressive lesions",
     {"months": 3}),
    ("STOP-2", "consecutive_scans", STOP2,
     "Progressive enlargement of a known metastasis on 2 consecutive imaging studies 2-3 months apart",
     {"min_months": 2, "max_months": 3}),
]

LENGTHS = ("days", "min_days", "max_days", "months", "min_months", "max_months")


@pytest.mark.parametrize(("trial", "name", "seed", "words", "expected"), CONVERTED,
                         ids=[f"{t}:{n}" for t, n, *_ in CONVERTED])
def test_each_window_the_registry_states_in_months_is_in_calendar_months(trial, name, seed, words, expected):
    quoted(seed, words)
    w = load_protocol(trial).windows[name]
    assert {k: getattr(w, k) for k in LENGTHS if getattr(w, k) is not None} == expected
    assert words.split("(")[0].strip()[:40] in w.source_text      # the registry text stays beside it
    assert "calendar month" in w.note and not re.search(r"\d+ days", w.note), w.note   # no day count left


def test_every_window_in_months_or_years_is_calendar_months_and_days_or_weeks_stay_days():
    seen = 0
    for p in list_protocols():
        for name, w in p.windows.items():
            text = w.source_text.lower()
            calendar = re.search(r"\b(months?|years?)\b", text) is not None
            in_months = any(getattr(w, k) is not None for k in ("months", "min_months", "max_months"))
            in_days = any(getattr(w, k) is not None for k in ("days", "min_days", "max_days"))
            assert calendar == in_months and calendar != in_days, (p.short_name, name, w.source_text)
            seen += calendar
    assert seen == len(CONVERTED)


@pytest.mark.parametrize("trial", ["STOP-2", "HCC-OPD"])
def test_the_consecutive_scans_rule_reads_the_same_months_as_its_window(trial):
    p = load_protocol(trial)
    w = p.windows["consecutive_scans"]
    rule = next(r for r in p.disease_state.rules if r["type"] == "consecutive_increase")
    assert (rule.get("interval_min_months"), rule.get("interval_max_months")) == (w.min_months, w.max_months)
    assert "interval_min_days" not in rule and "interval_max_days" not in rule


@pytest.mark.parametrize(("fields", "message"), [
    ({"days": 90, "months": 3}, "give days or months, not both (days=90, months=3)"),
    ({"min_days": 60, "min_months": 2}, "give min_days or min_months, not both"),
    ({"months": 3, "max_months": 3}, "not both"),
    ({}, "expected days, months, or a range"),
    ({"months": -1}, "greater than or equal to 0"),
])
def test_a_window_is_days_or_calendar_months_never_both(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Window(source_text="within 3 months", **fields)


# ---- verdicts at the boundary day ----------------------------------------------------------------

def criterion(trial: str, cid: str, rec: dict):
    result = screen_patient(parsed(rec), load_protocol(trial))
    return next(c for c in result.criteria if c.id == cid)


def att(*keys: str) -> list[dict]:
    return [{"key": k, "value": True, "by": "Dr A", "date": "2025-01-01"} for k in keys]


@pytest.mark.parametrize(("as_of", "since", "expected"), [
    ("2025-04-30", "2025-02-28", "met"),       # 2 months before 30 April: 28 February (61 days; 60 days said no)
    ("2025-04-30", "2025-02-27", "not_met"),
    ("2025-03-31", "2025-01-31", "met"),       # 2 months before 31 March: 31 January (59 days)
    ("2025-03-31", "2025-01-30", "not_met"),   # 60 days: inside "60 days", outside 2 calendar months
])
def test_hcc_ex06_bleeding_within_2_calendar_months_before_screening(as_of, since, expected):
    quoted(HCC, "Active bleeding (e.g., hematemesis, hemoptysis) within 2 months before enrollment;")
    rec = base(as_of=as_of, conditions=[{"name": "active_bleeding", "active": False, "since": since}])
    c = criterion("HCC-OPD", "HCC-EX-06", rec)
    assert c.verdict == expected, c.reason


@pytest.mark.parametrize(("progression", "expected"), [
    ("2025-04-30", "met"),       # start 31 January + 3 months = 30 April (89 days; "90 days" said no)
    ("2025-04-29", "not_met"),
])
def test_oppress_in04_benefit_lasting_3_calendar_months_from_31_january(progression, expected):
    quoted(OPPRESS, "Patients who had prior first-line chemotherapy with clinical benefit lasting for ≥3 months")
    rec = base(as_of="2025-06-01", systemic_therapy=[
        {"line": 1, "agents": ["carboplatin", "pemetrexed"], "classes": ["chemotherapy"], "start": "2025-01-31",
         "end": progression, "best_response": "SD", "progression_date": progression}])
    c = criterion("OPPRESS", "OPPRESS-IN-04", rec)
    assert c.verdict == expected, c.reason
    assert "3 months to 2025-04-30" in c.reason


@pytest.mark.parametrize(("progression", "expected"), [
    ("2025-03-01", "met"),       # start 31 August + 6 months = 28 February (181 days): 1 March is more than 6 months
    ("2025-02-28", "not_met"),   # exactly 6 months: not "more than" ("182 days" said no to 1 March too)
])
def test_ldrt_in10_acquired_resistance_after_more_than_6_calendar_months(progression, expected):
    quoted(LDRT, "if the drug exposure time is more than 6 months, the tumor does not respond, and the acquired drug")
    rec = base(as_of="2025-04-01", systemic_therapy=[
        {"line": 1, "agents": ["pembrolizumab"], "classes": ["immunotherapy"], "start": "2024-08-31",
         "end": progression, "best_response": "PR", "progression_date": progression}],
        attestations=att("no_clinical_symptom_improvement", "resistance_progression_reconfirmed",
                         "no_standard_treatment_options"))
    c = criterion("LDRT-IO", "LDRT-IN-10", rec)
    assert c.verdict == expected, c.reason


@pytest.mark.parametrize(("end", "expected"), [
    ("2025-02-28", "met"),       # 3 months before 31 May: 28 February (92 days; "90 days" said no)
    ("2025-02-27", "not_met"),
])
def test_ldrt_ex03_other_study_within_3_calendar_months(end, expected):
    quoted(LDRT, "Patients who have participated in other clinical studies/trials within three months.")
    rec = base(as_of="2025-05-31", studies=[{"name": "X-1", "interventional": True, "start": "2024-06-01",
                                             "end": end}])
    assert criterion("LDRT-IO", "LDRT-EX-03", rec).verdict == expected


@pytest.mark.parametrize(("since", "expected"), [
    ("2023-03-02", "met"),       # 3 years before 2 March 2026: 2 March 2023 (1096 days, a leap day between)
    ("2023-03-01", "not_met"),
])
def test_oppress_other_malignancy_within_the_past_3_years(since, expected):
    quoted(OPPRESS, "History of malignancy other than NSCLC or untreated primary malignancy within the past 3 years.")
    rec = base(as_of="2026-03-02", conditions=[{"name": "other_malignancy", "active": False, "since": since}])
    crit = next(c.id for c in load_protocol("OPPRESS").criteria if "within the past 3 years" in c.source_text)
    assert criterion("OPPRESS", crit, rec).verdict == expected


@pytest.mark.parametrize(("progression", "expected"), [
    ("2025-04-30", "met"),       # start 31 January + 3 months = 30 April (89 days; "90 days" said no)
    ("2025-04-29", "not_met"),
])
def test_stop2_in10_response_persisting_3_calendar_months(progression, expected):
    quoted(STOP2, "There must be PR, CR or SD persisting for at least 3 months prior to the development of "
                  "oligoprogressive lesions")
    rec = base(as_of="2025-06-01", systemic_therapy=[
        {"line": 1, "agents": ["x"], "classes": ["chemotherapy"], "start": "2025-01-31", "end": "2025-03-15",
         "best_response": "SD", "progression_date": progression}])
    c = criterion("STOP-2", "STOP2-IN-10", rec)
    assert c.verdict == expected, c.reason


@pytest.mark.parametrize(("progression", "expected"), [
    ("2025-04-30", "met"),
    ("2025-04-29", "not_met"),
])
def test_stop2_in08_agent_delivered_3_calendar_months(progression, expected):
    quoted(STOP2, "The most recent systemic therapy agent must have been delivered for a total of at least 3 months")
    rec = base(as_of="2025-06-01", systemic_therapy=[
        {"line": 1, "agents": ["x"], "classes": ["chemotherapy"], "start": "2025-01-31", "best_response": "SD",
         "progression_date": progression}])
    c = criterion("STOP-2", "STOP2-IN-08", rec)
    assert c.verdict == expected, c.reason


# ---- the consecutive-scans rules of the disease state ---------------------------------------------

LUNG = [{"id": "L1", "kind": "metastasis", "organ": "lung"}]
LINE = [{"line": 1, "agents": ["x"], "classes": ["chemotherapy"], "start": "2025-01-01", "best_response": "SD"}]


@pytest.mark.parametrize(("second", "third", "expected"), [
    ("2025-12-31", "2026-02-28", "progressing"),       # 2 months after 31 December: 28 February (59 days)
    ("2026-01-01", "2026-02-28", "not_progressing"),   # 58 days: less than 2 months
    ("2025-11-30", "2026-02-28", "progressing"),       # 3 months after 30 November: 28 February
    ("2025-12-01", "2026-03-02", "not_progressing"),   # 3 months end on 1 March: 2 March is later (91 days)
])
def test_stop2_rule3_two_studies_2_to_3_calendar_months_apart(second, third, expected):
    quoted(STOP2, "Progressive enlargement of a known metastasis on 2 consecutive imaging studies 2-3 months apart "
                  "with a minimum 5 mm increase in size from baseline")
    # 30 -> 32 -> 35 mm: rule (1) needs +20 % over the nadir 30 (36 mm), so only rule (3) can decide
    rec = lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 30}]),
                         (second, [{"lesion": "L1", "diameter_mm": 32}]),
                         (third, [{"lesion": "L1", "diameter_mm": 35}])], LUNG, lines=LINE, as_of="2026-03-02")
    les = evaluate_disease_state(parsed(rec), load_protocol("STOP-2").disease_state).lesions[0]
    assert les.status == expected, les
    if expected == "progressing":
        assert "consecutive" in les.rule


@pytest.mark.parametrize(("second", "third", "expected"), [
    ("2025-12-31", "2026-02-28", "progressing"),       # at least 2 months: 28 February is 2 months after 31 December
    ("2026-01-01", "2026-02-28", "not_progressing"),
])
def test_hcc_rule2_two_evaluations_at_least_2_calendar_months_apart(second, third, expected):
    quoted(HCC, "(2) The maximum diameter of a target lesion increases by more than 20% compared to baseline on two "
                "consecutive evaluations (at least 2 months apart), regardless of whether the absolute increase is >5 mm")
    # 20 -> 25 -> 25 mm: +25 % over baseline twice, +5 mm (rule (1) needs more than 5 mm)
    liver = [{"id": "L1", "kind": "metastasis", "organ": "liver"}]
    rec = lesion_record([("2024-12-20", [{"lesion": "L1", "diameter_mm": 20}]),
                         (second, [{"lesion": "L1", "diameter_mm": 25}]),
                         (third, [{"lesion": "L1", "diameter_mm": 25}])], liver, lines=LINE, as_of="2026-03-02")
    les = evaluate_disease_state(parsed(rec), load_protocol("HCC-OPD").disease_state).lesions[0]
    assert les.status == expected, les

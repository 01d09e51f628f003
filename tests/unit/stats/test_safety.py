"""Adverse-event summary on a hand-worked example: every expected count is worked out in the
comments beside the data."""

from __future__ import annotations

import pytest

from oligotrial.errors import AnalysisError
from oligotrial.stats import adverse_event_summary

ARMS = {"SABR": ["s1", "s2", "s3", "s4"], "8Gy": ["c1", "c2", "c3"], "Observation": ["o1", "o2"],
        "Empty": []}
EVENTS = [
    {"participant": "s1", "term": "Fatigue", "grade": 1, "serious": False},
    {"participant": "s1", "term": "Fatigue", "grade": 3, "serious": False},   # s1 Fatigue worst 3
    {"participant": "s1", "term": "Nausea", "grade": 2, "serious": False},
    {"participant": "s2", "term": "Fatigue", "grade": 2, "serious": False},
    {"participant": "s2", "term": "Pneumonitis", "grade": 5, "serious": True},  # fatal and serious
    {"participant": "s3", "term": "Nausea", "grade": 1, "serious": None},     # seriousness unknown
    # s4: no event
    {"participant": "c1", "term": "Fatigue", "grade": 1, "serious": False},
    {"participant": "c1", "term": "Fatigue", "grade": 1},                     # same term again: once;
                                                                              # no flag: seriousness unknown
    {"participant": "c2", "term": "Pneumonitis", "grade": 3, "serious": True},
    {"participant": "c2", "term": "Nausea", "grade": 1, "serious": None},     # unknown, but c2 is serious
    # c3, o1, o2: no event
]


def n_pct(summary_cell):
    return summary_cell["n"], summary_cell["pct"]


def test_per_arm_counts():
    out = adverse_event_summary(ARMS, EVENTS)["arms"]
    sabr = out["SABR"]
    # SABR, 4 participants: any AE s1, s2, s3 -> 3 (75 %); grade >= 3: s1 (3), s2 (5) -> 2 (50 %);
    # serious: s2 -> 1 (25 %); seriousness unknown: s3 -> 1; fatal: s2 -> 1 (25 %)
    assert sabr["participants"] == 4
    assert n_pct(sabr["any"]) == (3, 75.0)
    assert n_pct(sabr["grade_3_plus"]) == (2, 50.0)
    assert n_pct(sabr["serious"]) == (1, 25.0)
    assert n_pct(sabr["serious_unknown"]) == (1, 25.0)
    assert n_pct(sabr["fatal"]) == (1, 25.0)
    # worst grade over all terms: s1 3, s2 5, s3 1
    assert {g: c["n"] for g, c in sabr["worst_grade"].items()} == {
        "grade_1": 1, "grade_2": 0, "grade_3": 1, "grade_4": 0, "grade_5": 1}
    ctl = out["8Gy"]
    # 8Gy, 3 participants: any c1, c2 -> 2 (66.7 %); >= 3: c2 -> 1; serious c2 -> 1; unknown: c1
    # (an event without a flag) -> 1, c2's unknown Nausea does not count (c2 is serious); fatal 0
    assert ctl["any"]["n"] == 2 and ctl["any"]["pct"] == pytest.approx(200 / 3)
    assert (ctl["grade_3_plus"]["n"], ctl["serious"]["n"], ctl["serious_unknown"]["n"], ctl["fatal"]["n"]) == (
        1, 1, 1, 0)


def test_arms_without_events_are_listed_with_zeros_and_an_empty_arm_has_no_percentage():
    out = adverse_event_summary(ARMS, EVENTS)
    assert n_pct(out["arms"]["Observation"]["any"]) == (0, 0.0)
    assert n_pct(out["arms"]["Empty"]["any"]) == (0, None)
    for row in out["terms"]:
        assert set(row["arms"]) == set(ARMS)
        assert n_pct(row["arms"]["Observation"]["any"]) == (0, 0.0)


def test_term_table_counts_each_participant_once_at_the_worst_grade():
    terms = adverse_event_summary(ARMS, EVENTS)["terms"]
    # participants per term over all arms: Fatigue s1 s2 c1 = 3, Nausea s1 s3 c2 = 3,
    # Pneumonitis s2 c2 = 2 -> Fatigue, Nausea (tie, by name), Pneumonitis
    assert [r["term"] for r in terms] == ["Fatigue", "Nausea", "Pneumonitis"]
    fatigue = terms[0]["arms"]
    # SABR Fatigue: s1 worst 3 (grades 1 and 3), s2 worst 2 -> grade_2 1, grade_3 1, any 2, >=3 1
    assert [fatigue["SABR"][f"grade_{g}"]["n"] for g in range(1, 6)] == [0, 1, 1, 0, 0]
    assert (fatigue["SABR"]["any"]["n"], fatigue["SABR"]["grade_3_plus"]["n"]) == (2, 1)
    assert fatigue["SABR"]["any"]["pct"] == 50.0
    # 8Gy Fatigue: c1 twice at grade 1 -> counted once
    assert [fatigue["8Gy"][f"grade_{g}"]["n"] for g in range(1, 6)] == [1, 0, 0, 0, 0]
    assert fatigue["8Gy"]["any"]["n"] == 1
    pneumonitis = terms[2]["arms"]
    # SABR s2 grade 5; 8Gy c2 grade 3
    assert pneumonitis["SABR"]["grade_5"]["n"] == 1 and pneumonitis["SABR"]["grade_3_plus"]["n"] == 1
    assert pneumonitis["8Gy"]["grade_3"]["n"] == 1 and pneumonitis["8Gy"]["grade_3_plus"]["n"] == 1


def test_no_events_at_all():
    out = adverse_event_summary({"A": ["a1"]}, [])
    assert out["terms"] == [] and n_pct(out["arms"]["A"]["any"]) == (0, 0.0)


@pytest.mark.parametrize("arms,events,field", [
    ({"A": ["a1"], "B": ["a1"]}, [], "arms.B"),
    ({"A": ["a1"]}, [{"participant": "zz", "term": "Fatigue", "grade": 1}], "events[0].participant"),
    ({"A": ["a1"]}, [{"participant": "a1", "term": "Fatigue", "grade": 6}], "events[0].grade"),
    ({"A": ["a1"]}, [{"participant": "a1", "term": "Fatigue", "grade": True}], "events[0].grade"),
    ({"A": ["a1"]}, [{"participant": "a1", "grade": 2}], "events[0].term"),
    ({"A": ["a1"]}, [{"participant": "a1", "term": "Fatigue", "grade": 2, "serious": "yes"}], "events[0].serious"),
    ({}, [], "arms"),
])
def test_invalid_inputs_name_the_field(arms, events, field):
    with pytest.raises(AnalysisError) as info:
        adverse_event_summary(arms, events)
    assert info.value.field == field

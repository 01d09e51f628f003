"""QLQ-C30 scale scores (hand-worked from the scoring manual), EQ-5D-5L index values (published
values and the R package eq5d's examples) and change from baseline against R t.test
(tests/data/qol)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from oligotrial.domain.record.followup import QualityOfLife
from oligotrial.errors import AnalysisError
from oligotrial.stats import eq5d5l_index, qol_change_from_baseline, score_qlq_c30
from oligotrial.stats.qol import QLQ_C30_SCALES, eq5d5l_value_sets

DATA = Path(__file__).resolve().parents[2] / "data" / "qol"
DIMS = ("mobility", "self_care", "usual_activities", "pain_discomfort", "anxiety_depression")


def c30(**answers):
    return {f"q{k[1:]}": v for k, v in answers.items()}


# ---- QLQ-C30 --------------------------------------------------------------------------------------

def test_best_and_worst_answers_give_the_ends_of_the_scales():
    best = {f"q{i}": 1 for i in range(1, 29)} | {"q29": 7, "q30": 7}
    worst = {f"q{i}": 4 for i in range(1, 29)} | {"q29": 1, "q30": 1}
    sb, sw = score_qlq_c30(best), score_qlq_c30(worst)
    assert set(sb) == set(QLQ_C30_SCALES) and len(sb) == 15
    for scale, (kind, _items, _rng) in QLQ_C30_SCALES.items():
        high = kind in ("functional", "global")
        assert sb[scale] == pytest.approx(100.0 if high else 0.0), scale
        assert sw[scale] == pytest.approx(0.0 if high else 100.0), scale


def test_hand_worked_scores_and_the_half_items_rule():
    s = score_qlq_c30(c30(q1=1, q2=2, q3=2, q4=1, q5=3,    # PF2: RS 9/5 = 1.8 -> (1 - 0.8/3) x 100 = 73.33
                          q29=5, q30=4,                    # QL2: RS 4.5 -> 3.5/6 x 100 = 58.33
                          q10=2, q12=3,                    # FA: 2 of 3 answered, RS 2.5 -> 1.5/3 x 100 = 50
                          q6=2,                            # RF2: 1 of 2 (half) answered, RS 2 -> 66.67
                          q21=1,                           # EF: 1 of 4 answered (< half) -> missing
                          q20=4, q25=3,                    # CF: RS 3.5 -> (1 - 2.5/3) x 100 = 16.67
                          q8=3))                           # DY: RS 3 -> 2/3 x 100 = 66.67
    assert s["PF2"] == pytest.approx(100 * (1 - 0.8 / 3))
    assert s["QL2"] == pytest.approx(100 * 3.5 / 6)
    assert s["FA"] == pytest.approx(50.0)
    assert s["RF2"] == pytest.approx(100 * (1 - 1 / 3))
    assert s["EF"] is None
    assert s["CF"] == pytest.approx(100 * (1 - 2.5 / 3))
    assert s["DY"] == pytest.approx(200 / 3)
    # nothing answered: missing, never 0
    assert s["NV"] is None and s["SF"] is None and s["FI"] is None


def test_two_of_four_items_is_half_and_is_scored():
    # EF items 21-24: two answered (2 and 3) -> RS 2.5 -> (1 - 1.5/3) x 100 = 50
    assert score_qlq_c30(c30(q21=2, q23=3))["EF"] == pytest.approx(50.0)
    # PF2 has five items: two answered is less than half -> missing; three -> scored
    assert score_qlq_c30(c30(q1=1, q2=1))["PF2"] is None
    assert score_qlq_c30(c30(q1=1, q2=1, q3=4))["PF2"] == pytest.approx(100 * (1 - 1 / 3))


def test_record_entries_are_scored_by_their_item_codes():
    entry = QualityOfLife(date="2026-01-05", instrument="EORTC QLQ-C30", responses={"q29": 6, "q30": 6, "q8": 1})
    s = score_qlq_c30(entry.responses)
    assert s["QL2"] == pytest.approx(100 * 5 / 6) and s["DY"] == 0.0


@pytest.mark.parametrize("responses,field", [({"q31": 1}, "responses.q31"), ({"q29": 8}, "responses.q29"),
                                              ({"q1": 0}, "responses.q1")])
def test_invalid_c30_answers(responses, field):
    with pytest.raises(AnalysisError) as info:
        score_qlq_c30(responses)
    assert info.value.field == field


# ---- EQ-5D-5L -------------------------------------------------------------------------------------

def state(code: str) -> dict[str, int]:
    return dict(zip(DIMS, (int(c) for c in code)))


@pytest.mark.parametrize("value_set,code,expected", [
    # published extremes: Devlin et al. 2018 abstract (England: -0.285 to 0.950 for 11211);
    # US 55555 = -0.573 (Pickard et al. 2019)
    ("England", "11111", 1.0), ("England", "55555", -0.285), ("England", "11211", 0.950),
    ("US", "11111", 1.0), ("US", "55555", -0.573),
    # R package eq5d (fragla/eq5d tests/testthat/test-eq5d5l.R), an independent implementation
    ("England", "23245", 0.247), ("England", "11112", 0.922), ("England", "11121", 0.937),
    ("England", "12111", 0.950), ("England", "21111", 0.942),
    ("US", "21111", 0.904), ("US", "12111", 0.911), ("US", "11211", 0.932), ("US", "11121", 0.940),
    ("US", "11112", 0.943), ("US", "21354", 0.090),
])
def test_eq5d5l_index_published_values(value_set, code, expected):
    assert eq5d5l_index(state(code), value_set) == pytest.approx(expected, abs=5e-4)


def test_eq5d5l_worst_state_recorded_in_the_data_file_matches_the_coefficients():
    for name, vs in eq5d5l_value_sets().items():
        assert eq5d5l_index(state("55555"), name) == pytest.approx(vs["worst_state"], abs=5e-4)
        assert vs["citation"]


def test_eq5d5l_missing_dimension_is_unknown_and_vas_is_ignored():
    partial = state("11111")
    del partial["mobility"]
    assert eq5d5l_index(partial) is None
    assert eq5d5l_index(state("11111") | {"vas": 40}) == 1.0


@pytest.mark.parametrize("responses,value_set,field", [
    (state("11111"), "Narnia", "value_set"), ({"mobility": 6}, "England", "responses.mobility"),
    ({"walking": 1}, "England", "responses.walking")])
def test_invalid_eq5d5l(responses, value_set, field):
    with pytest.raises(AnalysisError) as info:
        eq5d5l_index(responses, value_set)
    assert info.value.field == field


# ---- change from baseline ------------------------------------------------------------------------

def _rows():
    with (DATA / "qol_change.csv").open() as fh:
        return [{**r, "score": float(r["score"]) if r["score"] else None} for r in csv.DictReader(fh)]


def test_change_from_baseline_equals_r_t_test():
    expected = json.loads((DATA / "qol_change.json").read_text())["rows"]
    got = qol_change_from_baseline(_rows())
    assert [(r["arm"], r["visit"]) for r in got] == [(r["arm"], r["visit"]) for r in expected]
    for g, e in zip(got, expected):
        for key in ("n", "mean", "sd", "lower", "upper", "n_change", "mean_change", "sd_change", "change_lower",
                    "change_upper"):
            if e.get(key) is None:
                assert g[key] is None, (g["arm"], g["visit"], key)
            else:
                assert g[key] == pytest.approx(e[key], abs=1e-9), (g["arm"], g["visit"], key)
    assert got[0]["visit"] == "baseline" and got[0]["mean_change"] is None


def test_change_from_baseline_scores_record_responses():
    rows = [{"participant": "p1", "arm": "A", "visit": "baseline", "responses": {"q29": 4, "q30": 4}},
            {"participant": "p1", "arm": "A", "visit": "week_6", "responses": {"q29": 7, "q30": 7}},
            {"participant": "p2", "arm": "A", "visit": "baseline", "responses": {"q29": 1, "q30": 1}},
            {"participant": "p2", "arm": "A", "visit": "week_6", "responses": {"q8": 2}}]  # QL2 missing
    out = qol_change_from_baseline(rows, instrument="EORTC QLQ-C30", scale="QL2")
    # p1: QL2 50 -> 100 (change +50); p2: 0 at baseline, QL2 unanswered at week 6
    assert out[0]["mean"] == pytest.approx(25.0) and out[0]["n"] == 2
    assert (out[1]["n"], out[1]["mean"], out[1]["n_change"], out[1]["mean_change"]) == (1, 100.0, 1, 50.0)
    eq = [{"participant": "p1", "arm": "A", "visit": "baseline", "responses": state("11111")},
          {"participant": "p1", "arm": "A", "visit": "m3", "responses": state("23245")}]
    out = qol_change_from_baseline(eq, instrument="EQ-5D-5L", scale="index")
    assert out[1]["mean_change"] == pytest.approx(0.247 - 1.0)


def test_visit_order_is_respected():
    out = qol_change_from_baseline(_rows(), visit_order=["baseline", "month_6", "month_3"])
    assert [r["visit"] for r in out[:3]] == ["baseline", "month_6", "month_3"]


@pytest.mark.parametrize("rows,kwargs,field", [
    ([{"participant": "p", "arm": "A", "visit": "baseline", "score": 1},
      {"participant": "p", "arm": "A", "visit": "baseline", "score": 2}], {}, "rows[1].visit"),
    ([{"participant": "p", "arm": "A", "visit": "baseline", "score": 1},
      {"participant": "p", "arm": "B", "visit": "m3", "score": 2}], {}, "rows[1].arm"),
    ([{"participant": "p", "arm": "A", "visit": "baseline", "score": "high"}], {}, "rows[0].score"),
    ([{"participant": "p", "arm": "A", "visit": "baseline"}], {}, "rows[0].score"),
    ([{"arm": "A", "visit": "baseline", "score": 1}], {}, "rows[0].participant"),
    ([], {"instrument": "FACT-L", "scale": "total"}, "instrument"),
    ([], {"instrument": "EORTC QLQ-C30", "scale": "XX"}, "scale"),
    ([{"participant": "p", "arm": "A", "visit": "m9", "score": 1}], {"visit_order": ["baseline"]}, "visit_order"),
])
def test_invalid_rows(rows, kwargs, field):
    with pytest.raises(AnalysisError) as info:
        qol_change_from_baseline(rows, **kwargs)
    assert info.value.field == field

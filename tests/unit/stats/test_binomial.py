"""Response proportions against R (tests/data/binomial: binom.test, prop.test, fisher.test and
Newcombe's method 10 computed in R from the Wilson intervals)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.errors import AnalysisError
from oligotrial.stats import binomial as b
from oligotrial.stats import response_rates

REF = json.loads((Path(__file__).resolve().parents[2] / "data" / "binomial" /
                  "binomial_reference.json").read_text())


@pytest.mark.parametrize("row", REF["clopper_pearson"], ids=lambda r: f"{r['x']}/{r['n']}")
def test_clopper_pearson_equals_r_binom_test(row):
    lower, upper = b.proportion_ci(row["x"], row["n"])
    assert lower == pytest.approx(row["lower"], abs=1e-9)
    assert upper == pytest.approx(row["upper"], abs=1e-9)


@pytest.mark.parametrize("row", REF["clopper_pearson_90"], ids=lambda r: f"{r['x']}/{r['n']}")
def test_clopper_pearson_other_level(row):
    assert b.proportion_ci(row["x"], row["n"], conf=0.9) == pytest.approx((row["lower"], row["upper"]), abs=1e-9)


def test_clopper_pearson_edges_are_exactly_zero_and_one():
    assert b.proportion_ci(0, 20)[0] == 0.0
    assert b.proportion_ci(20, 20)[1] == 1.0


@pytest.mark.parametrize("row", REF["wilson"], ids=lambda r: f"{r['x']}/{r['n']}")
def test_wilson_equals_r_prop_test_without_correction(row):
    assert b.wilson_ci(row["x"], row["n"]) == pytest.approx((row["lower"], row["upper"]), abs=1e-9)


@pytest.mark.parametrize("row", REF["two_arm"], ids=lambda r: f"{r['x1']}/{r['n1']}-{r['x2']}/{r['n2']}")
def test_newcombe_difference_and_fisher_equal_r(row):
    d, lower, upper = b.newcombe_difference(row["x1"], row["n1"], row["x2"], row["n2"])
    assert (d, lower, upper) == pytest.approx((row["difference"], row["lower"], row["upper"]), abs=1e-9)
    assert b.fisher_exact_p(row["x1"], row["n1"], row["x2"], row["n2"]) == pytest.approx(row["fisher_p"],
                                                                                           rel=1e-9)


def test_newcombe_example_a_to_four_decimals():
    # Newcombe 1998 example (a): 56/70 vs 48/80, method 10 -> +0.2000 (0.0524, 0.3339)
    d, lower, upper = b.newcombe_difference(56, 70, 48, 80)
    assert (round(d, 4), round(lower, 4), round(upper, 4)) == (0.2, 0.0524, 0.3339)


def test_response_rates_per_arm_and_against_the_reference():
    out = response_rates({"SABR": (30, 97), "8Gy": (18, 97)}, reference="8Gy")
    sabr = out["arms"]["SABR"]
    assert (sabr["n"], sabr["responders"]) == (97, 30)
    assert sabr["rate"] == pytest.approx(30 / 97)
    assert (sabr["lower"], sabr["upper"]) == b.proportion_ci(30, 97)
    comp = out["comparisons"]["SABR"]
    ref = next(r for r in REF["two_arm"] if (r["x1"], r["n1"], r["x2"], r["n2"]) == (30, 97, 18, 97))
    assert comp["versus"] == "8Gy"
    assert (comp["difference"], comp["lower"], comp["upper"]) == pytest.approx(
        (ref["difference"], ref["lower"], ref["upper"]), abs=1e-9)
    assert comp["fisher_p"] == pytest.approx(ref["fisher_p"], rel=1e-9)
    assert "8Gy" not in out["comparisons"]
    assert "Newcombe" in out["methods"]["difference"]


def test_response_rates_without_reference_compares_nothing():
    out = response_rates({"single": (12, 40)})
    assert out["comparisons"] == {} and out["reference"] is None
    assert out["arms"]["single"]["lower"] == pytest.approx(REF["clopper_pearson"][0]["lower"], abs=1e-9)


def test_an_empty_arm_is_unknown_not_zero():
    out = response_rates({"A": (0, 0), "B": (3, 10)}, reference="B")
    assert out["arms"]["A"]["rate"] is None and out["arms"]["A"]["lower"] is None
    assert out["comparisons"]["A"]["difference"] is None


@pytest.mark.parametrize("kwargs,field", [
    ({"responders_by_arm": {"A": (5, 3)}}, "responders_by_arm.A"),
    ({"responders_by_arm": {"A": (-1, 3)}}, "responders_by_arm.A"),
    ({"responders_by_arm": {"A": (1.5, 3)}}, "responders_by_arm.A"),
    ({"responders_by_arm": {"A": (1,)}}, "responders_by_arm.A"),
    ({"responders_by_arm": {"A": (1, 3)}, "reference": "B"}, "reference"),
    ({"responders_by_arm": {"A": (1, 3)}, "conf": 1.2}, "conf"),
    ({"responders_by_arm": {}}, "responders_by_arm"),
])
def test_invalid_inputs_name_the_field(kwargs, field):
    with pytest.raises(AnalysisError) as info:
        response_rates(**kwargs)
    assert info.value.field == field
    assert info.value.code == "analysis_invalid"


def test_tally_responses_states_its_rule_for_unknown_responses():
    values = {"SABR": [True, True, False, None, None], "8Gy": [False, True, None]}
    itt, unknown = b.tally_responses(values, unknown="non_responder")
    # non-responder rule: unknowns stay in the denominator -> SABR 2/5, 8Gy 1/3
    assert itt == {"SABR": (2, 5), "8Gy": (1, 3)} and unknown == {"SABR": 2, "8Gy": 1}
    evaluable, _ = b.tally_responses(values, unknown="exclude")
    # exclude rule: evaluable participants only -> SABR 2/3, 8Gy 1/2
    assert evaluable == {"SABR": (2, 3), "8Gy": (1, 2)}
    assert response_rates(evaluable, reference="8Gy")["arms"]["SABR"]["rate"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("values,kwargs,field", [
    ({"A": [True]}, {"unknown": "zero"}, "unknown"),
    ({"A": [True, 1]}, {"unknown": "exclude"}, "values_by_arm.A"),
    ({"A": ["yes"]}, {"unknown": "exclude"}, "values_by_arm.A"),
])
def test_tally_responses_rejects_what_it_cannot_count(values, kwargs, field):
    with pytest.raises(AnalysisError) as info:
        b.tally_responses(values, **kwargs)
    assert info.value.field == field

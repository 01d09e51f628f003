"""``analyse_survival`` against R ``survival`` 3.5-3 (every field of ``oligotrial.survival-analysis/1``,
``tests/data/r_survival/``), against lifelines where lifelines computes the same thing, and its
row checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oligotrial.errors import AnalysisError
from oligotrial.stats import analyse_survival, read_survival_csv, subgroup_hazard_ratios
from oligotrial.stats.survival_km import kaplan_meier

DATA = Path(__file__).resolve().parents[2] / "data" / "r_survival"
REF = json.loads((DATA / "reference.json").read_text())
CASES = {c["id"]: c for c in REF["cases"]}

#: the fields the format defines (shared/formats/survival-analysis.md); conf_type is the project's
TOP = {"format", "conf_type", "groups", "logrank", "stratified_logrank", "cox"}
GROUP = {"group", "n", "events", "median", "survival_at", "rmst"}
#: fields the project adds (issue 25 item 9), checked against R in test_survival_tail.py
ADDED_TOP = {"median_follow_up"}
ADDED_GROUP = {"survival_at_reportable", "median_n_at_risk", "median_few_at_risk", "median_follow_up"}


def assert_matches(ours, ref, path="doc", rel=1e-6, abs_=1e-9):
    """Every field of ``ref`` in ``ours``: numbers to ``rel`` (``abs_`` near 0), nulls as nulls."""
    if isinstance(ref, dict):
        for key, value in ref.items():
            assert key in ours, f"{path}.{key} missing"
            assert_matches(ours[key], value, f"{path}.{key}", rel, abs_)
    elif isinstance(ref, list):
        assert isinstance(ours, list) and len(ours) == len(ref), f"{path}: {ours!r} vs {ref!r}"
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert_matches(a, b, f"{path}[{i}]", rel, abs_)
    elif ref is None:
        assert ours is None, f"{path}: {ours!r}, R gives null"
    elif isinstance(ref, (int, float)) and not isinstance(ref, bool):
        assert ours is not None and ours == pytest.approx(ref, rel=rel, abs=abs_), f"{path}: {ours!r} vs R {ref!r}"
    else:
        assert ours == ref, f"{path}: {ours!r} vs R {ref!r}"


def run_case(case: dict) -> dict:
    a = case["args"]
    data = read_survival_csv(DATA / case["file"], time=a["time"], event=a["event"], group=a["group"],
                             strata=a["strata"])
    return analyse_survival(data.time, data.event, data.group, strata=data.strata, at=a["at"], tau=a["tau"],
                            reference=a["reference"], conf_type=a["conf_type"],
                            strata_name=a["strata"] or "strata")


@pytest.mark.parametrize("case_id", list(CASES))
def test_every_field_equals_r(case_id):
    case = CASES[case_id]
    doc = run_case(case)
    assert set(doc) == TOP | ADDED_TOP
    assert all(set(g) == GROUP | ADDED_GROUP for g in doc["groups"])
    assert_matches(doc, case["expected"], case_id)


def test_the_reference_covers_the_edge_cases_it_claims():
    """The data sets hold what the README says they test (so that a regenerated file cannot lose it)."""
    exp = {k: c["expected"] for k, c in CASES.items()}
    rx2 = exp["ovarian_rx"]["groups"][1]
    assert rx2["median"]["estimate"] is None and rx2["median"]["lower"] is not None
    assert exp["veteran_celltype"]["logrank"]["df"] == 3
    assert exp["veteran_trt_strata"]["cox"]["stratified_by"] == "celltype"
    assert exp["lung_days_ecog_loglog"]["conf_type"] == "log-log"
    flat = {g["group"]: g["median"]["estimate"] for g in exp["flat_half"]["groups"]}
    assert flat == {"A": 3, "B": 3.5}        # midpoint with the last time; midpoint with the next event
    assert exp["ovarian_single"]["logrank"] is None and exp["ovarian_single"]["cox"] is None
    months = pd.read_csv(DATA / "lung_months.csv")["months"]
    assert months.nunique() < len(months) / 5                     # heavy ties


def test_the_example_shape_of_the_format():
    doc = run_case(CASES["spec_example"])
    assert [g["group"] for g in doc["groups"]] == ["soc", "sbrt"]
    assert doc["cox"]["reference"] == "soc" and [t["group"] for t in doc["cox"]["terms"]] == ["sbrt"]
    assert doc["stratified_logrank"] is None and doc["cox"]["stratified_by"] is None
    assert doc["groups"][0]["median"]["upper"] is None


def test_groups_are_listed_reference_first_then_sorted_as_strings():
    doc = analyse_survival([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1], ["b", "B", "a", "b", "a", "B"],
                           reference="b")
    assert [g["group"] for g in doc["groups"]] == ["b", "B", "a"]
    assert [t["group"] for t in doc["cox"]["terms"]] == ["B", "a"]
    assert [g["group"] for g in analyse_survival([1, 2], [1, 1], ["10", "9"])["groups"]] == ["10", "9"]


def test_without_at_or_tau():
    doc = analyse_survival([1, 2, 3], [1, 0, 1], ["x", "x", "y"])
    assert all(g["survival_at"] == [] and g["rmst"] is None for g in doc["groups"])


def test_subgroup_hazard_ratios_equal_r_coxph_on_each_subset():
    v = pd.read_csv(DATA / "veteran.csv")
    rows = subgroup_hazard_ratios(v.days, v.status, v.trt, {"celltype": v.celltype, "prior": v.prior},
                                  reference="standard")
    ref = REF["subgroups"]["rows"]
    assert [(r["variable"], r["level"]) for r in rows] == [(r["variable"], r["level"]) for r in ref]
    assert all(r["group"] == "test" for r in rows)
    assert_matches(rows, ref, "subgroups")


def test_subgroup_without_a_comparison_is_null():
    rows = subgroup_hazard_ratios([1, 2, 3, 4], [1, 1, 1, 0], ["a", "b", "a", "b"], {"site": ["x", "x", "y", "y"]})
    y = next(r for r in rows if r["level"] == "y")          # group b has no event there
    assert y["hazard_ratio"] is None and y["n"] == 2 and y["events"] == 1


# ---- lifelines, where it computes the same thing --------------------------------------------

def test_kaplan_meier_and_log_log_ci_equal_lifelines():
    from lifelines import KaplanMeierFitter

    df = pd.read_csv(DATA / "lung_days.csv")
    km = kaplan_meier(df.days, df.dead, conf_type="log-log")
    kmf = KaplanMeierFitter().fit(df.days, df.dead)
    np.testing.assert_allclose(kmf.survival_function_.loc[km.time].to_numpy().ravel(), km.surv, rtol=1e-12)
    ci = kmf.confidence_interval_.loc[km.time].to_numpy()
    ok = np.isfinite(km.lower)
    np.testing.assert_allclose(ci[ok, 0], km.lower[ok], rtol=1e-12)
    np.testing.assert_allclose(ci[ok, 1], km.upper[ok], rtol=1e-12)


@pytest.mark.parametrize("case_id", ["veteran_celltype", "waltons", "lung_months"])
def test_logrank_equals_lifelines(case_id):
    from lifelines.statistics import multivariate_logrank_test

    a = CASES[case_id]["args"]
    df = pd.read_csv(DATA / CASES[case_id]["file"])
    ref = multivariate_logrank_test(df[a["time"]], df[a["group"]].astype(str), df[a["event"]])
    ours = analyse_survival(df[a["time"]], df[a["event"]], df[a["group"]])["logrank"]
    assert ours["chisq"] == pytest.approx(ref.test_statistic, rel=1e-10)
    assert ours["p"] == pytest.approx(ref.p_value, rel=1e-8)


def test_logrank_equals_the_package_logrank_test_stratified_and_tied():
    from oligotrial.stats import logrank_test

    rng = np.random.default_rng(7)
    n = 5000
    t = rng.integers(0, 60, n).astype(float)
    e = rng.random(n) < 0.7
    g = rng.choice(["a", "b", "c"], n)
    s = rng.choice(["s1", "s2"], n)
    doc = analyse_survival(t, e, g, strata=s)
    assert doc["logrank"]["chisq"] == pytest.approx(logrank_test(t, e, g).statistic, rel=1e-10)
    assert doc["stratified_logrank"]["chisq"] == pytest.approx(logrank_test(t, e, g, s).statistic, rel=1e-10)


def test_cox_efron_with_heavy_ties_equals_lifelines():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(11)
    n = 20_000
    g = rng.choice(["ctl", "exp1", "exp2"], n)
    hr = np.where(g == "exp1", 0.7, np.where(g == "exp2", 1.3, 1.0))
    t = np.ceil(rng.exponential(12.0 / hr))              # whole months: heavy ties
    c = np.ceil(rng.uniform(0, 36, n))
    e = t <= c
    t = np.minimum(t, c)
    doc = analyse_survival(t, e, g)
    X = pd.DataFrame({"T": t, "E": e.astype(int), "exp1": (g == "exp1") * 1.0, "exp2": (g == "exp2") * 1.0})
    fit = CoxPHFitter().fit(X, "T", "E")                  # Efron is lifelines' only ties method
    for term in doc["cox"]["terms"]:
        assert term["hazard_ratio"] == pytest.approx(fit.hazard_ratios_[term["group"]], rel=1e-5)
        lo, hi = np.exp(fit.confidence_intervals_.loc[term["group"]])
        assert (term["lower"], term["upper"]) == pytest.approx((lo, hi), rel=1e-5)


def test_cox_stratified_equals_lifelines_strata():
    from lifelines import CoxPHFitter

    v = pd.read_csv(DATA / "veteran.csv")
    doc = analyse_survival(v.days, v.status, v.trt, strata=v.celltype)
    X = pd.DataFrame({"T": v.days, "E": v.status, "test": (v.trt == "test") * 1.0, "s": v.celltype})
    fit = CoxPHFitter().fit(X, "T", "E", strata=["s"])
    assert doc["cox"]["terms"][0]["hazard_ratio"] == pytest.approx(fit.hazard_ratios_["test"], rel=1e-5)


# ---- invariants ------------------------------------------------------------------------------

@pytest.mark.parametrize("conf_type", ["log", "log-log"])
def test_curve_invariants(conf_type):
    rng = np.random.default_rng(3)
    km = kaplan_meier(rng.integers(0, 50, 2000), rng.random(2000) < 0.6, conf_type=conf_type)
    assert np.all((km.surv >= 0) & (km.surv <= 1)) and np.all(np.diff(km.surv) <= 0)
    ok = np.isfinite(km.lower)
    assert np.all(km.lower[ok] <= km.surv[ok] + 1e-15) and np.all(km.upper[ok] >= km.surv[ok] - 1e-15)
    assert np.all(km.upper[ok] <= 1.0)


# ---- bad rows and options --------------------------------------------------------------------

def _rows():
    return {"time": [1.0, 2.0, 3.0, 4.0], "event": [1, 0, 1, 1], "group": ["a", "b", "a", "b"]}


@pytest.mark.parametrize("column,index,value,words", [
    ("time", 2, -1.0, "negative time"),
    ("time", 0, None, "missing value"),
    ("time", 1, float("nan"), "missing value"),
    ("time", 3, "soon", "not a number"),
    ("time", 1, float("inf"), "not a finite number"),
    ("event", 1, 2, "event"),
    ("event", 0, None, "missing value"),
    ("event", 3, "yes", "event"),
    ("group", 2, None, "missing value"),
    ("group", 1, "", "missing value"),
    ("group", 0, "NA", "missing value"),
])
def test_a_bad_row_names_row_and_column(column, index, value, words):
    rows = _rows()
    rows[column] = list(rows[column])
    rows[column][index] = value
    with pytest.raises(AnalysisError) as err:
        analyse_survival(rows["time"], rows["event"], rows["group"])
    assert err.value.row == index + 1 and err.value.field == column
    assert f"row {index + 1}, column {column!r}" in err.value.message and words in err.value.message
    assert err.value.code == "analysis_invalid"


def test_a_missing_stratum_names_row_and_column():
    with pytest.raises(AnalysisError, match=r"row 4, column 'strata'"):
        analyse_survival(**_rows(), strata=["x", "y", "x", None])


def test_the_csv_reader_names_the_csv_column(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("months,dead,arm\n1,1,soc\n2,0,sbrt\n,1,soc\n")
    with pytest.raises(AnalysisError) as err:
        read_survival_csv(f, time="months", event="dead", group="arm")
    assert err.value.row == 3 and err.value.field == "months"
    with pytest.raises(AnalysisError, match="no column 'arms'"):
        read_survival_csv(f, time="months", event="dead", group="arms")


@pytest.mark.parametrize("kwargs,field", [
    ({"reference": "z"}, "reference"), ({"conf_type": "plain"}, "conf_type"),
    ({"at": [-1]}, "at"), ({"tau": 0}, "tau"), ({"tau": float("nan")}, "tau"),
])
def test_bad_options(kwargs, field):
    with pytest.raises(AnalysisError) as err:
        analyse_survival(**_rows(), **kwargs)
    assert err.value.field == field


def test_a_column_of_the_wrong_length():
    with pytest.raises(AnalysisError, match="expected 4"):
        analyse_survival([1, 2, 3, 4], [1, 0, 1, 1], ["a", "b"])


def test_a_likelihood_without_finite_maximum_gives_no_hazard_ratio():
    # group "10" has the only event while both are at risk; "9" fails alone: beta -> -infinity
    cox = analyse_survival([1, 2], [1, 1], ["10", "9"])["cox"]
    assert cox["terms"] == [{"group": "9", "hazard_ratio": None, "lower": None, "upper": None, "p": None}]
    assert "no estimate" in cox["note"]
    # "7" fails alone, "b" fails with only "7" beside it: both coefficients drift to infinity
    # (R: "Ran out of iterations and did not converge", coefficients 40.7 and 20.5 where it stopped)
    drift = analyse_survival([1, 2, 3, 4], [1, 0, 1, 1], ["a", "a", "b", "7"])["cox"]
    assert all(t["hazard_ratio"] is None for t in drift["terms"]) and "no estimate" in drift["note"]
    edge = run_case(CASES["edge_cases"])["cox"]
    assert "no events in group 'b'" in edge["note"]


def test_stratified_counts_equal_the_sum_over_strata():
    """The stratified risk table (one sort) gives the same U and V as one table per stratum."""
    from oligotrial.stats.survival_cox import logrank_from_table, risk_table

    rng = np.random.default_rng(5)
    n = 3000
    t = rng.integers(0, 40, n).astype(float)
    e = rng.random(n) < 0.6
    g = rng.integers(0, 3, n)
    s = rng.integers(0, 4, n)
    o = np.argsort(t, kind="stable")
    whole = logrank_from_table(risk_table(t[o], e[o], g[o], 3, s[o]))
    obs = np.zeros(3)
    exp_ = np.zeros(3)
    for k in range(4):
        m = s[o] == k
        part = logrank_from_table(risk_table(t[o][m], e[o][m], g[o][m], 3))
        obs += part["observed"]
        exp_ += part["expected"]
    np.testing.assert_allclose(whole["observed"], obs)
    np.testing.assert_allclose(whole["expected"], exp_, rtol=1e-12)


RANDOM = json.loads((DATA / "random.json").read_text())


def _close(a, b, rel=1e-9):
    return (a is None and b is None) or (a is not None and b is not None and a == pytest.approx(b, rel=rel, abs=1e-12))


def test_kaplan_meier_quantities_equal_r_on_300_random_tied_data_sets():
    """Median and CI (quantile.survfit), survival at times (summary, extend=TRUE) and RMST with SE
    (survmean) on small data with heavy ties, both CI transforms (make_random.R)."""
    from oligotrial.stats.survival_km import km_median, restricted_mean, survival_at

    wrong = []
    for i, c in enumerate(RANDOM["km"]):
        km = kaplan_meier(c["time"], c["event"], conf_type=c["conf_type"])
        m = km_median(km)
        rm = restricted_mean(km, c["tau"])
        sa = survival_at(km, c["at"])
        ok = all(_close(a, b) for a, b in zip((m["estimate"], m["lower"], m["upper"]), c["median"]))
        ok &= _close(rm["estimate"], c["rmst"][0]) and _close(rm["se"], c["rmst"][1])
        ok &= all(_close(x["estimate"], s) and _close(x["lower"], lo) and _close(x["upper"], up)
                  for x, s, lo, up in zip(sa, c["surv"], c["lower"], c["upper"]))
        if not ok:
            wrong.append(i)
    assert wrong == []


def test_logrank_and_cox_equal_r_on_random_grouped_data_sets():
    wrong = []
    for i, c in enumerate(RANDOM["tests"]):
        doc = analyse_survival(c["time"], c["event"], c["group"], strata=c["strata"])
        hr = np.atleast_1d(c["hr"])
        shr = np.atleast_1d(c["strat_hr"])
        ok = doc["logrank"]["chisq"] == pytest.approx(c["chisq"], rel=1e-9, abs=1e-12)
        ok &= doc["stratified_logrank"]["chisq"] == pytest.approx(c["strat_chisq"], rel=1e-9, abs=1e-12)
        unstrat = analyse_survival(c["time"], c["event"], c["group"])["cox"]["terms"]
        ok &= all(t["hazard_ratio"] == pytest.approx(h, rel=1e-6) for t, h in zip(unstrat, hr))
        ok &= all(t["hazard_ratio"] == pytest.approx(h, rel=1e-6) for t, h in zip(doc["cox"]["terms"], shr))
        if not ok:
            wrong.append(i)
    assert wrong == []


def test_labels_are_stripped_and_merged():
    doc = analyse_survival([1, 2, 3, 4], [1, 0, 1, 1], [" a", "a", "b ", 7])
    assert [(g["group"], g["n"]) for g in doc["groups"]] == [("7", 1), ("a", 2), ("b", 1)]


def test_no_rows_and_a_csv_with_a_byte_order_mark(tmp_path):
    with pytest.raises(AnalysisError, match="no data rows"):
        analyse_survival([], [], [])
    f = tmp_path / "bom.csv"
    f.write_bytes("\ufeffmonths,dead,arm\n1,1,soc\n2,0,sbrt\n".encode("utf-8"))
    assert read_survival_csv(f, time="months", event="dead", group="arm").time.tolist() == [1.0, 2.0]
    f.write_text("months,dead,arm\n")
    with pytest.raises(AnalysisError, match="no data rows"):
        read_survival_csv(f, time="months", event="dead", group="arm")

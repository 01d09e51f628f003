"""The report's tail of a survival analysis (issue 25 item 9, issue 26 item 6): median follow-up
by the reverse Kaplan-Meier method, survival at a time only where someone is at risk, a median
resting on few participants, where a Kaplan-Meier plot is cut, and degenerate data (every event
at one time, no event, one group) answered without an error.

R references: ``tests/data/r_survival/follow_up.json``, made by ``make_follow_up.R`` (its
output in ``make_follow_up.out``; R 4.2.2, survival 3.5-3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oligotrial.stats import analyse_survival, read_survival_csv
from oligotrial.stats.survival_km import curve_cut, kaplan_meier

DATA = Path(__file__).resolve().parents[2] / "data" / "r_survival"
REF = {c["id"]: c for c in json.loads((DATA / "reference.json").read_text())["cases"]}
FOLLOW = json.loads((DATA / "follow_up.json").read_text())


def _close(ours, r):
    if r is None:
        return ours is None
    return ours is not None and ours == pytest.approx(r, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", FOLLOW["cases"], ids=lambda c: c["id"])
def test_median_follow_up_and_numbers_at_risk_equal_r(case):
    """Schemper & Smith 1996: median follow-up is the Kaplan-Meier median of the time to censoring
    ("reversing the status indicator"); R: quantile(survfit(Surv(time, 1 - status) ~ 1), 0.5).
    Numbers at risk: R's summary(fit, times, extend = TRUE)$n.risk."""
    a = REF[case["id"]]["args"]
    data = read_survival_csv(DATA / REF[case["id"]]["file"], time=a["time"], event=a["event"], group=a["group"])
    doc = analyse_survival(data.time, data.event, data.group, at=a["at"], conf_type=a["conf_type"],
                           reference=a["reference"])
    for key in ("estimate", "lower", "upper"):
        assert _close(doc["median_follow_up"][key], case["median_follow_up"][key]), key
    ours = {g["group"]: g for g in doc["groups"]}
    for r in case["groups"]:
        g = ours[r["group"]]
        for key in ("estimate", "lower", "upper"):
            assert _close(g["median_follow_up"][key], r["median_follow_up"][key]), (r["group"], key)
        # survival_at is sorted by time, as R's summary; the R list follows the same sorted `at`
        assert [x["n_at_risk"] for x in g["survival_at_reportable"]] == r["n_at_risk"]
        assert [x["time"] for x in g["survival_at_reportable"]] == [x["time"] for x in g["survival_at"]]
        assert g["median_n_at_risk"] == r["median_n_at_risk"]


def test_survival_beyond_follow_up_is_not_reportable_but_survival_at_keeps_rs_meaning():
    """Issue 25: "Survival at 12 months prints 0.000 (NR-NR) where nobody was followed to 12
    months". Group a: the last participant followed (to 10) dies, so the curve ends at 0; group b
    ends censored at 9. survival_at keeps R's extend = TRUE values (0 and the last value); beside
    it, at 12 no one is at risk in either group: not reportable."""
    time = [2, 4, 6, 8, 10, 3, 5, 7, 9]
    event = [1, 0, 1, 0, 1, 1, 0, 1, 0]
    group = ["a"] * 5 + ["b"] * 4
    doc = analyse_survival(time, event, group, at=[6, 12])
    a, b = doc["groups"]
    assert a["survival_at"][1]["estimate"] == 0.0                      # R: summary(extend=TRUE) 0
    assert b["survival_at"][1]["estimate"] == pytest.approx(0.75 * 0.5)   # 3/4 at 3, 1/2 at 7
    for g in (a, b):
        six, twelve = g["survival_at_reportable"]
        assert six["reportable"] and six["reason"] is None
        assert (twelve["n_at_risk"], twelve["reportable"], twelve["reason"]) == (
            0, False, "not estimable (no one at risk)")
    assert a["survival_at_reportable"][0]["n_at_risk"] == 3            # 6, 8, 10 still followed at 6


def test_survival_zero_is_reportable_when_everyone_had_the_event():
    """No one censored: S(t) = 0 after the last event is the observed proportion, not a guess."""
    doc = analyse_survival([1, 2, 3, 1, 2, 4], [1] * 6, ["a"] * 3 + ["b"] * 3, at=[12])
    for g in doc["groups"]:
        x = g["survival_at_reportable"][0]
        assert g["survival_at"][0]["estimate"] == 0.0 and x["n_at_risk"] == 0 and x["reportable"]


def test_a_median_reached_where_few_are_at_risk_is_labelled():
    """The demo's palliative OS median rested on one death: 20 participants, 9 censored early,
    the median crossed at the death of the last one followed. median_n_at_risk is 1 (< 10 % of
    20), so median_few_at_risk; a median reached with many at risk is not labelled."""
    time = [1, 2, 3] + [4] * 16 + [10]
    event = [1, 1, 1] + [0] * 16 + [1]
    many = analyse_survival(list(range(1, 21)), [1] * 20, ["c"] * 20)["groups"][0]
    few = analyse_survival(time, event, ["c"] * 20)["groups"][0]
    assert few["median"]["estimate"] == 10 and few["median_n_at_risk"] == 1 and few["median_few_at_risk"] is True
    assert many["median"]["estimate"] == 10.5 and many["median_n_at_risk"] == 10 and many["median_few_at_risk"] is False
    none = analyse_survival([1, 2], [0, 0], ["c", "c"])["groups"][0]
    assert none["median_n_at_risk"] is None and none["median_few_at_risk"] is None


def test_the_plot_is_cut_after_the_last_time_with_at_least_10_percent_at_risk():
    """Pocock, Clayton & Altman 2002: curtail the curve where few remain at risk (here 10 %).
    20 participants, one leaving at each time 1..20: at time k, 21 - k are at risk; at least 2
    (10 %) up to time 19, 1 just after it: drawn to 19."""
    km = kaplan_meier(np.arange(1, 21), np.r_[np.ones(10), np.zeros(10)])
    assert curve_cut(km) == {"time": 19.0, "n_at_risk_after": 1}
    assert curve_cut(kaplan_meier([1, 2, 3], [1, 1, 1])) is None      # never below 10 %: drawn whole


def test_every_event_at_one_time_gives_a_document_without_an_error():
    """Issue 26: the report failed (500) when every participant had the event at one time. R's
    survdiff stops ("system is exactly singular": the log-rank variance is 0); the document says the
    test is not defined. The Cox model equals R's coxph (coefficient 0)."""
    d = FOLLOW["degenerate"]["all_at_once"]
    assert "singular" in d["survdiff"]
    doc = analyse_survival(d["time"], d["event"], d["group"], at=[1, 2, 3])
    assert doc["logrank"]["chisq"] is None and doc["logrank"]["p"] is None and doc["logrank"]["df"] == 1
    assert "variance is 0" in doc["logrank"]["note"]
    term = doc["cox"]["terms"][0]
    for key in ("hazard_ratio", "lower", "upper", "p"):
        assert term[key] == pytest.approx(d["cox"][key], rel=1e-6), key
    assert doc["median_follow_up"]["estimate"] is None is d["median_follow_up"]["estimate"]


def test_no_event_gives_a_document_without_an_error():
    d = FOLLOW["degenerate"]["no_events"]
    doc = analyse_survival(d["time"], d["event"], d["group"], at=[0, 3, 7])
    assert doc["logrank"] is None                      # no expected events: no test
    assert all(g["median"]["estimate"] is None for g in doc["groups"]) and d["median"] is None
    assert doc["median_follow_up"]["estimate"] == pytest.approx(d["median_follow_up"]["estimate"])
    pooled = analyse_survival(d["time"], d["event"], ["all"] * 6, at=[0, 3, 7])["groups"][0]
    assert [x["n_at_risk"] for x in pooled["survival_at_reportable"]] == d["n_at_risk"]

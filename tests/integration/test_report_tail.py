"""The trial report on degenerate data (issue 26 item 6: "the report fails (500, traceback) when
every randomized participant has the event at one time ... the report handles degenerate data
(all events at once, no events, one arm empty)") and its tail (issue 25 item 9), on SQLite and
PostgreSQL: build_report and the written report.json / report.html, as `oligotrial report` and
the report page make them.

Calendar (STOP-2, the server's clock): randomization 2026-03-06, radiotherapy 2026-03-10,
deaths entered 2026-05-01, data cut 2026-09-01 (about 6 months of follow-up)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.adapters.io.report_html import write_report
from oligotrial.service import enrolment, followup, randomization
from oligotrial.service.ports import Actor
from oligotrial.service.report import build_report
from trialops_db import StudyClock, fake_screener

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()), "events": []}
TRIAL = "NCT06918951"
COORD = Actor("coord", {TRIAL: "coordinator"})
DM = Actor("dm", {TRIAL: "data_manager"})
RT = Actor("rt", {TRIAL: "treating_oncologist"})
RT_FOR_ARM = {"palliative": {"dose_gy": 8, "fractions": 1, "technique": "conventional"},
              "sabr": {"dose_gy": 35, "fractions": 5, "technique": "SABR"}}
#: the last fraction at the earliest date each course allows (one fraction a day)
LAST_FRACTION = {"palliative": "2026-03-10", "sabr": "2026-03-14"}
CUT = dt.date(2026, 9, 1)


@pytest.fixture
def study(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    clock = StudyClock()
    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=clock)
    randomization.generate_list(c.ctx, TRIAL, seed=3, size_per_stratum=20)
    try:
        yield c, clock
    finally:
        c.dispose()


def _trial(c, clock, n: int, *, treated: bool, death_on: str | None) -> dict[str, str]:
    """``n`` participants randomized on 2026-03-06 (arm by participant), radiotherapy as
    allocated on 2026-03-10 when ``treated``, each dead on ``death_on`` when given."""
    ctx = c.ctx
    clock.set("2026-03-06")
    arms = {}
    for i in range(n):
        pid = enrolment.register(ctx, COORD, TRIAL, {**RECORD, "id": f"P-{i}"})["id"]
        enrolment.screen(ctx, COORD, TRIAL, pid, on="2026-03-02")
        enrolment.consent(ctx, COORD, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
        enrolment.enrol(ctx, COORD, TRIAL, pid)
        randomization.randomize(ctx, COORD, TRIAL, pid, {})
        arms[pid] = randomization.arm_of(ctx, TRIAL, pid)
    if treated:
        clock.set("2026-03-10")
        for pid, arm in arms.items():
            enrolment.record_radiotherapy(ctx, RT, TRIAL, pid, {"start": "2026-03-10", "end": LAST_FRACTION[arm],
                                                                 **RT_FOR_ARM[arm]})
    if death_on:
        clock.set(death_on)
        for pid in arms:
            followup.record_entry(ctx, DM, TRIAL, pid, "event", {"date": death_on, "kind": "death"})
    clock.set(CUT.isoformat())
    return arms


def _written(c, tmp_path) -> tuple[dict, str]:
    report = build_report(c.ctx, TRIAL, data_cut=CUT)
    paths = write_report(report, tmp_path / "out")
    return json.loads(paths["json"].read_text()) | {"_adtte": report["_adtte"]}, paths["html"].read_text()


def test_every_event_at_one_time_gives_a_report(study, tmp_path):
    """Every participant dies on one day: the log-rank test has no variance (R's survdiff stops);
    the report says the test is not defined and is written whole. S(6 mo) is 0 and shown: everyone
    had the event (not an extrapolation); median follow-up is not reached (no one censored)."""
    c, clock = study
    arms = _trial(c, clock, 6, treated=True, death_on="2026-05-01")
    assert set(arms.values()) == {"palliative", "sabr"}
    report, page = _written(c, tmp_path)
    os_ = report["endpoints"]["OS"]
    assert os_["logrank"]["chisq"] is None and "variance is 0" in os_["logrank"]["note"]
    assert "Log-rank test not defined: the log-rank variance is 0" in page
    assert os_["cox"]["terms"][0]["hazard_ratio"] == pytest.approx(1.0)       # R coxph: coefficient 0
    for g in os_["groups"]:
        six = g["survival_at_reportable"][0]
        assert g["events"] == g["n"] and g["survival_at"][0]["estimate"] == 0.0 and six["reportable"]
        assert g["median_follow_up"]["estimate"] is None
    assert os_["median_follow_up"]["estimate"] is None
    assert "not reached (too few censored" in page
    assert "0.000 (CI not defined), 0" in page           # S(6 mo) = 0: everyone died, no one left at risk
    assert report["cost_effectiveness"]["psa"]["icer_comparison"]
    assert "km_os.png" in {p.name for p in (tmp_path / "out" / "figures").iterdir()}
    assert "Why the two ICERs differ: Both ICERs are ratios of means" in page
    assert "Costs in unstated monetary units" in page
    # the page labels a median that rests on few participants (here set by hand: one at risk)
    from oligotrial.adapters.io.report_html import figures, render_html

    g = report["endpoints"]["OS"]["groups"][0]
    g |= {"median_n_at_risk": 1, "median_few_at_risk": True}
    marked = render_html(report, figures(report))
    assert f"†<br><span class=\"note\">1 of {g['n']} at risk at the median</span>" in marked
    assert "† The median was reached where fewer than 10% of the group were still at risk" in marked


def test_no_event_gives_a_report_and_survival_beyond_follow_up_is_not_shown(study, tmp_path):
    """No event and no radiotherapy recorded: no log-rank test (no expected events), no hazard
    ratio (no finite estimate), medians not reached. Nobody is followed to 12 months (randomized
    2026-03-06, cut 2026-09-01): at 12 months no one is at risk, so the page says "not estimable
    (no one at risk)" where it printed 1.000 (R's extend = TRUE value, kept in survival_at)."""
    c, clock = study
    _trial(c, clock, 6, treated=False, death_on=None)
    report, page = _written(c, tmp_path)
    os_ = report["endpoints"]["OS"]
    assert os_["logrank"] is None
    assert all(t["hazard_ratio"] is None for t in os_["cox"]["terms"])
    for g in os_["groups"]:
        twelve = g["survival_at"][1], g["survival_at_reportable"][1]
        assert twelve[0]["time"] == 12.0 and twelve[0]["estimate"] == 1.0
        assert twelve[1] == {"time": 12.0, "n_at_risk": 0, "reportable": False,
                             "reason": "not estimable (no one at risk)"}
        # everyone censored at one time (their last contact): by reverse Kaplan-Meier every
        # follow-up "ends" there, so the median follow-up is that time
        days = {r["AVAL"] for r in report["_adtte"]["OS"] if r["ARM"] == g["group"]}
        assert len(days) == 1 and g["median_follow_up"]["estimate"] == pytest.approx(days.pop() / 30.4375)
    assert page.count("not estimable (no one at risk)") >= 2 * len(report["endpoints"])
    assert "not estimated (no events" in page


def test_one_arm_empty_gives_a_report(study, tmp_path):
    """One participant randomized: one arm has no one. No comparison (log-rank, Cox, forest,
    cost-effectiveness), every figure still drawn, no error."""
    c, clock = study
    arms = _trial(c, clock, 1, treated=True, death_on="2026-05-01")
    report, page = _written(c, tmp_path)
    os_ = report["endpoints"]["OS"]
    assert [g["group"] for g in os_["groups"]] == list(arms.values())
    assert os_["logrank"] is None and os_["cox"] is None
    assert "forest" not in report
    assert report["cost_effectiveness"] == {"not_estimated": "an arm has no participant with PFS and OS at the data "
                                                              "cut: the model compares arms"}
    assert "Not estimated: an arm has no participant" in page
    assert (tmp_path / "out" / "figures" / "km_os.png").stat().st_size > 0

"""service.dashboard.recruitment: participants by state and cumulative enrolment by day, counted
from what the services stored (in-memory fakes), for every role that may see the trial; a
site-limited role counts its own site; never by arm."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from oligotrial.domain.trial.blinding import find_arm_information
from oligotrial.errors import BlindingError
from oligotrial.protocols import load_protocol
from oligotrial.service import dashboard, enrolment
from oligotrial.service.ports import Actor
from service_fakes import make_ctx

RECORD = json.loads((Path(__file__).parents[2] / "data" / "format_example_patient.json").read_text())
STOP2 = load_protocol("STOP-2")
COORD = Actor("coord", {STOP2.id: "coordinator"})


def _register(ctx, n, site=None):
    return enrolment.register(ctx, COORD, STOP2.id, {**RECORD, "id": f"P-{n:04d}"}, site)["id"]


def _enrol(ctx, pid):
    enrolment.screen(ctx, COORD, STOP2.id, pid)
    enrolment.consent(ctx, COORD, STOP2.id, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, COORD, STOP2.id, pid)


def test_enrolment_is_counted_by_day_cumulatively_against_the_planned_enrolment():
    ctx, store, _ = make_ctx("eligible")
    days = [dt.datetime(2026, 3, d, 9, 0, tzinfo=dt.UTC) for d in (2, 2, 5, 9)]
    for n, day in enumerate(days, 1):
        store["clock"][0] = day
        _enrol(ctx, _register(ctx, n))
    _register(ctx, 9)  # registered, never enrolled
    rec = dashboard.recruitment(ctx, COORD, "stop-2")
    assert rec["planned"] == STOP2.planned_enrolment == 194
    assert rec["participants"] == 5 and rec["enrolled"] == 4
    assert rec["points"] == [{"date": "2026-03-02", "enrolled": 2}, {"date": "2026-03-05", "enrolled": 3},
                             {"date": "2026-03-09", "enrolled": 4}]
    assert rec["by_state"] == {"enrolled": 4, "registered": 1}


def test_a_site_limited_role_counts_its_site_and_a_blinded_role_gets_counts_without_arms():
    ctx, _, _ = make_ctx("eligible")
    for n, site in enumerate(("A", "A", "B"), 1):
        _enrol(ctx, _register(ctx, n, site))
    site_a = Actor("a", {STOP2.id: "coordinator"}, sites={STOP2.id: "A"})
    assert dashboard.recruitment(ctx, site_a, STOP2.id)["enrolled"] == 2
    for role in STOP2.masking.blinded_roles:
        rec = dashboard.recruitment(ctx, Actor(role, {STOP2.id: role}), STOP2.id)
        assert rec["enrolled"] == 3
        assert find_arm_information(rec, [a.id for a in STOP2.arms], [a.label for a in STOP2.arms]) == []


def test_a_user_without_a_role_in_the_trial_is_refused():
    ctx, _, _ = make_ctx("eligible")
    with pytest.raises(BlindingError) as err:
        dashboard.recruitment(ctx, Actor("x", {"NCT00000000": "coordinator"}), STOP2.id)
    assert err.value.code == "forbidden"


def test_counts_per_site_for_the_sites_the_role_may_see():
    ctx, _, _ = make_ctx("eligible")
    for n, site in enumerate(("B", "A", "A", None), 1):
        pid = _register(ctx, n, site)
        if n < 3:
            _enrol(ctx, pid)
    rec = dashboard.recruitment(ctx, COORD, STOP2.id)
    assert rec["sites"] == [
        {"site": "A", "participants": 2, "enrolled": 1, "by_state": {"enrolled": 1, "registered": 1}},
        {"site": "B", "participants": 1, "enrolled": 1, "by_state": {"enrolled": 1}},
        {"site": None, "participants": 1, "enrolled": 0, "by_state": {"registered": 1}},
    ]
    site_a = Actor("a", {STOP2.id: "coordinator"}, sites={STOP2.id: "A"})
    assert [s["site"] for s in dashboard.recruitment(ctx, site_a, STOP2.id)["sites"]] == ["A"]


def test_a_trial_without_sites_has_no_site_breakdown():
    ctx, _, _ = make_ctx("eligible")
    _enrol(ctx, _register(ctx, 1))
    assert dashboard.recruitment(ctx, COORD, STOP2.id)["sites"] == []

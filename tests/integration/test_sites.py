"""Multi-centre trials on SQLite and PostgreSQL: each participant belongs to one site, roles are
granted per trial and site, a site's staff see only their site's participants, randomization can
be stratified by site, and lists and exports filter by site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oligotrial.errors import BlindingError, RandomizationError, WorkflowError
from oligotrial.service import endpoints, enrolment, followup, randomization, users
from oligotrial.service.ports import Actor
from trialops_db import StudyClock, fake_screener

RECORD = {**json.loads((Path(__file__).parents[1] / "data" / "format_example_patient.json").read_text()), "events": []}
TRIAL = "NCT06918951"
CENTRAL = Actor("central", {TRIAL: "coordinator"})
AT_A = Actor("coord-a", {TRIAL: "coordinator"}, None, {TRIAL: "shanghai"})
AT_B = Actor("coord-b", {TRIAL: "coordinator"}, None, {TRIAL: "beijing"})


@pytest.fixture
def ctx(db_settings):
    from oligotrial.adapters.db.crypto import Argon2Hasher
    from oligotrial.bootstrap import bootstrap

    c = bootstrap(db_settings, screener=fake_screener(), hasher=Argon2Hasher(fast=True), clock=StudyClock())
    try:
        yield c.ctx
    finally:
        c.dispose()


def _enrolled(ctx, actor, n, site=None):
    pid = enrolment.register(ctx, actor, TRIAL, {**RECORD, "id": f"P-{n:04d}"}, site)["id"]
    enrolment.screen(ctx, actor, TRIAL, pid, on="2026-03-02")
    enrolment.consent(ctx, actor, TRIAL, pid, {"date": "2026-03-01", "form_version": "v2"})
    enrolment.enrol(ctx, actor, TRIAL, pid)
    return pid


def test_a_site_sees_and_acts_on_its_own_participants_only(ctx):
    randomization.generate_list(ctx, TRIAL, seed=5, size_per_stratum=20, sites=["shanghai", "beijing"])
    a = _enrolled(ctx, AT_A, 1)  # a site coordinator registers at their own site
    b = _enrolled(ctx, CENTRAL, 2, site="beijing")
    with pytest.raises(BlindingError) as e:
        enrolment.register(ctx, AT_A, TRIAL, {**RECORD, "id": "P-0003"}, "beijing")
    assert e.value.field == "site"
    assert [p["id"] for p in enrolment.list_participants(ctx, AT_A, TRIAL)] == [a]
    assert {p["id"] for p in enrolment.list_participants(ctx, CENTRAL, TRIAL)} == {a, b}
    assert [p["id"] for p in enrolment.list_participants(ctx, CENTRAL, TRIAL, site="beijing")] == [b]
    # another site's participant is answered as if it did not exist, for every action
    for act in (lambda: enrolment.get_participant(ctx, AT_A, TRIAL, b),
                lambda: randomization.randomize(ctx, AT_A, TRIAL, b, {}),
                lambda: followup.record_entry(ctx, AT_A, TRIAL, b, "performance",
                                              {"date": "2026-03-03", "scale": "ECOG", "score": 1}),
                lambda: endpoints.participant_endpoints(ctx, AT_A, TRIAL, b)):
        with pytest.raises(WorkflowError) as e:
            act()
        assert e.value.code == "not_found"
    # stratified by site: each participant's own site, never one the caller names
    with pytest.raises(RandomizationError):
        randomization.randomize(ctx, AT_A, TRIAL, a, {"site": "beijing"})
    ra = randomization.randomize(ctx, AT_A, TRIAL, a, {})
    rb = randomization.randomize(ctx, AT_B, TRIAL, b, {})
    assert ra["strata"] == {"site": "shanghai"} and ra["randomization_number"].startswith("site=shanghai#")
    assert rb["strata"] == {"site": "beijing"} and rb["randomization_number"].startswith("site=beijing#")
    assert randomization.verify_commitment(ctx, TRIAL)
    summary = enrolment.summary(ctx, CENTRAL, TRIAL)
    assert summary["by_site"] == {"beijing": 1, "shanghai": 1}
    lines, _ = endpoints.export(ctx, None, TRIAL, "adtte", site="shanghai")
    rows = "".join(lines).splitlines()[1:]
    assert rows and all(f",{a}," in r for r in rows)
    lines, _ = endpoints.export(ctx, AT_B, TRIAL, "adtte")
    rows = "".join(lines).splitlines()[1:]
    assert rows and all(f",{b}," in r for r in rows)


def test_a_site_stratified_list_refuses_a_participant_without_a_site(ctx):
    randomization.generate_list(ctx, TRIAL, seed=6, size_per_stratum=10, sites=["shanghai", "beijing"])
    pid = _enrolled(ctx, CENTRAL, 1)  # registered without a site
    with pytest.raises(RandomizationError) as e:
        randomization.randomize(ctx, CENTRAL, TRIAL, pid, {})
    assert e.value.field == "site"
    with pytest.raises(RandomizationError):
        randomization.generate_list(ctx, "OPPRESS", seed=1, sites=["only-one"])


def test_roles_are_granted_per_site_and_carried_by_the_actor(ctx):
    users.add_user(ctx, "site-dm", "long-password-1", "data_manager", "STOP-2", site="shanghai")
    user = users.authenticate(ctx, "site-dm", "long-password-1")
    actor = users.actor_for(ctx, user.id)
    assert actor.role_in(TRIAL) == "data_manager" and actor.site_in(TRIAL) == "shanghai"
    with pytest.raises(Exception) as e:
        users.add_user(ctx, "bad-site", "long-password-1", "coordinator", "STOP-2", site="no such site!")
    assert getattr(e.value, "field", None) == "site"

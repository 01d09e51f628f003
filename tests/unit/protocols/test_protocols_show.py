"""``oligotrial protocols show``: what the protocol file has (endpoints and their derivation,
arms with their regimens, the visit schedule, every not-registered/assumption label) and what
decides each criterion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli import _common
from oligotrial.adapters.cli.main import app
from oligotrial.adapters.cli.protocols import decided_by
from oligotrial.domain.protocol.endpoint_schema import parse_endpoint_rules
from oligotrial.domain.protocol.schedule_schema import parse_schedule
from oligotrial.protocols import list_protocols

runner = CliRunner()
PROTOCOLS = list_protocols()
IDS = [p.id for p in PROTOCOLS]


@pytest.fixture
def wide(monkeypatch):
    """A console wide enough that no table cell wraps, so file text appears verbatim."""
    monkeypatch.setattr(_common.console, "_width", 4000)


def show(*args: str) -> str:
    r = runner.invoke(app, ["protocols", "show", *args])
    assert r.exit_code == 0, r.output
    return r.output


def _labels(p) -> list[str]:
    """Every not-registered / assumption / site-default / note text the protocol file carries."""
    out: list[Any] = [p.planned_enrolment_note, p.allocation_ratio_note, p.stratification.note]
    for a in p.arms:
        if a.radiotherapy is not None:
            out.append(a.radiotherapy.notes)
            out += [r.assumption for r in a.radiotherapy.regimens]
    schedule = parse_schedule(p.schedule)
    if schedule is not None:
        out.append(schedule.note)
        if not schedule.registry_gives_schedule:
            out.append("registry_gives_schedule: false")
        if any(v.site_default for v in schedule.visits):
            out.append("site default")
    rules = parse_endpoint_rules(p.endpoint_rules, trial=p.id)
    out += [rules.note, *(r.note for r in rules.endpoints)]
    out += [w.note for w in p.windows.values()]
    out += [c.note for c in p.criteria]
    if not p.allocation_ratio_registered:
        out.append("not registered")
    if p.stratification.registry_names_none:
        out.append("registry names none")
    return [x for x in out if x]


# ---- the human-readable output -----------------------------------------------------------------

@pytest.mark.parametrize("trial", IDS)
def test_show_prints_what_the_file_has(trial, wide):
    p = next(q for q in PROTOCOLS if q.id == trial)
    out = show(trial)
    for ep in [*p.endpoints.primary, *p.endpoints.secondary]:
        assert ep.id in out
        if ep.time_frame:
            assert ep.time_frame in out
    rules = parse_endpoint_rules(p.endpoint_rules, trial=p.id)
    assert f"origin: {rules.origin}" in out
    for r in rules.endpoints:
        assert r.id in out and r.kind in out
    for a in p.arms:
        assert a.label in out
        if a.radiotherapy is not None:
            for reg in a.radiotherapy.regimens:
                assert reg.label in out
                assert reg.total_dose_gy.describe("Gy") in out
        if a.systemic is not None:
            assert a.systemic.description in out
            for agent in a.systemic.agents:
                assert agent in out
    schedule = parse_schedule(p.schedule)
    assert schedule is not None
    for v in schedule.visits:
        assert v.code in out and f"-{v.window_before_days}/+{v.window_after_days}" in out
    for label in _labels(p):
        assert label in out, label
    for c in p.criteria:
        assert c.id in out


def test_show_labels_stop2_assumptions_beside_what_they_qualify(wide):
    out = show("STOP-2")
    assert "SABR (SABR-COMET-style site schedules, not registered for STOP-2)" in out
    assert "assumption: 16-60 Gy in 1-8 fractions spans the SABR-COMET site table" in out
    assert "radiotherapy note: The registry gives no SABR dose table" in out
    assert "Project-defined (no public definition found)" in out
    assert "the project's reading of its name" in out
    assert "registry_gives_schedule: false" in out and "site default" in out
    assert "Stratification: none (registry names none)" in out
    # a criterion decided by both names its attestation key
    row = next(line for line in out.splitlines() if "STOP2-IN-10" in line)
    assert "rule + attestation" in row


def test_show_marks_an_unregistered_allocation_ratio(wide):
    out = show("NCT06592612")
    assert "Allocation ratio: sbrt 1 : control 1 (not registered)" in out
    assert "allocation ratio not registered: The registry gives no allocation ratio" in out
    assert "SBRT (dose not registered)" in out


def test_show_prints_an_endpoint_time_frame_when_the_file_has_one(monkeypatch, wide):
    p = PROTOCOLS[0]
    first = p.endpoints.primary[0].model_copy(update={"time_frame": "up to 36 months after randomization"})
    endpoints = p.endpoints.model_copy(update={"primary": [first, *p.endpoints.primary[1:]]})
    import oligotrial.protocols  # the command imports load_protocol when it runs (a lazy import)

    monkeypatch.setattr(oligotrial.protocols, "load_protocol", lambda trial: p.model_copy(update={"endpoints": endpoints}))
    assert "up to 36 months after randomization" in show(p.id)


@pytest.mark.parametrize("trial", IDS)
def test_show_fits_a_100_column_terminal(trial, monkeypatch):
    monkeypatch.setattr(_common.console, "_width", 100)
    out = show(trial)
    assert max(len(line) for line in out.splitlines()) <= 100


# ---- --json ------------------------------------------------------------------------------------

@pytest.mark.parametrize("trial", IDS)
def test_json_adds_decided_by_and_keeps_every_key(trial):
    p = next(q for q in PROTOCOLS if q.id == trial)
    doc = json.loads(show(trial, "--json"))
    assert len(doc["criteria"]) == len(p.criteria)
    for c, row in zip(p.criteria, doc["criteria"], strict=True):
        assert row["id"] == c.id
        assert row["decided_by"] == decided_by(c.expression)
    for row in doc["criteria"]:
        del row["decided_by"]
    assert doc == p.model_dump(mode="json")  # nothing removed or renamed


# ---- decided_by --------------------------------------------------------------------------------

@pytest.mark.parametrize("expression,expected", [
    ({"age": {"min": 18}}, "rule"),
    ({"informational": "a heading, decides nothing"}, "rule"),
    ({"all": [{"age": {"min": 18}}, {"performance": {"scale": "ECOG", "max": 2}}]}, "rule"),
    ({"attested": "able_to_consent"}, "attestation"),
    ({"attested": {"key": "able_to_consent"}}, "attestation"),
    ({"not": {"attested": "all_sites_treatable"}}, "attestation"),
    ({"any": [{"attested": "a"}, {"not": {"attested": "b"}}]}, "attestation"),
    ({"applies_if": {"if": {"attested": "a"}, "then": {"not": {"attested": "b"}}}}, "attestation"),
    ({"all": [{"radiotherapy_history": {}}, {"not": {"attested": "composite_plan_ok"}}]}, "rule + attestation"),
    ({"applies_if": {"if": {"not": {"on_systemic_therapy": {}}}, "then": {"attested": "k"}}}, "rule + attestation"),
    ({"applies_if": {"if": {"attested": "k"}, "then": {"age": {"min": 18}}}}, "rule + attestation"),
    ({"not": {"applies_if": {"if": {"lesions_in_organs": {"organs": ["liver"]}},
                             "then": {"attested": {"key": "k"}}}}}, "rule + attestation"),
    ({"at_least": {"n": 1, "of": [{"attested": "k"}, {"age": {"min": 18}}]}}, "rule + attestation"),
    ({"at_most": {"n": 1, "of": [{"attested": "a"}, {"attested": "b"}]}}, "attestation"),
])
def test_decided_by_on_hand_made_expressions(expression, expected):
    assert decided_by(expression) == expected


def _has_attested_leaf(expr: Any) -> bool:
    if isinstance(expr, dict):
        return any(k == "attested" or _has_attested_leaf(v) for k, v in expr.items())
    if isinstance(expr, list):
        return any(_has_attested_leaf(v) for v in expr)
    return False


def test_every_shipped_criterion_decided_by_agrees_with_its_expression():
    seen = set()
    for p in PROTOCOLS:
        for c in p.criteria:
            how = decided_by(c.expression)
            seen.add(how)
            if _has_attested_leaf(c.expression):
                assert how in ("attestation", "rule + attestation"), c.id
            else:
                assert how == "rule", c.id
            if c.attestation is not None:  # an attestation-only criterion
                assert how == "attestation", c.id
    assert seen == {"rule", "attestation", "rule + attestation"}

"""Seed-trial design reports: assumptions as data with sources, implied vs registered N."""

from __future__ import annotations

import itertools
import json

import pytest

from oligotrial.stats.report import known_trials, load_assumptions, trial_report
from oligotrial.stats.sample_size import sample_size_survival

SOURCES = {"registry", "calibration", "convention"}
REGISTERED = {"NCT06523673": 104, "NCT07014202": 224, "NCT05906329": None,
              "NCT06592612": 70, "NCT06918951": 194}


def test_all_five_seed_trials_are_described():
    assert set(known_trials()) == set(REGISTERED)


@pytest.mark.parametrize("trial_id", sorted(REGISTERED))
def test_every_assumption_has_a_source_and_evidence(trial_id):
    trial = load_assumptions()["trials"][trial_id]
    for key, entry in trial.items():
        if not isinstance(entry, dict):
            continue
        assert entry["source"] in SOURCES, key
        if entry["source"] == "registry" and entry["value"] is not None:
            assert entry.get("quote"), key
        if entry["source"] == "calibration":
            assert "trial-evidence.md" in entry["evidence"], key
        if entry["source"] == "convention":
            assert "not registered" in entry["note"], key


@pytest.mark.parametrize("trial_id,enrolment", sorted(REGISTERED.items()))
def test_registered_enrolment(trial_id, enrolment):
    entry = load_assumptions()["trials"][trial_id]["registered_enrolment"]
    assert entry["value"] == enrolment
    if enrolment is None:
        assert "not registered" in entry["note"]
    else:
        assert str(enrolment) in entry["quote"]


def test_survival_report_numbers_are_consistent(tmp_path):
    rep = trial_report("NCT06918951", tmp_path, sim_trials=0)["summary"]
    d = rep["derived"]
    assert d["registered_enrolment_compared"] == 194
    from oligotrial.stats.report import _survival_design
    from oligotrial.stats.report import load_assumptions as la

    ss = sample_size_survival(_survival_design(la()["trials"]["NCT06918951"]))
    assert d["subjects_implied_ceil"] == ss.subjects_ceil
    assert d["accrual_months"] + d["follow_up_months"] == pytest.approx(89.9, abs=0.1)
    # power at 194 exceeds power at the implied (smaller) N, which is the target 0.8
    assert d["power_at_registered_enrolment"] > 0.8
    assert d["hazard_ratio_detectable_at_registered_enrolment"] > 0.51
    assert (tmp_path / "NCT06918951_power_curve.png").exists()
    curve = rep["power_curve"]["power_at_registered_enrolment"]
    assert all(a >= b for a, b in itertools.pairwise(curve))  # falls as HR rises to 1


def test_single_arm_report_says_not_registered(tmp_path):
    rep = trial_report("NCT05906329", tmp_path)["summary"]
    assert rep["derived"]["registered_enrolment_compared"] == "not registered"
    assert rep["designs"]["simon_optimal"]["n"] == 29
    saved = json.loads((tmp_path / "NCT05906329_report.json").read_text())
    assert saved["trial_id"] == "NCT05906329"
    md = (tmp_path / "NCT05906329_report.md").read_text()
    assert "not registered" in md and "convention" in md

"""STOP-2 geometric exclusions: brain metastasis size and total volume, SINS."""

from __future__ import annotations

import math

import pytest

from oligotrial.domain.radiotherapy.dvh import Structure
from oligotrial.domain.radiotherapy.geometry import (
    BrainLesion,
    GeometricLimits,
    brain_lesions_from_plan,
    brain_lesions_from_record,
    check_geometric_exclusions,
    max_diameter_mm,
    structure_volume_cc,
)
from oligotrial.domain.record.patient import parse_patient
from oligotrial.protocols import load_protocol
from rt_phantoms import Phantom


def _limits():
    g = next(a for a in load_protocol("STOP-2").arms if a.id == "sabr").radiotherapy.geometric_exclusions
    return GeometricLimits(g.brain_met_max_diameter_mm, g.brain_met_total_volume_cc, g.sins_max, g.source_text)


def _sphere(name, radius_mm):
    ph = Phantom("sphere", "z", radius_mm=radius_mm)
    return Structure(name, tuple(ph.contours(1.0)))


def test_rt_geometry_limits_come_from_the_protocol():
    lim = _limits()
    assert (lim.brain_met_max_diameter_mm, lim.brain_met_total_volume_cc, lim.sins_max) == (35, 30, 12)


def test_rt_plan_sphere_diameter_and_volume():
    s = _sphere("BrainMet1", 20.0)
    assert max_diameter_mm(s) == pytest.approx(40.0, abs=0.6)  # stair-step poles lose < 0.5 mm
    assert structure_volume_cc(s) == pytest.approx(4 / 3 * math.pi * 8, rel=0.005)


def test_rt_plan_brain_met_over_35mm_is_excluded():
    lesions = brain_lesions_from_plan([_sphere("BrainMet1", 20.0), _sphere("PTV", 5.0)], ["BrainMet1"])
    r = {x.rule: x for x in check_geometric_exclusions(lesions, sins=8, limits=_limits())}
    assert r["brain_met_diameter"].outcome == "excluded"
    # 4/3 pi 20^3 mm^3 = 33.5 cc is also over 30 cc; the PTV is not a brain metastasis
    assert r["brain_met_total_volume"].outcome == "excluded"
    assert r["brain_met_total_volume"].measured == pytest.approx(33.5, abs=0.2)
    small = brain_lesions_from_plan([_sphere("BrainMet2", 12.0)], ["brainmet2"])
    r2 = {x.rule: x for x in check_geometric_exclusions(small, sins=8, limits=_limits())}
    assert r2["brain_met_diameter"].outcome == "clear" and r2["brain_met_total_volume"].outcome == "clear"


def test_rt_total_brain_volume_over_30cc_from_several_small_lesions():
    lesions = [BrainLesion(f"B{i}", 30.0, 8.0, "record") for i in range(4)]
    r = {x.rule: x for x in check_geometric_exclusions(lesions, sins=None, limits=_limits())}
    assert r["brain_met_diameter"].outcome == "clear"
    assert r["brain_met_total_volume"].outcome == "excluded" and r["brain_met_total_volume"].measured == 32.0
    assert r["sins"].outcome == "not_evaluable"


@pytest.mark.parametrize("sins, outcome", [(12, "clear"), (13, "excluded")])
def test_rt_sins_boundary(sins, outcome):
    r = {x.rule: x for x in check_geometric_exclusions([], sins=sins, limits=_limits())}
    assert r["sins"].outcome == outcome


def test_rt_record_brain_lesions_latest_measurement():
    patient = parse_patient({
        "format": "oligotrial.patient/1", "id": "P1",
        "lesions": [{"id": "B1", "kind": "metastasis", "organ": "brain"},
                    {"id": "L1", "kind": "metastasis", "organ": "lung"}],
        "assessments": [
            {"date": "2025-01-01", "modality": "MRI", "findings": [{"lesion": "B1", "diameter_mm": 30}]},
            {"date": "2025-03-01", "modality": "MRI", "findings": [
                {"lesion": "B1", "diameter_mm": 36}, {"lesion": "L1", "diameter_mm": 50}]},
        ],
    })
    lesions = brain_lesions_from_record(patient)
    assert [(b.id, b.diameter_mm) for b in lesions] == [("B1", 36)]
    r = {x.rule: x for x in check_geometric_exclusions(lesions, sins=None, limits=_limits())}
    assert r["brain_met_diameter"].outcome == "excluded"
    assert r["brain_met_total_volume"].outcome == "not_evaluable"  # no volume recorded

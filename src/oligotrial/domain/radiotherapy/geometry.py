"""STOP-2's geometric exclusions, from the patient record or the plan's structures.

NCT06918951 exclusion 6: "Brain metastasis > 3.5 cm in size or a total volume of brain
metastases greater than 30 cc"; exclusion 8: "spine instability as judged by a Spinal Instability
Neoplastic Score (SINS) of > 12" (a clinical input, never derived from images here).
The thresholds come from the protocol file (:class:`GeometricLimits`), not from this module.

From a plan, a lesion's size is its maximum 3-D (Feret) diameter over the contour vertices and
its volume the contour volume (even-odd plane areas times slice thickness, as in the DVH engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist

from oligotrial.domain.radiotherapy.dvh import (
    Structure,
    nominal_slice_thickness_mm,
    plane_area_mm2,
    slice_thicknesses_mm,
)
from oligotrial.domain.record.patient import Patient
from oligotrial.errors import DoseError

Outcome = Literal["excluded", "clear", "not_evaluable"]


@dataclass(frozen=True)
class GeometricLimits:
    """Exclusion thresholds with the protocol text they come from."""

    brain_met_max_diameter_mm: float | None
    brain_met_total_volume_cc: float | None
    sins_max: int | None
    source_text: str


@dataclass(frozen=True)
class BrainLesion:
    id: str
    diameter_mm: float | None
    volume_cc: float | None
    origin: str  # "record" or "plan"


@dataclass(frozen=True)
class GeometryResult:
    rule: str
    outcome: Outcome
    measured: float | None
    limit: float | None
    unit: str
    message: str

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "measured": None if self.measured is None else round(self.measured, 4),
            "limit": self.limit,
            "unit": self.unit,
            "message": self.message,
        }


def max_diameter_mm(structure: Structure) -> float:
    """Maximum 3-D distance between any two contour vertices (the Feret diameter)."""
    pts = np.vstack(
        [np.column_stack([np.asarray(xy, float), np.full(len(xy), z)]) for z, xy in structure.contours if len(xy)]
    )
    if len(pts) < 2:
        raise DoseError(f"structure {structure.name!r}: expected contours to measure", field="structure")
    try:
        pts = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        pass  # flat or degenerate: use every vertex
    return float(pdist(pts).max())


def structure_volume_cc(structure: Structure, slice_thickness_mm: float | None = None) -> float:
    """Contour volume: even-odd plane areas times each plane's slab thickness."""
    planes = structure.planes()
    if not planes:
        raise DoseError(f"structure {structure.name!r}: expected closed planar contours", field="structure")
    zs = list(planes)
    nominal = slice_thickness_mm or nominal_slice_thickness_mm(zs)
    if not nominal:
        raise DoseError(
            f"structure {structure.name!r} has one contour plane: expected slice_thickness_mm",
            field="slice_thickness_mm",
        )
    return float(np.dot([plane_area_mm2(planes[z]) for z in zs], slice_thicknesses_mm(zs, nominal))) / 1000.0


def brain_lesions_from_plan(structures: list[Structure], names: list[str]) -> list[BrainLesion]:
    """Brain metastases among the plan's structures (those named in ``names``)."""
    wanted = {n.lower() for n in names}
    return [
        BrainLesion(s.name, max_diameter_mm(s), structure_volume_cc(s), "plan")
        for s in structures
        if s.name.lower() in wanted
    ]


def brain_lesions_from_record(patient: Patient) -> list[BrainLesion]:
    """Brain lesions with their most recent measured diameter and volume from the record."""
    organ = {lesion.id: lesion.organ for lesion in patient.lesions or ()}
    latest: dict[str, BrainLesion] = {}
    for assessment in patient.assessments_sorted():
        for f in assessment.findings:
            where = organ.get(f.lesion) or f.organ
            if where != "brain":
                continue
            latest[f.lesion] = BrainLesion(f.lesion, f.diameter_mm, f.volume_cc, "record")
    return list(latest.values())


def _diameter(lesion: BrainLesion) -> float:
    """The diameter of a lesion known to be sized."""
    assert lesion.diameter_mm is not None
    return lesion.diameter_mm


def check_geometric_exclusions(
    lesions: list[BrainLesion], sins: int | None, limits: GeometricLimits
) -> list[GeometryResult]:
    """Each exclusion as excluded / clear / not_evaluable, with the measured value and limit."""
    out: list[GeometryResult] = []
    src = limits.source_text
    if limits.brain_met_max_diameter_mm is not None:
        limit_mm = limits.brain_met_max_diameter_mm
        sized = [les for les in lesions if les.diameter_mm is not None]
        if len(sized) < len(lesions):
            missing = [les.id for les in lesions if les.diameter_mm is None]
            out.append(
                GeometryResult(
                    "brain_met_diameter",
                    "not_evaluable",
                    None,
                    limit_mm,
                    "mm",
                    f'brain metastasis size unknown for {missing} ("{src}")',
                )
            )
        elif sized:
            big = max(sized, key=_diameter)
            over = _diameter(big) > limit_mm
            out.append(
                GeometryResult(
                    "brain_met_diameter",
                    "excluded" if over else "clear",
                    big.diameter_mm,
                    limit_mm,
                    "mm",
                    f"largest brain metastasis {big.id} is {big.diameter_mm:.1f} mm "
                    f"({'over' if over else 'within'} {limit_mm:g} mm; from the {big.origin})",
                )
            )
        else:
            out.append(GeometryResult("brain_met_diameter", "clear", 0.0, limit_mm, "mm", "no brain metastasis"))
    if limits.brain_met_total_volume_cc is not None:
        limit_cc = limits.brain_met_total_volume_cc
        if any(les.volume_cc is None for les in lesions):
            missing = [les.id for les in lesions if les.volume_cc is None]
            out.append(
                GeometryResult(
                    "brain_met_total_volume",
                    "not_evaluable",
                    None,
                    limit_cc,
                    "cc",
                    f'brain metastasis volume unknown for {missing} ("{src}")',
                )
            )
        else:
            total = float(sum(les.volume_cc for les in lesions if les.volume_cc is not None))  # all known here
            over = total > limit_cc
            out.append(
                GeometryResult(
                    "brain_met_total_volume",
                    "excluded" if over else "clear",
                    total,
                    limit_cc,
                    "cc",
                    f"total brain metastasis volume {total:.2f} cc over {len(lesions)} lesion(s) is "
                    f"{'over' if over else 'within'} {limit_cc:g} cc",
                )
            )
    if limits.sins_max is not None:
        if sins is None:
            out.append(
                GeometryResult(
                    "sins",
                    "not_evaluable",
                    None,
                    float(limits.sins_max),
                    "points",
                    "SINS not recorded (clinical_findings.sins)",
                )
            )
        else:
            over = sins > limits.sins_max
            out.append(
                GeometryResult(
                    "sins",
                    "excluded" if over else "clear",
                    float(sins),
                    float(limits.sins_max),
                    "points",
                    f"SINS {sins} {'>' if over else '<='} {limits.sins_max}",
                )
            )
    return out

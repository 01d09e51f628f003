"""Read DICOM RT Plan, RT Dose and RT Structure Set files (pydicom) into domain objects.

Checks made on the way in (radiotherapy-dose.md §4): RT Dose must be ``DoseUnits`` GY,
``DoseType`` PHYSICAL and ``DoseSummationType`` PLAN, MULTI_PLAN or FRACTION (a FRACTION dose is
multiplied by the plan's number of fractions); ``GridFrameOffsetVector`` may be relative (first
offset 0) or absolute; the grid must be axial (``ImageOrientationPatient`` 1,0,0,0,1,0); the dose
and structure set must share their ``FrameOfReferenceUID``. A file that is not DICOM, or not an
RT object, is a :class:`~oligotrial.errors.DoseError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from oligotrial.domain.radiotherapy.dvh import DoseGrid, Structure
from oligotrial.errors import DoseError

RT_MODALITIES = {"RTPLAN", "RTDOSE", "RTSTRUCT"}
ACCEPTED_SUMMATION = {"PLAN", "MULTI_PLAN", "FRACTION"}


@dataclass(frozen=True)
class PlanInfo:
    label: str | None
    fractions: int | None
    prescription_gy: float | None
    intent: str | None
    targets: list[dict] = field(default_factory=list)
    frame_of_reference_uid: str | None = None
    source: str = ""
    fraction_groups: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class RTStudy:
    plan: PlanInfo | None
    dose: DoseGrid | None
    structures: list[Structure]
    dose_summation: str | None = None
    dose_source: str = ""
    struct_source: str = ""
    ignored: list[str] = field(default_factory=list)

    @property
    def fractions(self) -> int | None:
        return self.plan.fractions if self.plan else None


def _read(path: Path) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(str(path))
    except (InvalidDicomError, OSError, EOFError, ValueError, TypeError) as exc:
        raise DoseError(
            f"file {path.name}: not a readable DICOM file ({exc.__class__.__name__}); "
            "expected an RT Plan, RT Dose or RT Structure Set",
            field="file",
        ) from None


def read_rt_file(path: str | Path) -> pydicom.Dataset:
    """Read one file and require an RT modality."""
    p = Path(path)
    ds = _read(p)
    modality = str(getattr(ds, "Modality", "") or "")
    if modality not in RT_MODALITIES:
        raise DoseError(
            f"file {p.name}: Modality {modality or 'missing'!r} is not DICOM RT; expected RTPLAN, RTDOSE or RTSTRUCT",
            field="Modality",
        )
    return ds


def _int_or_none(value) -> int | None:
    return int(value) if value not in (None, "") else None


def parse_plan(ds: pydicom.Dataset, source: str = "") -> PlanInfo:
    """The plan's fraction groups and TARGET dose references.

    Each target's number of fractions comes from the fraction group that delivers it
    (PS3.3 C.8.8.13 RT Fraction Scheme: a Fraction Group's Referenced Dose Reference Sequence
    (300C,0050) names the Dose Reference Numbers (300A,0012) it treats). With one fraction group
    every target is delivered by it. With several (a sequential boost), a target that no group
    names, or that several groups name, has no single schedule: its ``fractions`` is None and
    ``fractions_problem`` says why (TargetPrescriptionDose is the target's total, so its dose per
    fraction cannot be split between groups). The plan's ``fractions`` is the number the whole
    plan delivers (the sum over its groups)."""
    groups = []
    for k, g in enumerate(getattr(ds, "FractionGroupSequence", None) or [], start=1):
        refs = {
            int(r.ReferencedDoseReferenceNumber)
            for r in getattr(g, "ReferencedDoseReferenceSequence", None) or []
            if "ReferencedDoseReferenceNumber" in r
        }
        groups.append(
            {
                "number": _int_or_none(getattr(g, "FractionGroupNumber", None)) or k,
                "fractions": _int_or_none(getattr(g, "NumberOfFractionsPlanned", None)),
                "dose_references": sorted(refs),
            }
        )
    counts = [g["fractions"] for g in groups]
    fractions = sum(counts) if counts and None not in counts else None
    targets = []
    for ref in getattr(ds, "DoseReferenceSequence", None) or []:
        if str(getattr(ref, "DoseReferenceType", "")) != "TARGET":
            continue
        dose = getattr(ref, "TargetPrescriptionDose", None)
        number = _int_or_none(getattr(ref, "DoseReferenceNumber", None))
        target = {
            "dose_reference_number": number,
            "roi_number": int(ref.ReferencedROINumber) if "ReferencedROINumber" in ref else None,
            "description": str(getattr(ref, "DoseReferenceDescription", "") or "") or None,
            "prescription_gy": float(dose) if dose not in (None, "") else None,
            "fraction_group": None,
            "fractions": None,
            "fractions_problem": None,
        }
        if len(groups) == 1:
            delivering = groups
        else:
            delivering = [g for g in groups if number is not None and number in g["dose_references"]]
        if len(delivering) == 1:
            target["fraction_group"] = delivering[0]["number"]
            target["fractions"] = delivering[0]["fractions"]
            if target["fractions"] is None:
                target["fractions_problem"] = (
                    f"fraction group {delivering[0]['number']} has no NumberOfFractionsPlanned"
                )
        elif not groups:
            target["fractions_problem"] = "the plan has no FractionGroupSequence"
        elif number is None:
            target["fractions_problem"] = (
                f"the plan has {len(groups)} fraction groups and the target has no "
                "DoseReferenceNumber for one of them to name"
            )
        elif not delivering:
            target["fractions_problem"] = (
                f"the plan has {len(groups)} fraction groups and none names dose reference {number} in "
                "its ReferencedDoseReferenceSequence, so the target's number of fractions is unknown"
            )
        else:
            target["fractions_problem"] = (
                f"fraction groups {', '.join(str(g['number']) for g in delivering)} all deliver it, and "
                "TargetPrescriptionDose is the total, so its dose per fraction in each group is unknown; "
                "check each group's prescription separately"
            )
        targets.append(target)
    doses = [t["prescription_gy"] for t in targets if t["prescription_gy"] is not None]
    return PlanInfo(
        label=str(getattr(ds, "RTPlanLabel", "") or "") or None,
        fractions=fractions,
        prescription_gy=max(doses) if doses else None,
        intent=str(getattr(ds, "PlanIntent", "") or "") or None,
        targets=targets,
        frame_of_reference_uid=str(getattr(ds, "FrameOfReferenceUID", "") or "") or None,
        source=source,
        fraction_groups=groups,
    )


def parse_dose(ds: pydicom.Dataset, *, fractions: int | None = None, source: str = "") -> tuple[DoseGrid, str]:
    where = source or "RT Dose"
    units = str(getattr(ds, "DoseUnits", ""))
    if units != "GY":
        raise DoseError(
            f"{where} DoseUnits {units!r}: expected GY (relative dose cannot be checked)", field="DoseUnits"
        )
    dtype = str(getattr(ds, "DoseType", ""))
    if dtype != "PHYSICAL":
        raise DoseError(f"{where} DoseType {dtype!r}: expected PHYSICAL", field="DoseType")
    summation = str(getattr(ds, "DoseSummationType", ""))
    if summation not in ACCEPTED_SUMMATION:
        raise DoseError(
            f"{where} DoseSummationType {summation!r}: expected one of "
            f"{sorted(ACCEPTED_SUMMATION)} (BEAM and CONTROL_POINT are partial doses)",
            field="DoseSummationType",
        )
    iop = [float(v) for v in getattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0])]
    if not np.allclose(iop, [1, 0, 0, 0, 1, 0], atol=1e-4):
        raise DoseError(
            f"{where} ImageOrientationPatient {iop}: expected an axial grid [1, 0, 0, 0, 1, 0]",
            field="ImageOrientationPatient",
        )
    x0, y0, z0 = (float(v) for v in ds.ImagePositionPatient)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    scaling = float(getattr(ds, "DoseGridScaling", 1.0) or 1.0)
    dose = np.asarray(ds.pixel_array, dtype=float) * scaling
    if dose.ndim == 2:
        dose = dose[np.newaxis]
    offsets = np.asarray([float(v) for v in getattr(ds, "GridFrameOffsetVector", [0.0])], dtype=float)
    if offsets.size != dose.shape[0]:
        raise DoseError(
            f"{where} GridFrameOffsetVector has {offsets.size} values: expected one per frame ({dose.shape[0]})",
            field="GridFrameOffsetVector",
        )
    z = offsets + z0 if offsets[0] == 0 or not np.isclose(offsets[0], z0) else offsets
    if z.size > 1 and z[1] < z[0]:
        z, dose = z[::-1], dose[::-1]
    if summation == "FRACTION":
        if not fractions:
            raise DoseError(
                f"{where} DoseSummationType FRACTION: expected an RT Plan with "
                "NumberOfFractionsPlanned to scale the dose",
                field="DoseSummationType",
            )
        dose = dose * fractions
    x = x0 + col_mm * np.arange(dose.shape[2])
    y = y0 + row_mm * np.arange(dose.shape[1])
    return DoseGrid(x, y, z, dose), summation


def parse_structures(ds: pydicom.Dataset, source: str = "") -> list[Structure]:
    names = {int(r.ROINumber): str(r.ROIName) for r in getattr(ds, "StructureSetROISequence", None) or []}
    types = {
        int(o.ReferencedROINumber): str(getattr(o, "RTROIInterpretedType", "") or "") or None
        for o in getattr(ds, "RTROIObservationsSequence", None) or []
    }
    out = []
    for roi in getattr(ds, "ROIContourSequence", None) or []:
        number = int(roi.ReferencedROINumber)
        name = names.get(number, f"ROI {number}")
        contours = []
        for c in getattr(roi, "ContourSequence", None) or []:
            if str(getattr(c, "ContourGeometricType", "")) != "CLOSED_PLANAR":
                continue  # POINT and OPEN_PLANAR enclose no volume
            pts = np.asarray([float(v) for v in c.ContourData], dtype=float).reshape(-1, 3)
            if len(pts) < 3:
                continue
            if np.ptp(pts[:, 2]) > 0.01:
                raise DoseError(
                    f"{source or 'RT Structure Set'} ROI {name!r}: a contour spans z "
                    f"{pts[:, 2].min():.2f}..{pts[:, 2].max():.2f} mm; expected axial "
                    "(constant-z) contours",
                    field="ContourData",
                )
            contours.append((float(pts[0, 2]), pts[:, :2]))
        out.append(Structure(name, tuple(contours), number, types.get(number)))
    return out


def _dose_fractions(plan: PlanInfo | None, dose_ds: pydicom.Dataset, source: str) -> int | None:
    """The number of fractions a FRACTION-summed RT Dose is multiplied by: its fraction group's
    (RT Dose's Referenced RT Plan Sequence > Referenced Fraction Group Sequence, PS3.3 C.8.8.3),
    else the plan's only group. A plan of several groups whose dose names none is an error."""
    if plan is None:
        return None
    groups = plan.fraction_groups
    if str(getattr(dose_ds, "DoseSummationType", "")) != "FRACTION" or len(groups) <= 1:
        return plan.fractions
    named = [
        int(fg.ReferencedFractionGroupNumber)
        for rp in getattr(dose_ds, "ReferencedRTPlanSequence", None) or []
        for fg in getattr(rp, "ReferencedFractionGroupSequence", None) or []
        if "ReferencedFractionGroupNumber" in fg
    ]
    match = [g for g in groups if g["number"] in named]
    if len(match) != 1:
        raise DoseError(
            f"{source} DoseSummationType FRACTION: the plan has {len(groups)} fraction groups "
            f"and the dose names {named or 'none'}; expected one ReferencedFractionGroupNumber "
            f"among {[g['number'] for g in groups]} to scale the dose",
            field="ReferencedFractionGroupNumber",
        )
    return match[0]["fractions"]


def read_rt_folder(folder: str | Path) -> RTStudy:
    """Read every DICOM file in ``folder``: one RT Dose and one RT Structure Set are required,
    an RT Plan is optional (fractions and prescription come from it). Other modalities (CT) are
    listed in ``ignored``; a file that is not DICOM at all is an error."""
    root = Path(folder)
    if not root.is_dir():
        raise DoseError(f"folder {str(root)!r}: expected a directory of DICOM RT files", field="folder")
    plans, doses, structs, ignored = [], [], [], []
    for path in sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")):
        ds = _read(path)
        modality = str(getattr(ds, "Modality", "") or "")
        {"RTPLAN": plans, "RTDOSE": doses, "RTSTRUCT": structs}.get(modality, ignored).append(
            (path, ds) if modality in RT_MODALITIES else path.name
        )
    if not doses or not structs:
        raise DoseError(
            f"folder {root.name!r}: found {len(plans)} RT Plan, {len(doses)} RT Dose and "
            f"{len(structs)} RT Structure Set file(s); expected at least one RT Dose and "
            "one RT Structure Set",
            field="folder",
        )
    for kind, found in (("RT Plan", plans), ("RT Dose", doses), ("RT Structure Set", structs)):
        if len(found) > 1:
            raise DoseError(
                f"folder {root.name!r}: {len(found)} {kind} files "
                f"({', '.join(p.name for p, _ in found)}); expected one",
                field="folder",
            )
    plan = parse_plan(plans[0][1], plans[0][0].name) if plans else None
    dose_path, dose_ds = doses[0]
    struct_path, struct_ds = structs[0]
    grid, summation = parse_dose(
        dose_ds, fractions=_dose_fractions(plan, dose_ds, dose_path.name), source=dose_path.name
    )
    for_dose = str(getattr(dose_ds, "FrameOfReferenceUID", "") or "")
    for_struct = {
        str(getattr(r, "ReferencedFrameOfReferenceUID", "") or "")
        for r in getattr(struct_ds, "StructureSetROISequence", None) or []
    } - {""}
    if for_dose and for_struct and for_dose not in for_struct:
        raise DoseError(
            f"RT Dose FrameOfReferenceUID {for_dose}: expected the structure set's {sorted(for_struct)}",
            field="FrameOfReferenceUID",
        )
    return RTStudy(
        plan, grid, parse_structures(struct_ds, struct_path.name), summation, dose_path.name, struct_path.name, ignored
    )

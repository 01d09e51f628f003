"""Synthetic DICOM RT phantoms with analytically known DVHs (helper for the rt tests).

Shapes follow Nelms et al., Med Phys 2015;42:4435 and pymedphys `_benchmarks/_cases.py`:
a sphere (R = 10 mm), a cylinder and a cone (r = 12 mm, h = 24 mm; 10.8573 and 3.6191 cc), in a
linear dose field D = D0 + g * (distance along the gradient axis from the phantom centre).
Contours are closed planar polygons on axial planes at the centres of slabs of ``slice_mm``.
The analytic DVH is that of the true (continuous) shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy.integrate import quad
from scipy.optimize import brentq

RT_PLAN_SOP = "1.2.840.10008.5.1.4.1.1.481.5"
RT_DOSE_SOP = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCT_SOP = "1.2.840.10008.5.1.4.1.1.481.3"
CT_SOP = "1.2.840.10008.5.1.4.1.1.2"


def segment_area(r: float, u: float) -> float:
    """Area of the part of a disc of radius r beyond the chord at distance u from its centre."""
    if r <= 0 or u >= r:
        return 0.0
    if u <= -r:
        return math.pi * r * r
    return r * r * math.acos(u / r) - u * math.sqrt(r * r - u * u)


@dataclass(frozen=True)
class Phantom:
    """A shape centred at (0, 0, 0) in a linear field along ``axis`` ('x' or 'z')."""

    shape: str  # sphere | cylinder | cone
    axis: str
    d0_gy: float = 30.0
    gradient_gy_per_mm: float = 1.0
    radius_mm: float = 10.0
    height_mm: float = 24.0

    # --- geometry: shapes span z in [-h/2, h/2] (sphere: [-R, R]) ---
    @property
    def z_extent(self) -> tuple[float, float]:
        half = self.radius_mm if self.shape == "sphere" else self.height_mm / 2
        return -half, half

    def radius_at(self, z: float) -> float:
        R, H = self.radius_mm, self.height_mm
        if self.shape == "sphere":
            return math.sqrt(max(R * R - z * z, 0.0))
        if self.shape == "cylinder":
            return R if -H / 2 <= z <= H / 2 else 0.0
        return max(R * (1.0 - (z + H / 2) / H), 0.0)  # cone: base at -H/2, apex at +H/2

    @property
    def volume_mm3(self) -> float:
        R, H = self.radius_mm, self.height_mm
        return {"sphere": 4 / 3 * math.pi * R**3, "cylinder": math.pi * R * R * H,
                "cone": math.pi * R * R * H / 3}[self.shape]

    def dose_at(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        coord = {"x": x, "z": z}[self.axis]
        return self.d0_gy + self.gradient_gy_per_mm * coord

    # --- analytic cumulative DVH of the true shape ---
    def volume_at_dose_mm3(self, dose_gy: float) -> float:
        u = (dose_gy - self.d0_gy) / self.gradient_gy_per_mm  # distance along the axis
        lo, hi = self.z_extent
        if self.axis == "z":
            if u <= lo:
                return self.volume_mm3
            if u >= hi:
                return 0.0
            return quad(lambda z: math.pi * self.radius_at(z) ** 2, u, hi, limit=200)[0]
        return quad(lambda z: segment_area(self.radius_at(z), u), lo, hi, limit=200,
                    points=[0.0])[0]

    def dose_at_volume_gy(self, volume_mm3: float) -> float:
        lo, hi = self.dose_range
        return brentq(lambda d: self.volume_at_dose_mm3(d) - volume_mm3, lo, hi, xtol=1e-9)

    @property
    def dose_range(self) -> tuple[float, float]:
        lo, hi = self.z_extent if self.axis == "z" else (-self.radius_mm, self.radius_mm)
        return self.d0_gy + self.gradient_gy_per_mm * lo, self.d0_gy + self.gradient_gy_per_mm * hi

    def mean_dose_gy(self) -> float:
        lo, hi = self.z_extent
        if self.axis == "z":
            num = quad(lambda z: math.pi * self.radius_at(z) ** 2 * z, lo, hi)[0]
            return self.d0_gy + self.gradient_gy_per_mm * num / self.volume_mm3
        return self.d0_gy  # symmetric in x

    # --- contours ---
    def contours(self, slice_mm: float, n_points: int = 360) -> list[tuple[float, np.ndarray]]:
        lo, hi = self.z_extent
        n = round((hi - lo) / slice_mm)
        out = []
        t = np.linspace(0, 2 * math.pi, n_points, endpoint=False)
        for k in range(n):
            z = lo + (k + 0.5) * slice_mm
            r = self.radius_at(z)
            if r <= 0:
                continue
            # circumscribe slightly so the polygon area equals the circle area
            r_poly = r * math.sqrt(2 * math.pi / (n_points * math.sin(2 * math.pi / n_points)))
            out.append((z, np.column_stack([r_poly * np.cos(t), r_poly * np.sin(t)])))
        return out


def _base(modality: str, sop_class: str, frame_uid: str, study_uid: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientID = "PHANTOM"
    ds.PatientName = "Phantom^Analytic"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = frame_uid
    return ds


def write_phantom_study(folder: Path, structures: dict[str, list[tuple[float, np.ndarray]]],
                        dose_fn, *, grid_mm: float, extent_mm: tuple[float, float, float],
                        fractions: int | None = 5, prescription_gy: float | None = 35.0,
                        dose_units: str = "GY", summation: str = "PLAN", plan_label: str = "PHANTOM",
                        grid_offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
                        dose_scale: float = 1e-4,
                        targets: list[tuple[str | None, float | None]] | None = None,
                        fraction_groups: list[tuple[int, list[int]]] | None = None,
                        dose_fraction_group: int | None = None) -> Path:
    """Write RTSTRUCT, RTDOSE and (if ``fractions``) RTPLAN files for the given contours and a dose
    function ``dose_fn(x, y, z)`` sampled on a grid of ``grid_mm`` covering +/- ``extent_mm``.
    ``targets`` lists the plan's TARGET dose references as (structure name or None, dose); by
    default one unnamed target at ``prescription_gy``. ``fraction_groups`` lists the plan's fraction
    groups as (fractions, dose reference numbers it delivers; targets are numbered from 1); by
    default one group of ``fractions`` naming no dose reference. ``dose_fraction_group`` makes the
    RT Dose reference that fraction group (Referenced RT Plan Sequence)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame_uid, study_uid = generate_uid(), generate_uid()

    ss = _base("RTSTRUCT", RT_STRUCT_SOP, frame_uid, study_uid)
    ss.StructureSetLabel = "PHANTOM"
    ss.StructureSetROISequence, ss.ROIContourSequence, ss.RTROIObservationsSequence = [], [], []
    for number, (name, contours) in enumerate(structures.items(), start=1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        roi.ReferencedFrameOfReferenceUID = frame_uid
        ss.StructureSetROISequence.append(roi)
        rc = Dataset()
        rc.ReferencedROINumber = number
        rc.ContourSequence = []
        for z, xy in contours:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(xy)
            c.ContourData = [float(f"{v:.6f}") for p in xy for v in (p[0], p[1], z)]
            rc.ContourSequence.append(c)
        ss.ROIContourSequence.append(rc)
        obs = Dataset()
        obs.ObservationNumber, obs.ReferencedROINumber = number, number
        obs.RTROIInterpretedType = "ORGAN"
        ss.RTROIObservationsSequence.append(obs)
    pydicom.dcmwrite(folder / "RS.phantom.dcm", ss, enforce_file_format=True)

    ox, oy, oz = grid_offset_mm
    xs = ox + np.arange(-extent_mm[0], extent_mm[0] + 1e-9, grid_mm)
    ys = oy + np.arange(-extent_mm[1], extent_mm[1] + 1e-9, grid_mm)
    zs = oz + np.arange(-extent_mm[2], extent_mm[2] + 1e-9, grid_mm)
    Z, Y, X = np.meshgrid(zs, ys, xs, indexing="ij")
    dose = dose_fn(X, Y, Z)
    rd = _base("RTDOSE", RT_DOSE_SOP, frame_uid, study_uid)
    rd.DoseUnits, rd.DoseType, rd.DoseSummationType = dose_units, "PHYSICAL", summation
    rd.ImagePositionPatient = [float(xs[0]), float(ys[0]), float(zs[0])]
    rd.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    rd.PixelSpacing = [grid_mm, grid_mm]
    rd.GridFrameOffsetVector = [float(v) for v in zs - zs[0]]
    rd.NumberOfFrames = len(zs)
    rd.Rows, rd.Columns = len(ys), len(xs)
    rd.SamplesPerPixel, rd.PhotometricInterpretation = 1, "MONOCHROME2"
    rd.BitsAllocated, rd.BitsStored, rd.HighBit, rd.PixelRepresentation = 32, 32, 31, 0
    rd.DoseGridScaling = dose_scale
    rd.PixelData = np.round(dose / dose_scale).astype("<u4").tobytes()
    if dose_fraction_group is not None:
        ref_fg = Dataset()
        ref_fg.ReferencedFractionGroupNumber = dose_fraction_group
        ref_plan = Dataset()
        ref_plan.ReferencedSOPClassUID = RT_PLAN_SOP
        ref_plan.ReferencedSOPInstanceUID = generate_uid()
        ref_plan.ReferencedFractionGroupSequence = [ref_fg]
        rd.ReferencedRTPlanSequence = [ref_plan]
    pydicom.dcmwrite(folder / "RD.phantom.dcm", rd, enforce_file_format=True)

    if fractions is not None:
        rp = _base("RTPLAN", RT_PLAN_SOP, frame_uid, study_uid)
        rp.RTPlanLabel = plan_label
        rp.RTPlanGeometry = "PATIENT"
        rp.FractionGroupSequence = []
        for number, (n_fx, dose_refs) in enumerate(fraction_groups or [(fractions, [])], start=1):
            fg = Dataset()
            fg.FractionGroupNumber, fg.NumberOfFractionsPlanned = number, n_fx
            if dose_refs:
                fg.ReferencedDoseReferenceSequence = []
                for k in dose_refs:
                    r = Dataset()
                    r.ReferencedDoseReferenceNumber = k
                    fg.ReferencedDoseReferenceSequence.append(r)
            rp.FractionGroupSequence.append(fg)
        if targets is None:
            targets = [] if prescription_gy is None else [(None, prescription_gy)]
        numbers = {name: k for k, name in enumerate(structures, start=1)}
        refs = []
        for k, (name, dose) in enumerate(targets, start=1):
            ref = Dataset()
            ref.DoseReferenceNumber, ref.DoseReferenceStructureType = k, "VOLUME"
            ref.DoseReferenceType = "TARGET"
            if dose is not None:
                ref.TargetPrescriptionDose = dose
            if name is not None:
                ref.ReferencedROINumber = numbers[name]
            refs.append(ref)
        if refs:
            rp.DoseReferenceSequence = refs
        pydicom.dcmwrite(folder / "RP.phantom.dcm", rp, enforce_file_format=True)
    return folder


def write_ct_slice(path: Path) -> Path:
    """A minimal CT image (not RT), for the 'not an RT file' tests."""
    ds = _base("CT", CT_SOP, generate_uid(), generate_uid())
    ds.Rows, ds.Columns = 2, 2
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.zeros((2, 2), "<u2").tobytes()
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path

"""DICOM RT reading: plan/dose/structure parsing and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from oligotrial.adapters.io.dicom_rt import read_rt_file, read_rt_folder
from oligotrial.domain.radiotherapy.dvh import DoseGrid, Structure, compute_dvh
from oligotrial.errors import DoseError
from rt_phantoms import Phantom, write_ct_slice, write_phantom_study

SPHERE = Phantom("sphere", "z")


def _study(tmp_path, **kw):
    return write_phantom_study(tmp_path, {"GTV": SPHERE.contours(1.0)}, SPHERE.dose_at, grid_mm=2.0,
                               extent_mm=(14, 14, 14), **kw)


def test_rt_read_plan_dose_structures(tmp_path):
    _study(tmp_path, fractions=3, prescription_gy=30.0, plan_label="SABR 30/3")
    study = read_rt_folder(tmp_path)
    assert study.plan.fractions == 3 and study.plan.prescription_gy == 30.0
    assert study.plan.label == "SABR 30/3"
    assert [s.name for s in study.structures] == ["GTV"]
    assert study.dose.dose_gy.max() == pytest.approx(44.0, abs=1e-3)
    assert study.dose_summation == "PLAN"


def test_rt_fraction_dose_is_scaled_by_the_plan(tmp_path):
    _study(tmp_path, fractions=5, summation="FRACTION")
    study = read_rt_folder(tmp_path)
    assert study.dose.dose_gy.max() == pytest.approx(5 * 44.0, abs=1e-2)


def test_rt_relative_dose_is_rejected(tmp_path):
    _study(tmp_path, dose_units="RELATIVE")
    with pytest.raises(DoseError, match="DoseUnits 'RELATIVE': expected GY"):
        read_rt_folder(tmp_path)


def test_rt_beam_dose_is_rejected(tmp_path):
    _study(tmp_path, summation="BEAM")
    with pytest.raises(DoseError, match="BEAM and CONTROL_POINT are partial"):
        read_rt_folder(tmp_path)


def test_rt_pydicom_toy_rtdose_is_rejected():
    # pydicom's rtdose.dcm: DoseUnits RELATIVE? / DoseSummationType BEAM (radiotherapy-dose.md §0)
    from oligotrial.adapters.io.dicom_rt import parse_dose

    ds = pydicom.dcmread(get_testdata_file("rtdose.dcm"))
    with pytest.raises(DoseError):
        parse_dose(ds, source="rtdose.dcm")


def test_rt_pydicom_rtplan_is_read():
    from oligotrial.adapters.io.dicom_rt import parse_plan

    plan = parse_plan(pydicom.dcmread(get_testdata_file("rtplan.dcm")))
    assert plan.fractions == 30
    assert plan.prescription_gy == pytest.approx(30.83, abs=0.01)
    # its one fraction group names no dose reference: it still delivers the plan's only target
    assert [(t["dose_reference_number"], t["fraction_group"], t["fractions"]) for t in plan.targets] == [(2, 1, 30)]


def test_rt_target_without_a_dose_reference_number_in_a_multi_group_plan():
    """With two fraction groups, a TARGET without DoseReferenceNumber cannot be named by either:
    its fractions stay unknown and the reason says so (pydicom's sample plan, one group added)."""
    from pydicom.dataset import Dataset

    from oligotrial.adapters.io.dicom_rt import parse_plan

    ds = pydicom.dcmread(get_testdata_file("rtplan.dcm"))
    boost = Dataset()
    boost.FractionGroupNumber, boost.NumberOfFractionsPlanned = 2, 5
    ds.FractionGroupSequence.append(boost)
    del ds.DoseReferenceSequence[1].DoseReferenceNumber
    (target,) = parse_plan(ds).targets
    assert target["fractions"] is None
    assert target["fractions_problem"] == ("the plan has 2 fraction groups and the target has no "
                                           "DoseReferenceNumber for one of them to name")


def test_rt_not_rt_file_and_not_dicom(tmp_path):
    ct = write_ct_slice(tmp_path / "ct.dcm")
    with pytest.raises(DoseError, match="Modality 'CT' is not DICOM RT"):
        read_rt_file(ct)
    junk = tmp_path / "notes.txt"
    junk.write_text("not dicom")
    with pytest.raises(DoseError, match="notes.txt: not a readable DICOM file"):
        read_rt_file(junk)


def test_rt_folder_needs_dose_and_structures(tmp_path):
    write_ct_slice(tmp_path / "ct.dcm")
    with pytest.raises(DoseError, match="expected at least one RT Dose and one RT Structure Set"):
        read_rt_folder(tmp_path)
    with pytest.raises(DoseError, match="expected a directory"):
        read_rt_folder(tmp_path / "missing")


def test_rt_ct_files_in_the_folder_are_ignored(tmp_path):
    _study(tmp_path)
    write_ct_slice(tmp_path / "CT.1.dcm")
    assert read_rt_folder(tmp_path).ignored == ["CT.1.dcm"]


def test_rt_dose_grid_must_cover_the_structure(tmp_path):
    # a 14 mm grid half-width cannot hold a 10 mm sphere moved 8 mm along x
    moved = [(z, xy + np.array([8.0, 0.0])) for z, xy in SPHERE.contours(1.0)]
    write_phantom_study(tmp_path, {"PTV": moved}, SPHERE.dose_at, grid_mm=2.0, extent_mm=(14, 14, 14))
    study = read_rt_folder(tmp_path)
    with pytest.raises(DoseError, match="'PTV': the dose grid does not cover it") as err:
        compute_dvh(study.structures[0], study.dose)
    assert err.value.code == "dose_grid_coverage"


def test_rt_holes_and_islands_even_odd(tmp_path):
    # a 10 mm square with a 5 mm square hole on 4 planes, plus a separate 2 mm island
    sq = lambda c, h: np.array([[c[0] - h, c[1] - h], [c[0] + h, c[1] - h], [c[0] + h, c[1] + h], [c[0] - h, c[1] + h]])
    contours = []
    for z in (-1.5, -0.5, 0.5, 1.5):
        contours += [(z, sq((0, 0), 5)), (z, sq((0, 0), 2.5)), (z, sq((9, 9), 1))]
    grid = DoseGrid(np.arange(-12, 13.0), np.arange(-12, 13.0), np.arange(-4, 5.0),
                    np.full((9, 25, 25), 10.0))
    dvh = compute_dvh(Structure("ring", tuple(contours)), grid)
    assert dvh.volume_cc == pytest.approx((100 - 25 + 4) * 4 / 1000, rel=1e-9)


def test_rt_single_plane_structure_needs_thickness():
    grid = DoseGrid(np.arange(-5, 6.0), np.arange(-5, 6.0), np.arange(-2, 3.0), np.ones((5, 11, 11)))
    s = Structure("flat", ((0.0, np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)),))
    with pytest.raises(DoseError, match="slice_thickness_mm"):
        compute_dvh(s, grid)
    assert compute_dvh(s, grid, slice_thickness_mm=2.0).volume_cc == pytest.approx(0.008)


def test_rt_dose_grid_validation():
    with pytest.raises(DoseError, match="strictly increasing"):
        DoseGrid(np.array([0.0, 0.0]), np.arange(2.0), np.arange(2.0), np.zeros((2, 2, 2)))
    with pytest.raises(DoseError, match=">= 0 Gy"):
        DoseGrid(np.arange(2.0), np.arange(2.0), np.arange(2.0), -np.ones((2, 2, 2)))

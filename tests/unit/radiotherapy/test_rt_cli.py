"""`oligotrial rt` through a CLI runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli import rt
from rt_phantoms import Phantom, write_phantom_study

runner = CliRunner()


@pytest.mark.parametrize("dose, fx, ab, bed, eqd2", [(8, 1, 10, 14.4, 12.0), (54, 3, 10, 151.2, 126.0),
                                                     (30, 10, 2, 75.0, 37.5)])
def test_rt_cli_bed_json(dose, fx, ab, bed, eqd2):
    result = runner.invoke(rt.app, ["bed", "--dose-gy", str(dose), "--fractions", str(fx),
                                    "--alpha-beta", str(ab), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"bed_gy": bed, "eqd2_gy": eqd2}


def test_rt_cli_bed_text_and_models():
    result = runner.invoke(rt.app, ["bed", "--dose-gy", "54", "--fractions", "3", "--alpha-beta", "10"])
    assert result.exit_code == 0 and "BED 151.2000 Gy" in result.stdout
    lql = runner.invoke(rt.app, ["bed", "--dose-gy", "54", "--fractions", "3", "--alpha-beta", "10",
                                 "--model", "lql", "--transition-dose-gy", "6", "--json"])
    assert json.loads(lql.stdout)["bed_gy"] == 108.0


@pytest.mark.parametrize("args, text", [
    (["--dose-gy", "30", "--fractions", "0", "--alpha-beta", "10"], "fractions 0"),
    (["--dose-gy", "-1", "--fractions", "3", "--alpha-beta", "10"], "dose_gy -1"),
    (["--dose-gy", "30", "--fractions", "3", "--alpha-beta", "0"], "alpha_beta_gy 0"),
])
def test_rt_cli_bed_bad_input_exits_2(args, text):
    result = runner.invoke(rt.app, ["bed", *args])
    assert result.exit_code == 2
    assert text in result.output and "expected" in result.output


def _rx(tmp_path, lesions, **extra):
    p = tmp_path / "rx.json"
    p.write_text(json.dumps({"lesions": lesions, **extra}))
    return p


def test_rt_cli_check_prescription_pass_and_fail(tmp_path):
    ok = _rx(tmp_path, [{"id": "L1", "dose_gy": 35, "fractions": 5, "technique": "SBRT", "site": "bone"}])
    result = runner.invoke(rt.app, ["check", str(ok), "--trial", "NCT06523673", "--arm", "sbrt", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "pass" and out["lesions"][0]["regimen"] == "30-50 Gy/5 fractions"
    assert "sabr_comet:bone" in out["lesions"][0]["reference_matches"]
    bad = _rx(tmp_path, [{"id": "L1", "dose_gy": 8, "fractions": 1, "technique": "SABR"}])
    result = runner.invoke(rt.app, ["check", str(bad), "--trial", "STOP-2", "--arm", "sabr"])
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "below the allowed 16-60 Gy" in result.stdout


def test_rt_cli_check_bad_inputs_exit_2(tmp_path):
    zero = _rx(tmp_path, [{"id": "L1", "dose_gy": 30, "fractions": 0}])
    result = runner.invoke(rt.app, ["check", str(zero), "--trial", "NCT06523673", "--arm", "sbrt"])
    assert result.exit_code == 2 and "lesions[0].fractions" in result.output
    ok = _rx(tmp_path, [{"id": "L1", "dose_gy": 30, "fractions": 3}])
    result = runner.invoke(rt.app, ["check", str(ok), "--trial", "NCT06523673", "--arm", "nope"])
    assert result.exit_code == 2 and "arm 'nope'" in result.output


def _folder(tmp_path, fractions=3, prescription=30.0):
    cord = Phantom("cylinder", "x", d0_gy=10.0, gradient_gy_per_mm=0.5, radius_mm=5.0, height_mm=20.0)
    ptv = Phantom("sphere", "x", d0_gy=10.0, gradient_gy_per_mm=0.5, radius_mm=6.0)
    write_phantom_study(tmp_path / "plan", {"SpinalCord": cord.contours(1.0), "PTV": ptv.contours(1.0)},
                        cord.dose_at, grid_mm=2.0, extent_mm=(14, 14, 14), fractions=fractions,
                        prescription_gy=prescription)
    return tmp_path / "plan"


def test_rt_cli_dvh_json_and_plot(tmp_path):
    folder = _folder(tmp_path)
    png = tmp_path / "dvh.png"
    result = runner.invoke(rt.app, ["dvh", str(folder), "--json", "--plot", str(png)])
    out = json.loads(result.stdout)
    names = [s["structure"] for s in out["structures"]]
    assert names == ["SpinalCord", "PTV"]
    cord = out["structures"][0]
    assert cord["dmax_gy"] == pytest.approx(12.5, abs=0.01)  # 10 + 0.5 * 5 mm
    statuses = {(r["set"], r["metric"]): r["status"] for r in out["oar"]["results"]}
    assert statuses[("tg101", "Dmax")] == "pass"  # 12.5 <= 21.9 (3 fx)
    assert set(statuses.values()) == {"pass"}
    assert out["oar"]["unmatched_structures"] == ["PTV"]
    assert result.exit_code == 0
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_rt_cli_dvh_mandatory_fail_exits_1(tmp_path):
    folder = _folder(tmp_path, fractions=1, prescription=20.0)  # 1 fx: cord D1.2cc > 7 Gy
    result = runner.invoke(rt.app, ["dvh", str(folder)])
    assert result.exit_code == 1 and "mandatory_fail" in result.stdout


def test_rt_cli_check_dicom_folder(tmp_path):
    folder = _folder(tmp_path)
    result = runner.invoke(rt.app, ["check", str(folder), "--trial", "NCT06523673", "--arm", "sbrt",
                                    "--technique", "SBRT", "--json"])
    out = json.loads(result.stdout)
    assert out["lesions"][0]["dose_gy"] == 30.0 and out["lesions"][0]["fractions"] == 3
    assert out["oar"]["worst"] == "pass"
    assert out["status"] == "pass" and result.exit_code == 0


def test_rt_cli_dvh_not_rt_folder_exits_2(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    result = runner.invoke(rt.app, ["dvh", str(tmp_path)])
    assert result.exit_code == 2 and "not a readable DICOM file" in result.output


def _two_lesion_plan(tmp_path, fraction_groups=None, **kw):
    """A cord and two PTVs (PTV_lung 30 Gy, PTV_adrenal 24 Gy); one 3-fraction group unless
    ``fraction_groups`` says otherwise."""
    cord = Phantom("cylinder", "x", d0_gy=10.0, gradient_gy_per_mm=0.5, radius_mm=5.0, height_mm=20.0)
    ptv = Phantom("sphere", "x", d0_gy=10.0, gradient_gy_per_mm=0.5, radius_mm=6.0)
    return write_phantom_study(tmp_path / "plan", {"SpinalCord": cord.contours(1.0), "PTV_lung": ptv.contours(1.0),
                                                   "PTV_adrenal": ptv.contours(1.0)},
                               cord.dose_at, grid_mm=2.0, extent_mm=(14, 14, 14), fractions=3,
                               targets=[("PTV_lung", 30.0), ("PTV_adrenal", 24.0)],
                               fraction_groups=fraction_groups, **kw)


def test_rt_cli_check_dicom_checks_each_target_as_its_own_lesion(tmp_path):
    """A plan treating two lesions (two TARGET dose references, each naming its structure) is
    checked lesion by lesion: the 30 Gy/3 target fits the SBRT arm, the 24 Gy/3 one does not."""
    folder = _two_lesion_plan(tmp_path)
    result = runner.invoke(rt.app, ["check", str(folder), "--trial", "NCT06523673", "--arm", "sbrt",
                                    "--technique", "SBRT", "--json"])
    out = json.loads(result.stdout)
    assert [(x["lesion"], x["dose_gy"], x["fractions"]) for x in out["lesions"]] == \
        [("PTV_lung", 30.0, 3), ("PTV_adrenal", 24.0, 3)]
    assert [x["status"] for x in out["lesions"]] == ["pass", "fail"]
    assert out["status"] == "fail" and result.exit_code == 1


def test_rt_cli_check_dicom_target_without_dose_is_named(tmp_path):
    cord = Phantom("cylinder", "x", d0_gy=10.0, gradient_gy_per_mm=0.5, radius_mm=5.0, height_mm=20.0)
    folder = write_phantom_study(tmp_path / "plan", {"SpinalCord": cord.contours(1.0), "PTV": cord.contours(1.0)},
                                 cord.dose_at, grid_mm=2.0, extent_mm=(14, 14, 14), fractions=3,
                                 targets=[("PTV", 30.0), (None, None)])
    result = runner.invoke(rt.app, ["check", str(folder), "--trial", "NCT06523673", "--arm", "sbrt"])
    assert result.exit_code == 2 and "'target 2': no TargetPrescriptionDose" in result.output


def test_rt_cli_check_dicom_each_target_takes_its_fraction_groups_fractions(tmp_path):
    """Two fraction groups (PS3.3 RT Fraction Scheme): group 1 delivers dose reference 1 in 3
    fractions, group 2 dose reference 2 in 8. Each lesion is checked on its own group's schedule
    (24 Gy/8 is not an SBRT schedule of the arm either way, but it is judged as 8 fractions, not
    as the first group's 3); the plan's total is 11 fractions."""
    folder = _two_lesion_plan(tmp_path, [(3, [1]), (8, [2])])
    result = runner.invoke(rt.app, ["check", str(folder), "--trial", "NCT06523673", "--arm", "sbrt",
                                    "--technique", "SBRT", "--json"])
    out = json.loads(result.stdout)
    assert [(x["lesion"], x["dose_gy"], x["fractions"]) for x in out["lesions"]] == \
        [("PTV_lung", 30.0, 3), ("PTV_adrenal", 24.0, 8)]
    from oligotrial.adapters.io.dicom_rt import read_rt_folder

    plan = read_rt_folder(folder).plan
    assert plan.fractions == 11 and [g["fractions"] for g in plan.fraction_groups] == [3, 8]


@pytest.mark.parametrize("groups, text", [
    ([(3, [1]), (8, [])], "'PTV_adrenal': the plan has 2 fraction groups and none names dose reference 2"),
    ([(3, [1, 2]), (8, [2])], "'PTV_adrenal': fraction groups 1, 2 all deliver it"),
])
def test_rt_cli_check_dicom_target_without_one_fraction_group_is_an_error(tmp_path, groups, text):
    """A target that no fraction group, or several, deliver has no single schedule: an error
    naming it (exit 2), never the first group's fractions."""
    folder = _two_lesion_plan(tmp_path, groups)
    result = runner.invoke(rt.app, ["check", str(folder), "--trial", "NCT06523673", "--arm", "sbrt"])
    assert result.exit_code == 2 and text in result.output


def test_fraction_dose_of_a_multi_group_plan_is_scaled_by_its_own_group(tmp_path):
    """A FRACTION-summed RT Dose is one fraction of the group it references (Referenced Fraction
    Group Sequence): x8 for group 2, not x3 (group 1) nor x11 (the plan); without a reference
    in a two-group plan the dose cannot be scaled and reading it is an error naming the field."""
    from oligotrial.adapters.io.dicom_rt import read_rt_folder
    from oligotrial.errors import DoseError

    one = read_rt_folder(_two_lesion_plan(tmp_path / "a", [(3, [1]), (8, [2])], summation="FRACTION",
                                          dose_fraction_group=2))
    plan_sum = read_rt_folder(_two_lesion_plan(tmp_path / "b", [(3, [1]), (8, [2])]))
    assert one.dose.dose_gy.max() == pytest.approx(8 * plan_sum.dose.dose_gy.max(), rel=1e-6)
    with pytest.raises(DoseError, match="expected one ReferencedFractionGroupNumber among \\[1, 2\\]") as exc:
        read_rt_folder(_two_lesion_plan(tmp_path / "c", [(3, [1]), (8, [2])], summation="FRACTION"))
    assert exc.value.field == "ReferencedFractionGroupNumber"

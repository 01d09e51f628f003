"""``oligotrial design`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli.design import app

RPACT = json.loads((Path(__file__).resolve().parents[2] / "data" /
                    "rpact_sample_size.json").read_text())
runner = CliRunner()


def _args(case: dict) -> list[str]:
    return ["sample-size", "--hazard-ratio", str(case["hazard_ratio"]), "--alpha",
            str(case["alpha"]), "--sided", str(case["sided"]), "--power", str(case["power"]),
            "--median-control-months", str(case["median_control_months"]),
            "--accrual-months", str(case["accrual_months"]),
            "--follow-up-months", str(case["follow_up_months"]),
            "--dropout-rate", str(case["dropout_rate"]),
            "--dropout-time-months", str(case["dropout_time_months"]),
            "--allocation-ratio", str(case["allocation_ratio"]),
            "--method", case["method"].lower(), "--json"]


@pytest.mark.parametrize("case", RPACT["cases"][:4], ids=[c["id"] for c in RPACT["cases"][:4]])
def test_sample_size_json_equals_rpact(case):
    result = runner.invoke(app, _args(case))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["events"] == pytest.approx(case["events"], rel=1e-4)
    assert out["subjects"] == pytest.approx(case["subjects"], rel=1e-4)
    assert out["events_ceil"] == -(-case["events"] // 1)
    assert out["subjects_ceil"] == -(-case["subjects"] // 1)


@pytest.mark.parametrize("flag,value,field", [
    ("--hazard-ratio", "0", "hazard_ratio"),
    ("--hazard-ratio", "-1", "hazard_ratio"),
    ("--accrual-months", "0", "accrual_months"),
    ("--power", "0.02", "power"),
])
def test_invalid_design_exits_2_with_message(flag, value, field):
    args = ["sample-size", "--hazard-ratio", "0.6", "--alpha", "0.025", "--power", "0.8"]
    idx = args.index(flag) if flag in args else None
    if idx is not None:
        args[idx + 1] = value
    else:
        args += [flag, value]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"{field} " in result.output
    assert "expected" in result.output


def test_simon_json():
    result = runner.invoke(app, ["simon", "--p0", "0.1", "--p1", "0.3", "--kind", "minimax",
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["r1"], out["n1"], out["r"], out["n"]) == (1, 15, 5, 25)


def test_simon_invalid_exits_2():
    result = runner.invoke(app, ["simon", "--p0", "0.3", "--p1", "0.2"])
    assert result.exit_code == 2
    assert "p1 0.2" in result.output


def test_simulate_json():
    result = runner.invoke(app, ["simulate", "--n-subjects", "100", "--hazard-ratio", "0.6",
                                 "--median-control-months", "6", "--accrual-months", "12",
                                 "--events", "70", "--trials", "500", "--seed", "3",
                                 "--backend", "numba", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n_trials"] == 500
    assert 0.0 < out["rejection_rate"] < 1.0
    assert out["events"]["mean"] == 70


def test_simulate_needs_one_analysis_trigger():
    result = runner.invoke(app, ["simulate", "--n-subjects", "100", "--hazard-ratio", "0.6",
                                 "--median-control-months", "6", "--accrual-months", "12"])
    assert result.exit_code == 2
    assert "events_target" in result.output


def test_report_writes_png_and_json(tmp_path):
    result = runner.invoke(app, ["report", "--trial", "NCT06523673", "--out", str(tmp_path),
                                 "--sim-trials", "200"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "NCT06523673_power_curve.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / "NCT06523673_report.json").read_text())
    assert report["derived"]["registered_enrolment_compared"] == 104
    assert "registry" in (tmp_path / "NCT06523673_report.md").read_text()


def test_report_unknown_trial_exits_2(tmp_path):
    result = runner.invoke(app, ["report", "--trial", "NCT00000000", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "trial 'NCT00000000'" in result.output


def test_design_group_is_registered_on_the_root_cli():
    from oligotrial.adapters.cli.main import app as root

    result = runner.invoke(root, ["design", "--help"])
    assert result.exit_code == 0
    assert "sample-size" in result.output

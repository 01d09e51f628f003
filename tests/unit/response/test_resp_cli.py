"""The assess / classify / endpoints commands, through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "format_example_patient.json"


def test_resp_cli_assess_json_matches_format():
    res = runner.invoke(app, ["assess", str(EXAMPLE), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for key in ("format", "patient", "criteria", "baseline", "targets", "non_targets", "timepoints",
                "best_overall_response", "first_progression", "notes"):
        assert key in doc
    assert doc["format"] == "oligotrial.assessment/1" and doc["criteria"] == "RECIST 1.1"
    tp = doc["timepoints"][0]
    for key in ("date", "target_sum_mm", "change_from_baseline_pct", "change_from_nadir_mm", "target",
                "non_target", "new_lesions", "overall"):
        assert key in tp
    assert doc["targets"] == ["L1", "L2"] and tp["overall"] == "PD" and doc["first_progression"] == "2026-02-20"


def test_resp_cli_assess_table_and_plot(tmp_path):
    png = tmp_path / "spider.png"
    res = runner.invoke(app, ["assess", str(EXAMPLE), "--criteria", "irecist", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "iUPD" in res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [["--criteria", "who"], ["--baseline", "2030-01-01"], ["--start", "yesterday"]])
def test_resp_cli_assess_bad_options_exit_2(args):
    res = runner.invoke(app, ["assess", str(EXAMPLE), *args])
    assert res.exit_code == 2
    assert "error" in res.output


def test_resp_cli_bad_record_exit_2(tmp_path):
    data = json.loads(EXAMPLE.read_text())
    data["assessments"][1]["findings"][1]["diameter_mm"] = 12   # node measured by LD
    del data["assessments"][1]["findings"][1]["short_axis_mm"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    res = runner.invoke(app, ["assess", str(bad)])
    assert res.exit_code == 2 and "short_axis_mm" in res.output


def test_resp_cli_classify_and_endpoints():
    res = runner.invoke(app, ["classify", str(EXAMPLE), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["state"] == "unknown"
    res = runner.invoke(app, ["endpoints", str(EXAMPLE), "--trial", "STOP-2", "--start", "2025-01-08", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert {e["endpoint"] for e in doc["endpoints"]} >= {"pfs_nest", "os", "pfs"}
    res = runner.invoke(app, ["endpoints", str(EXAMPLE), "--trial", "STOP-2", "--start", "2025-01-08"])
    assert res.exit_code == 0 and "pfs_nest" in res.output
    res = runner.invoke(app, ["endpoints", str(EXAMPLE), "--trial", "NOPE"])
    assert res.exit_code == 2

"""``oligotrial analysis survival`` through typer's CliRunner, and its Kaplan-Meier plot."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_survival import CASES, DATA, assert_matches
from typer.testing import CliRunner

from oligotrial.adapters.cli.analysis import app

runner = CliRunner()


def _args(case: dict) -> list[str]:
    a = case["args"]
    out = ["survival", str(DATA / case["file"]), "--time", a["time"], "--event", a["event"], "--group", a["group"],
           "--conf-type", a["conf_type"], "--json"]
    if a["strata"]:
        out += ["--strata", a["strata"]]
    if a["at"]:
        out += ["--at", ",".join(f"{t:g}" for t in a["at"])]
    if a["tau"] is not None:
        out += ["--tau", str(a["tau"])]
    if a["reference"]:
        out += ["--reference", a["reference"]]
    return out


@pytest.mark.parametrize("case_id", ["spec_example", "veteran_trt_strata", "ovarian_rx", "lung_days_ecog_loglog"])
def test_json_equals_r(case_id):
    result = runner.invoke(app, _args(CASES[case_id]))
    assert result.exit_code == 0, result.output
    assert_matches(json.loads(result.stdout), CASES[case_id]["expected"], case_id)


def test_registered_under_the_root_command():
    from oligotrial.adapters.cli.main import app as root

    result = runner.invoke(root, ["analysis", *_args(CASES["spec_example"])])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "oligotrial.survival-analysis/1"


@pytest.mark.parametrize("body,row,column", [
    ("m,e,g\n1,1,a\n-2,0,b\n", 2, "m"),
    ("m,e,g\n1,1,a\n2,0,b\n3,2,a\n", 3, "e"),
    ("m,e,g\n1,1,a\n2,0,\n", 2, "g"),
    ("m,e,g\n,1,a\n", 1, "m"),
])
def test_a_bad_row_exits_2_naming_row_and_column_and_prints_no_result(tmp_path, body, row, column):
    f = tmp_path / "d.csv"
    f.write_text(body)
    result = runner.invoke(app, ["survival", str(f), "--time", "m", "--event", "e", "--group", "g", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"row {row}, column {column!r}" in result.stderr


def test_a_missing_stratum_exits_2(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("m,e,g,s\n1,1,a,x\n2,0,b,\n")
    result = runner.invoke(app, ["survival", str(f), "--time", "m", "--event", "e", "--group", "g", "--strata", "s"])
    assert result.exit_code == 2 and "row 2, column 's'" in result.stderr


@pytest.mark.parametrize("extra,words", [(["--at", "6,x"], "--at"), (["--reference", "zz"], "reference 'zz'"),
                                         (["--tau", "-1"], "tau")])
def test_bad_options_exit_2(extra, words):
    result = runner.invoke(app, ["survival", str(DATA / "ovarian.csv"), "--time", "futime", "--event", "fustat",
                                 "--group", "rx", *extra])
    assert result.exit_code == 2 and words in result.stderr


def test_table_output_and_plot(tmp_path):
    png = tmp_path / "km.png"
    result = runner.invoke(app, ["survival", str(DATA / "veteran.csv"), "--time", "days", "--event", "status",
                                 "--group", "trt", "--strata", "celltype", "--at", "90", "--tau", "180",
                                 "--time-unit", "days", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    for words in ("standard", "test", "Log-rank", "Stratified log-rank", "stratified by celltype", "1.184"):
        assert words in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_numbers_at_risk_sit_under_the_ticks():
    from oligotrial.adapters.io.km_plot import plot_kaplan_meier

    df = pd.read_csv(DATA / "lung_months.csv")
    fig = plot_kaplan_meier(df.months, df.dead, df.sex, None, reference="male")
    ax, risk_ax = fig.axes
    ticks = list(ax.get_xticks())
    assert [t.get_text() for t in risk_ax.get_yticklabels()] == ["female", "male"]   # male (reference) on top
    texts = {(round(t.get_position()[0], 9), t.get_position()[1]): t.get_text() for t in risk_ax.texts}
    for row, label in ((1, "male"), (0, "female")):
        times = np.sort(df.months[df.sex == label].to_numpy())
        for tick in ticks:
            assert texts[(round(tick, 9), row)] == str(int((times >= tick).sum()))
    assert texts[(0.0, 1)] == "138" and texts[(0.0, 0)] == "90"
    # one step line per group, the medians drawn (dashed) where reached
    assert sum(1 for line in ax.lines if line.get_linestyle() == "--") == 4


def test_table_output_of_every_event_at_one_time_and_median_follow_up(tmp_path):
    """Issue 26 item 6: every event at one time has no log-rank variance (R's survdiff stops);
    the table says the test is not defined (it raised before) and prints the median follow-up."""
    data = tmp_path / "once.csv"
    data.write_text("t,e,g\n" + "".join(f"2,1,{'ab'[i % 2]}\n" for i in range(10)))
    result = runner.invoke(app, ["survival", str(data), "--time", "t", "--event", "e", "--group", "g"])
    assert result.exit_code == 0, result.output
    assert "Log-rank: not defined: the log-rank variance is 0" in " ".join(result.stdout.split())
    assert "Median follow-up (reverse Kaplan-Meier, all rows): NR" in result.stdout
    res = runner.invoke(app, ["survival", str(DATA / "ovarian.csv"), "--time", "futime", "--event", "fustat",
                              "--group", "rx"])
    follow = json.loads((DATA / "follow_up.json").read_text())
    r = next(c for c in follow["cases"] if c["id"] == "ovarian_rx")["median_follow_up"]
    assert f"Median follow-up (reverse Kaplan-Meier, all rows): {r['estimate']:.4g}" in res.stdout

"""Report figures: the QoL change-from-baseline plot and the CEAC draw the numbers they are given
and write PNG files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from oligotrial.adapters.io.report_plots import ceac_figure, ceac_plot, qol_change_figure, qol_change_plot
from oligotrial.errors import AnalysisError
from oligotrial.stats import cost_effectiveness, load_cea_scenario, qol_change_from_baseline

PNG = b"\x89PNG\r\n\x1a\n"
QOL_CSV = Path(__file__).resolve().parents[2] / "data" / "qol" / "qol_change.csv"


def qol_rows():
    with QOL_CSV.open() as fh:
        rows = [{**r, "score": float(r["score"]) if r["score"] else None} for r in csv.DictReader(fh)]
    return qol_change_from_baseline(rows)


def test_qol_change_plot_draws_the_mean_changes_with_their_intervals(tmp_path):
    summary = qol_rows()
    fig = qol_change_figure(summary, title="QL2")
    ax = fig.axes[0]
    containers = {c.get_label(): c for c in ax.containers}  # one errorbar container per arm
    assert set(containers) == {"SABR", "8Gy"}
    sabr = [r for r in summary if r["arm"] == "SABR"]
    data_line, _caps, (bars,) = containers["SABR"].lines
    # baseline drawn at 0, then the mean changes
    assert np.allclose(data_line.get_ydata(), [0.0] + [r["mean_change"] for r in sabr[1:]])
    # each error bar spans the t interval of the change
    segments = bars.get_segments()
    for seg, r in zip(segments[1:], sabr[1:]):
        assert (seg[0][1], seg[1][1]) == pytest.approx((r["change_lower"], r["change_upper"]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "month_3", "month_6"]
    out = qol_change_plot(summary, tmp_path / "qol.png")
    assert out.read_bytes()[:8] == PNG


def test_ceac_plot_draws_the_psa_shares(tmp_path):
    curves, inputs, ref, _doc = load_cea_scenario("stop2")
    result = cost_effectiveness(curves, inputs, ref, psa_draws=300, seed=4)
    fig = ceac_figure(result)
    ax = fig.axes[0]
    sbrt = next(line for line in ax.get_lines() if line.get_label() == "SBRT")
    assert np.allclose(sbrt.get_ydata(), [p["probability"]["SBRT"] for p in result["psa"]["ceac"]])
    icer_lines = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(icer_lines) == 1 and icer_lines[0].get_xdata()[0] == pytest.approx(result["incremental"]["SBRT"]["icer"])
    assert ceac_plot(result, tmp_path / "ceac.png").read_bytes()[:8] == PNG


def test_ceac_needs_a_psa():
    curves, inputs, ref, _doc = load_cea_scenario("stop2")
    with pytest.raises(AnalysisError) as info:
        ceac_figure(cost_effectiveness(curves, inputs, ref, psa_draws=0))
    assert info.value.field == "psa"


def test_kaplan_meier_curves_stop_where_fewer_than_10_percent_are_at_risk():
    """Pocock, Clayton & Altman 2002 (Lancet 359:1686): curtail a Kaplan-Meier plot where few
    remain at risk. Group a: 20 participants, one leaving at each month 1..20 (10 events then 10
    censored): at least 2 at risk to month 19, then 1: drawn to 19, marked and labelled. Group b
    (10 participants, all followed to 5) never falls below 10 %: drawn whole."""
    import numpy as np

    from oligotrial.adapters.io.km_plot import plot_kaplan_meier

    time = list(range(1, 21)) + [5] * 10
    event = [1] * 10 + [0] * 10 + [0] * 10
    group = ["a"] * 20 + ["b"] * 10
    fig = plot_kaplan_meier(time, event, group, None, cut_at_risk=0.10)
    ax = fig.axes[0]
    steps = [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]
    assert [float(np.max(ln.get_xdata())) for ln in steps] == [19.0, 5.0]
    assert len([ln for ln in ax.get_lines() if ln.get_gid() == "km-cut"]) == 1
    texts = [t.get_text() for t in ax.texts]
    assert "cut: < 10% at risk (1 of 20)" in texts
    assert "curves stop where < 10% at risk" in ax.get_legend().get_title().get_text()
    whole = plot_kaplan_meier(time, event, group, None).axes[0]           # without the option: as before
    assert max(float(np.max(ln.get_xdata())) for ln in whole.get_lines() if ln.get_drawstyle() == "steps-post") == 20

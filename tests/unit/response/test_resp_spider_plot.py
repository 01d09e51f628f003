"""The spider plot of ``oligotrial assess --plot``: per-lesion % change (panel 1) and the target
sum with the RECIST 1.1 thresholds (panel 2)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oligotrial.adapters.cli.main import app
from oligotrial.adapters.io.plots import lesion_series, spider_figure, spider_plot
from oligotrial.domain.record.patient import parse_patient
from oligotrial.service.assessment import assess_patient

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"

# Baseline 2025-01-10; follow-ups on day 59 (2025-03-10), 122 (2025-05-12) and 181 (2025-07-10).
RECORD = {
    "format": "oligotrial.patient/1", "id": "P-SPIDER", "as_of": "2025-08-01",
    "birth_date": "1960-01-01", "sex": "male",
    "cancer": {"diagnosis": "NSCLC", "histology": "adenocarcinoma", "confirmation": "histology",
               "stage": "IV", "diagnosed_on": "2024-12-01"},
    "lesions": [
        {"id": "L1", "kind": "metastasis", "organ": "lung", "location": "left lower lobe"},
        {"id": "L2", "kind": "lymph_node", "organ": "lymph_node", "node_region": "mediastinal 4R"},
        {"id": "L3", "kind": "metastasis", "organ": "liver", "location": "segment VI"},
        {"id": "L5", "kind": "metastasis", "organ": "adrenal", "location": "left"},
    ],
    "assessments": [
        {"date": "2025-01-10", "modality": "CT", "findings": [
            {"lesion": "L1", "diameter_mm": 40, "target": True},
            {"lesion": "L2", "short_axis_mm": 20, "target": True},
            {"lesion": "L3", "diameter_mm": 20, "target": True},
            {"lesion": "L5", "diameter_mm": 0, "target": False}]},
        {"date": "2025-03-10", "modality": "CT", "findings": [
            {"lesion": "L1", "diameter_mm": 30},
            {"lesion": "L2", "short_axis_mm": 12},
            {"lesion": "L3", "state": "absent"}]},
        {"date": "2025-05-12", "modality": "CT", "findings": [
            {"lesion": "L1", "state": "not_evaluated"},
            {"lesion": "L2", "short_axis_mm": 15},
            {"lesion": "L3", "state": "too_small"},
            {"lesion": "L7", "new": True, "organ": "bone", "diameter_mm": 12}]},
        {"date": "2025-07-10", "modality": "CT", "findings": [
            {"lesion": "L1", "diameter_mm": 44},
            {"lesion": "L2", "short_axis_mm": 23},
            {"lesion": "L3", "state": "absent"},
            {"lesion": "L7", "diameter_mm": 15}]},
    ],
}


@pytest.fixture()
def assessed():
    patient = parse_patient(copy.deepcopy(RECORD))
    return patient, assess_patient(patient).document


def test_resp_spider_lesion_series_hand_computed(assessed):
    patient, doc = assessed
    s = lesion_series(patient, doc)
    # L1 lung, LD 40: 30 -> (30-40)/40 = -25.0 %; not_evaluated -> gap (None, not 0 or -100);
    #   44 -> +10.0 %
    # L2 node, SA 20 (short axis, RECIST 1.1): 12 -> -40.0 %; 15 -> -25.0 %; 23 -> +15.0 %
    # L3 liver, LD 20: absent = 0 mm -> -100.0 %; too_small = 5 mm -> (5-20)/20 = -75.0 %; absent -> -100.0 %
    assert s.series == {
        "L1": [(0, 0.0), (59, -25.0), (122, None), (181, 10.0)],
        "L2": [(0, 0.0), (59, -40.0), (122, -25.0), (181, 15.0)],
        "L3": [(0, 0.0), (59, -100.0), (122, -75.0), (181, -100.0)],
    }
    assert s.baseline_mm == {"L1": 40.0, "L2": 20.0, "L3": 20.0}
    assert s.measure == {"L1": "LD", "L2": "SA", "L3": "LD"}
    # L7 first seen (new: true) at the 2nd follow-up, day 122; listed once although seen again on day 181
    assert s.new_lesions == [(122, "L7")]
    assert s.notes == []


def test_resp_spider_lesion_series_zero_baseline_skipped_with_note(assessed):
    patient, doc = assessed
    doc = {**doc, "targets": [*doc["targets"], "L5"]}   # L5 measured 0 mm at baseline
    s = lesion_series(patient, doc)
    assert "L5" not in s.series and set(s.series) == {"L1", "L2", "L3"}
    assert any(n.startswith("L5: baseline size 0 mm") for n in s.notes)
    fig = spider_figure(doc, s)   # draws without dividing by zero, and says why L5 is missing
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("L5" in t and "not drawn" in t for t in texts)


def test_resp_spider_lesion_series_follows_a_later_baseline(assessed):
    patient, _ = assessed
    doc = assess_patient(patient, baseline=dt.date(2025, 3, 10)).document
    assert doc["targets"] == ["L1"]   # L2 SA 12 mm: not measurable (< 15 mm); L3 absent
    s = lesion_series(patient, doc)
    # re-baselined on 2025-03-10 (L1 LD 30): day 63 not evaluated (gap); day 122 44 -> (44-30)/30 = +46.7 %
    assert s.series == {"L1": [(0, 0.0), (63, None), (122, 46.7)]}
    assert s.new_lesions == [(63, "L7")]


def _lines(ax):
    return {ln.get_label(): ln for ln in ax.get_lines()}


def test_resp_spider_figure_structure(assessed):
    patient, doc = assessed
    fig = spider_figure(doc, lesion_series(patient, doc))
    assert len(fig.axes) == 2
    ax1, ax2 = fig.axes
    lines = _lines(ax1)
    # one line per target, labelled with its id, y = % change (0 at baseline), a gap as NaN
    for lid in ("L1", "L2", "L3"):
        assert lid in lines
        assert list(lines[lid].get_xdata()) == [0, 59, 122, 181]
    ys = list(lines["L1"].get_ydata())
    assert ys[0] == 0.0 and ys[1] == -25.0 and ys[2] != ys[2] and ys[3] == 10.0   # NaN: no point
    assert list(lines["L3"].get_ydata()) == [0.0, -100.0, -75.0, -100.0]
    # reference lines at +20 % and -30 %
    assert lines["+20 %"].get_ydata()[0] == 20.0 and lines["-30 %"].get_ydata()[0] == -30.0
    # the new lesion: a marker at day 122 and its annotation
    marks = [ln for ln in ax1.get_lines() if ln.get_gid() == "new-lesion"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [122]
    assert "new: L7" in [t.get_text() for t in ax1.texts]
    legend = [t.get_text() for t in ax1.get_legend().get_texts()]
    assert legend[:3] == ["L1 (LD 40 mm)", "L2 (SA 20 mm)", "L3 (LD 20 mm)"] and "new lesion" in legend
    # panel 2: the sums and the PD / PR thresholds
    sums = _lines(ax2)
    assert list(sums["sum of target diameters"].get_ydata()) == [80.0, 42.0, 67.0]   # day 122 sum NE
    pd = sums["PD threshold (+20 % and +5 mm over nadir)"]
    # from the first follow-up: nadir 80 -> max(96, 85) = 96; nadir 42 -> max(50.4, 47) = 50.4 (twice),
    # the last value held to the right edge
    assert pd.get_xdata()[0] == 59
    assert [round(y, 1) for y in pd.get_ydata()] == [96.0, 50.4, 50.4, 50.4]
    assert sums["PR threshold (-30 %)"].get_ydata()[0] == pytest.approx(56.0)


def test_resp_spider_figure_without_series_still_draws_the_sums(assessed):
    _, doc = assessed
    fig = spider_figure(doc)
    assert len(fig.axes) == 2
    assert "per-lesion sizes not given" in [t.get_text() for t in fig.axes[0].texts]
    assert "sum of target diameters" in _lines(fig.axes[1])


def test_resp_spider_plot_writes_png(assessed, tmp_path):
    patient, doc = assessed
    out = spider_plot(doc, tmp_path / "s.png", series=lesion_series(patient, doc))
    assert out.read_bytes()[:8] == PNG


@pytest.mark.parametrize("criteria", ["recist1.1", "irecist"])
def test_resp_spider_cli_plot(tmp_path, criteria, monkeypatch):
    rec = tmp_path / "p.json"
    rec.write_text(json.dumps(RECORD))
    png = tmp_path / "spider.png"
    seen = {}
    from oligotrial.adapters.io import plots

    real = plots.spider_figure

    def spy(document, series=None):
        seen["doc"], seen["series"] = document, series
        seen["fig"] = real(document, series)
        return seen["fig"]

    monkeypatch.setattr(plots, "spider_figure", spy)
    res = runner.invoke(app, ["assess", str(rec), "--criteria", criteria, "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == PNG and Path(png).stat().st_size > 10_000
    # the CLI passed the per-lesion series computed from the record
    assert seen["series"] is not None and set(seen["series"].series) == {"L1", "L2", "L3"}
    assert seen["series"].new_lesions == [(122, "L7")]
    assert len(seen["fig"].axes) == 2 and {"L1", "L2", "L3"} <= set(_lines(seen["fig"].axes[0]))

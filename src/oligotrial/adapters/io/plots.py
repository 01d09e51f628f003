"""Spider plot of a tumour-response assessment (matplotlib, Agg backend), in two panels:

1. one line per target lesion as per-cent change from its own baseline size over time, with the
   +20 % / -30 % reference lines and new lesions marked where they first appear;
2. the sum of target diameters over time, with the nadir, the PD threshold over the running nadir,
   the PR threshold and each time point's overall response.

:func:`lesion_series` (pure) takes the per-lesion sizes from the patient record; the
``oligotrial.assessment/1`` document carries only the sums.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from oligotrial.domain.record import Patient

#: per-lesion reference lines of panel 1 (% change from baseline) and their labels
PD_REF_PCT = 20.0
PR_REF_PCT = -30.0


@dataclass(frozen=True)
class LesionSeries:
    """Per-target-lesion trajectories of one assessment.

    ``series``: lesion id -> ``(days from baseline, % change from its baseline size)`` at the
    baseline (``(0, 0.0)``) and at every follow-up time point of the document; ``None`` where the
    lesion was not evaluated / not measured (a gap, never 0). Targets with a baseline size of 0 mm
    are left out of ``series`` and named in ``notes``. ``baseline_mm`` and ``measure`` (``"SA"``
    short axis for lymph nodes, ``"LD"`` longest diameter otherwise, RECIST 1.1 s.3.1) describe
    each drawn lesion. ``new_lesions``: ``(days, lesion id)`` of each new lesion's first appearance.
    """

    series: dict[str, list[tuple[int, float | None]]]
    baseline_mm: dict[str, float] = field(default_factory=dict)
    measure: dict[str, str] = field(default_factory=dict)
    new_lesions: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def lesion_series(patient: Patient, document: dict[str, Any]) -> LesionSeries:
    """Per-cent change of every target lesion of ``document`` (``oligotrial.assessment/1``, RECIST
    1.1 or iRECIST) from its baseline size, from the findings in ``patient``.

    Sizes as RECIST 1.1 measures targets (Eisenhauer et al., Eur J Cancer 2009;45:228-47,
    s.3.1 and s.4.3; the domain's ``target_size``): lymph nodes by short axis, other lesions by
    longest diameter; ``absent`` = 0 mm (-100 %); ``too_small`` = 5 mm; ``not_evaluated`` or no
    finding = no value. Change = (size - baseline) / baseline x 100, rounded to 0.1 %.
    """
    from oligotrial.domain.response import recist as r11

    base_date = dt.date.fromisoformat(document["baseline"])
    points = {p.date: p for p in r11.timeline(patient)}
    base = points.get(base_date)
    follow = [dt.date.fromisoformat(tp["date"]) for tp in document["timepoints"]]
    series: dict[str, list[tuple[int, float | None]]] = {}
    baseline_mm: dict[str, float] = {}
    measure: dict[str, str] = {}
    notes: list[str] = []
    for lid in document["targets"]:
        f0 = base.findings.get(lid) if base is not None else None
        lesion = r11.lesion_of(patient, lid, f0)
        size0 = r11.target_size(lesion, f0)
        if size0 is None or size0 == 0:
            what = "not measured" if size0 is None else "0 mm"
            notes.append(f"{lid}: baseline size {what}: % change undefined, not drawn")
            continue
        row: list[tuple[int, float | None]] = [(0, 0.0)]
        for d in follow:
            p = points.get(d)
            size = r11.target_size(lesion, p.findings.get(lid)) if p is not None else None
            pct = None if size is None else round(float((size - size0) / size0 * Decimal(100)), 1)
            row.append(((d - base_date).days, pct))
        series[lid] = row
        baseline_mm[lid] = float(size0)
        measure[lid] = "SA" if lesion.is_node else "LD"
    seen: set[str] = set()
    new: list[tuple[int, str]] = []
    for d in follow:
        p = points.get(d)
        for lid, f in p.findings.items() if p is not None else ():
            if f.new and lid not in seen:
                seen.add(lid)
                new.append(((d - base_date).days, lid))
    return LesionSeries(series, baseline_mm, measure, new, notes)


def spider_figure(document: dict[str, Any], series: LesionSeries | None = None) -> Figure:
    """The two-panel figure (not written anywhere); see :func:`spider_plot`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[1.15, 1])
    fig.suptitle(f"{document['patient']}: {document['criteria']} (best {document['best_overall_response']})")
    _lesion_panel(ax1, document, series)
    _sum_panel(ax2, document)
    ax2.set_xlabel(f"days from baseline {document['baseline']}")
    return fig


def spider_plot(document: dict[str, Any], path: str | Path, series: LesionSeries | None = None) -> Path:
    """Write a PNG spider plot of an ``oligotrial.assessment/1`` document to ``path``.

    Panel 1: each target lesion's per-cent change from its baseline size (``series``, from
    :func:`lesion_series`; without it the panel says so), with reference lines at +20 % and -30 %
    and new lesions marked at the time point they first appear. Panel 2: the sum of target
    diameters with the RECIST 1.1 thresholds (Eisenhauer EA et al. New response evaluation
    criteria in solid tumours: revised RECIST guideline (version 1.1). Eur J Cancer
    2009;45:228-47, s.4.3.1): PD at a sum >= 20 % over the running nadir and >= 5 mm over it
    (a step line from the first follow-up point), PR at <= 70 % of the baseline sum (-30 %).
    The per-lesion lines are a visual reference only: RECIST response is judged on the sum.
    """
    fig = spider_figure(document, series)
    out = Path(path)
    fig.savefig(out, format="png")
    return out


def _lesion_panel(ax, document: dict[str, Any], series: LesionSeries | None) -> None:
    ax.set_title("target lesions: % change from baseline size", fontsize=10)
    ax.set_ylabel("% change from baseline")
    ax.axhline(0, color="#7f7f7f", lw=0.8)
    ax.axhline(PD_REF_PCT, ls="--", color="#c00000", lw=1, label="+20 %")
    ax.axhline(PR_REF_PCT, ls="--", color="#2e7d32", lw=1, label="-30 %")
    ax.text(
        1.0,
        PD_REF_PCT,
        " +20 %",
        transform=ax.get_yaxis_transform(),
        color="#c00000",
        va="center",
        ha="left",
        fontsize=8,
        clip_on=False,
    )
    ax.text(
        1.0,
        PR_REF_PCT,
        " -30 %",
        transform=ax.get_yaxis_transform(),
        color="#2e7d32",
        va="center",
        ha="left",
        fontsize=8,
        clip_on=False,
    )
    if series is None:
        ax.text(0.5, 0.5, "per-lesion sizes not given", transform=ax.transAxes, ha="center", color="#7f7f7f")
        return
    from matplotlib.lines import Line2D

    handles, labels = [], []
    ys: list[float] = [PR_REF_PCT, PD_REF_PCT]
    gaps = False
    for lid, row in series.series.items():
        xs = [x for x, _ in row]
        vals = [float("nan") if y is None else y for _, y in row]
        ys += [y for _, y in row if y is not None]
        (line,) = ax.plot(xs, vals, "-o", ms=4, lw=1.6, label=lid)
        gaps = _bridge_gaps(ax, row, line.get_color()) or gaps
        handles.append(line)
        labels.append(f"{lid} ({series.measure[lid]} {series.baseline_mm[lid]:g} mm)")
    if gaps:
        handles.append(Line2D([], [], ls=":", lw=1, color="#404040"))
        labels.append("not evaluated (no point)")
    lo, hi = min(ys), max(ys)
    pad = max(5.0, (hi - lo) * 0.08)
    top = hi + pad * 3  # room for the new-lesion annotations
    ax.set_ylim(lo - pad, top)
    by_day: dict[int, list[str]] = {}
    for day, lid in series.new_lesions:
        by_day.setdefault(day, []).append(lid)
    for i, (day, ids) in enumerate(sorted(by_day.items())):
        ax.axvline(day, ls=":", color="#7030a0", lw=1)
        marker = ax.plot(
            [day],
            [top - pad],
            marker="*",
            ms=13,
            color="#7030a0",
            ls="none",
            label="new lesion" if i == 0 else "_new lesion",
            gid="new-lesion",
        )[0]
        if i == 0:
            handles.append(marker)
            labels.append("new lesion")
        ax.annotate(
            "new: " + ", ".join(ids),
            (day, top - pad),
            textcoords="offset points",
            xytext=(-6, 0),
            ha="right",
            va="center",
            fontsize=8,
            color="#7030a0",
        )
    if not series.series:
        ax.text(0.5, 0.5, "no target lesion to draw", transform=ax.transAxes, ha="center", color="#7f7f7f")
    if series.notes:
        ax.text(0.01, 0.02, "\n".join(series.notes), transform=ax.transAxes, fontsize=7, va="bottom", color="#7f7f7f")
    if handles:
        ax.legend(
            handles,
            labels,
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.08, 1.0),
            borderaxespad=0,
            title="target (baseline)",
            title_fontsize=8,
        )


def _bridge_gaps(ax, row: list[tuple[int, float | None]], color: str) -> bool:
    """A thin dotted connector across not-evaluated time points (no point is drawn there);
    whether the row has a gap."""
    prev, gap = None, False
    for i, (x, y) in enumerate(row):
        if y is None:
            gap = True
            continue
        if prev is not None and prev[0] != i - 1:
            ax.plot([row[prev[0]][0], x], [prev[1], y], ls=":", lw=1, color=color, label="_gap")
        prev = (i, y)
    return gap


def _sum_panel(ax, document: dict[str, Any]) -> None:
    base = dt.date.fromisoformat(document["baseline"])
    base_sum = document.get("baseline_sum_mm")
    pts = [(0, base_sum, "baseline")]
    for tp in document["timepoints"]:
        days = (dt.date.fromisoformat(tp["date"]) - base).days
        pts.append((days, tp["target_sum_mm"], tp["overall"]))
    ax.set_title("sum of target diameters", fontsize=10)
    xs = [p[0] for p in pts if p[1] is not None]
    ys = [p[1] for p in pts if p[1] is not None]
    tops = list(ys)
    if ys:
        ax.plot(xs, ys, "-o", color="#1f4e79", label="sum of target diameters")
        # PD threshold for each follow-up point: >= 1.2 x nadir and >= nadir + 5 mm, the nadir
        # being the smallest sum before that point (baseline included)
        nadir, line_x, line_y = None, [], []
        for x, y, _ in pts:
            if nadir is not None:
                line_x.append(x)
                line_y.append(max(nadir * 1.2, nadir + 5))
            if y is not None:
                nadir = y if nadir is None else min(nadir, y)
        if line_x:
            end = max(line_x[-1] + max(line_x[-1] * 0.04, 1), xs[-1])
            ax.step(
                [*line_x, end],
                [*line_y, line_y[-1]],
                where="post",
                ls="--",
                color="#c00000",
                label="PD threshold (+20 % and +5 mm over nadir)",
            )
            ax.plot(line_x, line_y, ls="none", marker="_", ms=10, mew=2, color="#c00000")
            tops += line_y
        ax.axhline(min(ys), ls=":", color="#7f7f7f", label=f"nadir {min(ys):g} mm")
        if base_sum:
            ax.axhline(base_sum * 0.7, ls="-.", color="#2e7d32", lw=0.8, label="PR threshold (-30 %)")
    for x, y, label in pts:
        ax.annotate(
            label if y is not None else f"{label} (sum NE)",
            (x, y if y is not None else 0),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
        )
    ax.set_ylabel("mm")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.08, 1.0), borderaxespad=0)
    ax.set_ylim(bottom=0, top=max(tops, default=1) * 1.15)

"""Figures of the trial statistician's report (matplotlib, Agg backend; nothing is shown):

- :func:`qol_change_plot`: mean change from baseline of a quality-of-life score by visit, one line
  per arm, with the 95 % t interval as error bars (the rows of
  :func:`oligotrial.stats.qol.qol_change_from_baseline`);
- :func:`ceac_plot`: the cost-effectiveness acceptability curve, one line per arm (the ``ceac``
  points of :func:`oligotrial.stats.cea.cost_effectiveness`), with the deterministic ICER marked.

Each ``*_figure`` function builds the figure without writing it; each ``*_plot`` writes a PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from oligotrial.errors import AnalysisError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ceac_figure", "ceac_plot", "qol_change_figure", "qol_change_plot"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def qol_change_figure(
    rows: Sequence[Mapping], *, title: str = "Change from baseline", ylabel: str = "mean change from baseline (points)"
) -> Figure:
    """Mean change from baseline per visit and arm, error bars = the 95 % t interval of the change.

    The baseline visit is drawn at 0 (by definition, no bar); a visit where an arm has fewer than
    two participants with a change is drawn without a bar, a visit with none is left out. Arms are
    offset a little along the visit axis so that their bars do not overlap. ``n`` with a change is
    printed under each point.
    """
    fig = _figure((8.5, 5.2))
    ax = fig.subplots()
    visits: list[str] = []
    for r in rows:
        if r["visit"] not in visits:
            visits.append(r["visit"])
    arms: list[str] = []
    for r in rows:
        if r["arm"] not in arms:
            arms.append(r["arm"])
    for i, arm in enumerate(arms):
        colour = _COLOURS[i % len(_COLOURS)]
        offset = (i - (len(arms) - 1) / 2) * 0.08
        xs, ys, lo, hi, labels = [], [], [], [], []
        for r in rows:
            if r["arm"] != arm:
                continue
            x = visits.index(r["visit"]) + offset
            if r["mean_change"] is None and r["n_change"] is None:  # the baseline visit
                xs.append(x), ys.append(0.0), lo.append(0.0), hi.append(0.0), labels.append(f"n={r['n']}")
            elif r["mean_change"] is not None:
                m = r["mean_change"]
                xs.append(x), ys.append(m), labels.append(f"n={r['n_change']}")
                lo.append(m - r["change_lower"] if r["change_lower"] is not None else 0.0)
                hi.append(r["change_upper"] - m if r["change_upper"] is not None else 0.0)
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=4, color=colour, label=arm, linewidth=1.6)
        for x, y, text in zip(xs, ys, labels):
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, -11), ha="left", fontsize=7, color=colour)
    ax.axhline(0.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(visits)), visits)
    ax.set_xlabel("visit")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(title="arm", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return fig


def qol_change_plot(rows: Sequence[Mapping], path: str | Path, **kwargs) -> Path:
    """Write :func:`qol_change_figure` as a PNG to ``path``."""
    out = Path(path)
    qol_change_figure(rows, **kwargs).savefig(out, format="png")
    return out


def ceac_figure(
    result: Mapping, *, title: str = "Cost-effectiveness acceptability curve", currency: str = ""
) -> Figure:
    """CEAC from a :func:`~oligotrial.stats.cea.cost_effectiveness` result with a PSA: for each
    arm the share of draws in which it has the largest net monetary benefit at each
    willingness-to-pay; dotted vertical lines at the deterministic ICERs."""
    psa = result.get("psa")
    if not psa:
        raise AnalysisError("result.psa None: expected a cost_effectiveness result with psa_draws > 0", field="psa")
    fig = _figure((8.5, 5.2))
    ax = fig.subplots()
    points = psa["ceac"]
    wtp = [p["wtp"] for p in points]
    for i, arm in enumerate(points[0]["probability"]):
        ax.plot(
            wtp, [p["probability"][arm] for p in points], color=_COLOURS[i % len(_COLOURS)], label=arm, linewidth=1.8
        )
    for arm, inc in result["incremental"].items():
        if inc["icer"] is not None and inc["delta_qaly"] > 0 and wtp[0] <= inc["icer"] <= wtp[-1]:
            ax.axvline(inc["icer"], color="0.4", linestyle=":", linewidth=1)
            ax.annotate(
                f"ICER {arm} vs {inc['versus']}: {inc['icer']:,.0f}",
                (inc["icer"], 0.75),
                textcoords="offset points",
                xytext=(-4, 0),
                rotation=90,
                fontsize=8,
                ha="right",
                va="center",
                color="0.3",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:,.0f}")
    ax.set_xlabel(f"willingness to pay per QALY{(' (' + currency + ')') if currency else ''}")
    ax.set_ylabel("probability cost-effective")
    ax.set_title(f"{title} ({psa['draws']} draws, seed {psa['seed']})")
    ax.legend(title="arm", frameon=False)
    ax.grid(alpha=0.3)
    return fig


def ceac_plot(result: Mapping, path: str | Path, **kwargs) -> Path:
    """Write :func:`ceac_figure` as a PNG to ``path``."""
    out = Path(path)
    ceac_figure(result, **kwargs).savefig(out, format="png")
    return out

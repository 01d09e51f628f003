"""Kaplan-Meier curves for a paper (matplotlib, Agg backend).

One step curve per group (the reference first, as in ``oligotrial.survival-analysis/1``), censored
times marked ``+`` on the curve, dashed lines to each group's median (where reached), and the
numbers at risk under the x axis, one row per group, each figure under its tick. The curves and
medians are :mod:`oligotrial.stats.survival_km`'s (R's ``survfit`` and ``quantile.survfit``);
"at risk at t" counts the rows with time >= t, as R's ``summary(fit, times=)$n.risk``.

With ``cut_at_risk`` (the trial report: 0.10) each group's curve stops after the last time at
which at least that share of its starting number is at risk, marked with a bar and labelled on
the plot (Pocock, Clayton & Altman 2002, Lancet 359:1686-1689: the tail of a Kaplan-Meier curve
resting on a few participants misleads; curtail it where few remain at risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_kaplan_meier"]

#: colour-blind-safe palette (Okabe & Ito, 2008)
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def plot_kaplan_meier(
    time: Sequence,
    event: Sequence,
    group: Sequence,
    path: str | Path | None = None,
    *,
    reference: str | None = None,
    time_unit: str = "months",
    title: str | None = None,
    ylabel: str = "Survival probability",
    conf_int: bool = False,
    risk_times: Sequence[float] | None = None,
    dpi: int = 300,
    figsize: tuple[float, float] = (7.0, 5.6),
    cut_at_risk: float | None = None,
) -> Figure:
    """Draw Kaplan-Meier curves of ``time``/``event`` by ``group`` and save them to ``path``.

    Parameters
    ----------
    time, event, group : the same rows as :func:`oligotrial.stats.analyse_survival` takes
        (validated the same way: a bad row raises ``AnalysisError``).
    path : PNG (or any format matplotlib infers from the suffix); ``None``: do not save.
    reference : drawn first and listed first (default: the first label in sorted order).
    time_unit : the x-axis label's unit.
    conf_int : shade the pointwise 95% CI (log transform, R's default).
    risk_times : where to count the numbers at risk (default: the x ticks).
    dpi : resolution of the saved file (300 for print).
    cut_at_risk : stop each curve where fewer than this share of its group are at risk (labelled);
        ``None``: draw every curve to its last time.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from oligotrial.stats.survival import group_curves, validate_survival_data
    from oligotrial.stats.survival_km import curve_cut, km_median

    rows = validate_survival_data(time, event, group)
    curves = group_curves(rows.time, rows.event, rows.group, reference=reference)
    t_all, g_all = rows.time, rows.group
    cuts = {label: (curve_cut(km, cut_at_risk) if cut_at_risk is not None else None) for label, km in curves.items()}
    ends = [
        c["time"] if c else (float(km.time[-1]) if km.time.size else 0.0)
        for c, km in zip(cuts.values(), curves.values())
    ]
    t_max = max(ends) if ends else 1.0

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    n_groups = len(curves)
    grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.35 + 0.25 * n_groups])
    ax = fig.add_subplot(grid[0])
    risk_ax = fig.add_subplot(grid[1], sharex=ax)

    for i, (label, km) in enumerate(curves.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        cut = cuts[label]
        shown = km.time <= cut["time"] if cut else np.ones(km.time.size, dtype=bool)
        x = np.concatenate(([0.0], km.time[shown]))
        y = np.concatenate(([1.0], km.surv[shown]))
        ax.step(x, y, where="post", color=colour, linewidth=1.6, label=f"{label} (n = {km.n}, events = {km.events})")
        if conf_int:
            lo = np.concatenate(([1.0], np.nan_to_num(km.lower[shown], nan=0.0)))
            hi = np.concatenate(([1.0], np.nan_to_num(km.upper[shown], nan=0.0)))
            ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        cens = (km.n_censor > 0) & shown
        ax.plot(
            km.time[cens], km.surv[cens], linestyle="none", marker="+", markersize=7, markeredgewidth=1.2, color=colour
        )
        if cut:
            ax.plot([x[-1], x[-1]], [y[-1] - 0.04, y[-1] + 0.04], color=colour, linewidth=2.2, gid="km-cut")
            ax.annotate(
                f"cut: < {cut_at_risk:.0%} at risk ({cut['n_at_risk_after']} of {km.n})",
                (x[-1], y[-1]),
                textcoords="offset points",
                xytext=(-4, 8 + 11 * i),
                ha="right",
                fontsize=7.5,
                color=colour,
            )
        med = km_median(km)["estimate"]
        if med is not None and cut and med > cut["time"]:
            med = None  # the median lies in the part not drawn: no dashed line to it
        if med is not None:
            ax.plot([0.0, med], [0.5, 0.5], linestyle="--", linewidth=0.9, color=colour, alpha=0.8)
            ax.plot([med, med], [0.0, 0.5], linestyle="--", linewidth=0.9, color=colour, alpha=0.8)

    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(0.0, (t_max if t_max > 0 else 1.0) * 1.02)  # every time 0 (an early data cut): a unit axis
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=t_max >= 8, min_n_ticks=4))
    ax.set_ylabel(ylabel)
    ax.set_xlabel(f"Time ({time_unit})")
    ax.grid(True, color="0.9", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    legend_title = "+ censored; dashed: median"
    if cut_at_risk is not None:
        legend_title += f"; curves stop where < {cut_at_risk:.0%} at risk"
    ax.legend(loc="best", frameon=False, fontsize=9, title=legend_title, title_fontsize=8)
    if title:
        ax.set_title(title)

    ticks = [t for t in ax.get_xticks() if 0.0 <= t <= t_max * 1.02]
    at = list(risk_times) if risk_times is not None else ticks
    risk_ax.set_ylim(-0.5, n_groups - 0.5)
    for i, label in enumerate(curves):
        t_g = np.sort(t_all[g_all == label])
        row = n_groups - 1 - i
        for t in at:
            n_at = int(t_g.size - np.searchsorted(t_g, t, side="left"))
            risk_ax.text(t, row, str(n_at), ha="center", va="center", fontsize=9, color=_COLOURS[i % len(_COLOURS)])
    risk_ax.set_yticks(range(n_groups))
    risk_ax.set_yticklabels(list(curves)[::-1], fontsize=9)
    for tick, colour in zip(risk_ax.get_yticklabels(), [_COLOURS[i % len(_COLOURS)] for i in range(n_groups)][::-1]):
        tick.set_color(colour)
    risk_ax.tick_params(axis="both", length=0)
    risk_ax.tick_params(axis="y", pad=16)  # clear of the figures centred on t = 0
    risk_ax.tick_params(axis="x", labelbottom=False)
    risk_ax.spines[:].set_visible(False)
    risk_ax.set_title("Number at risk", fontsize=9, loc="left")
    ax.set_xticks(ticks)
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig

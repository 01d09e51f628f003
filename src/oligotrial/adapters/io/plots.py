"""Spider plot of the target-sum trajectory (matplotlib, Agg backend): the sums over time with
the nadir, the +20 % progression line over the running nadir, and each time point's response."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any


def spider_plot(document: dict[str, Any], path: str | Path) -> Path:
    """Write a PNG of an ``oligotrial.assessment/1`` document's target sums to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = dt.date.fromisoformat(document["baseline"])
    base_sum = document.get("baseline_sum_mm")
    pts = [(0, base_sum, "baseline")]
    for tp in document["timepoints"]:
        days = (dt.date.fromisoformat(tp["date"]) - base).days
        pts.append((days, tp["target_sum_mm"], tp["overall"]))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    xs = [p[0] for p in pts if p[1] is not None]
    ys = [p[1] for p in pts if p[1] is not None]
    if ys:
        ax.plot(xs, ys, "-o", color="#1f4e79", label="sum of target diameters")
        nadir, line_x, line_y = None, [], []
        for x, y, _ in pts:
            if nadir is not None:
                line_x.append(x)
                line_y.append(nadir * 1.2 if nadir * 0.2 >= 5 else nadir + 5)
            if y is not None:
                nadir = y if nadir is None else min(nadir, y)
        ax.step(line_x, line_y, where="post", ls="--", color="#c00000",
                label="PD threshold (+20 % and +5 mm over nadir)")
        ax.axhline(min(ys), ls=":", color="#7f7f7f", label=f"nadir {min(ys):g} mm")
        if base_sum:
            ax.axhline(base_sum * 0.7, ls="-.", color="#2e7d32", lw=0.8, label="PR threshold (-30 %)")
    for x, y, label in pts:
        ax.annotate(label, (x, y if y is not None else 0), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8)
    ax.set_xlabel(f"days from baseline {document['baseline']}")
    ax.set_ylabel("mm")
    ax.set_title(f"{document['patient']}: {document['criteria']} (best {document['best_overall_response']})")
    ax.legend(fontsize=7, loc="best")
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    plt.close(fig)
    return out

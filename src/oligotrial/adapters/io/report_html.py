"""Writing a trial report: ``report.json`` (format ``oligotrial.trial-report/1``), a
self-contained ``report.html`` (every figure embedded, no script, no network) and the figures as
PNG files beside them.

The CONSORT flow is drawn as the CONSORT 2010 diagram (Schulz KF et al. BMJ 2010;340:c332,
Figure 1: Enrollment, Allocation, Follow-Up, Analysis) in inline SVG; the Kaplan-Meier plots with
numbers at risk come from :mod:`oligotrial.adapters.io.km_plot`, the quality-of-life and CEAC plots
from :mod:`oligotrial.adapters.io.report_plots`; the forest plot is drawn here.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("oligotrial.adapters.io", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def _num(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "NR" if x is None else "–"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _ci(x: Any, digits: int = 2) -> str:
    """A confidence limit: "–" where it is undefined (not "NR", which is for medians)."""
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else _num(x, digits)


_ENV.filters["num"] = _num
_ENV.filters["ci"] = _ci
_ENV.filters["pct"] = _pct


# ---- the CONSORT diagram --------------------------------------------------------------------


def _box(x: float, y: float, w: float, h: float, lines: Sequence[str], *, bold_first: bool = True) -> str:
    out = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" fill="#fff" stroke="#333"/>']
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if i == 0 and bold_first else ""
        out.append(f'<text x="{x + 8}" y="{y + 17 + 15 * i}" font-size="12"{weight}>{html.escape(line)}</text>')
    return "\n".join(out)


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#333" marker-end="url(#arrow)"/>'


def _stage(x: float, y: float, w: float, label: str) -> str:
    return (
        f'<rect x="{x}" y="{y}" width="{w}" height="22" rx="11" fill="#cfe2f3" stroke="#6fa8dc"/>'
        f'<text x="{x + w / 2}" y="{y + 15}" font-size="12" text-anchor="middle" font-weight="bold">{label}</text>'
    )


def consort_svg(flow: Mapping[str, Any], arm_labels: Mapping[str, str], *, randomized_word: str = "Randomized") -> str:
    """The CONSORT 2010 flow diagram of ``flow`` (the report's ``consort``) as an SVG string."""
    arms = list(flow["allocated"])
    col_w, gap = 350, 30
    width = max(720, len(arms) * (col_w + gap) + gap)
    parts = [
        (
            '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
            '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>'
        )
    ]
    cx = width / 2
    parts.append(_stage(10, 10, 110, "Enrollment"))
    parts.append(_box(cx - 150, 40, 300, 30, [f"Assessed for eligibility (n={flow['assessed_for_eligibility']})"]))
    nr = flow["not_randomized"]
    reasons = [f"• {k} (n={v})" for k, v in nr["reasons"].items()]
    crit = list(nr.get("not_eligible_by_criterion", {}).items())[:4]
    reasons += [f"   not eligible: {k} (n={v})" for k, v in crit]
    ex_h = 24 + 15 * len(reasons)
    ex_x = min(width - 300, cx + 60)
    parts.append(_box(ex_x, 85, 290, ex_h, [f"Excluded (n={nr['total']})", *reasons]))
    parts.append(f'<line x1="{cx}" y1="70" x2="{cx}" y2="{110 + ex_h}" stroke="#333"/>')
    parts.append(_arrow(cx, 85 + ex_h / 2, ex_x, 85 + ex_h / 2))
    y = 110 + ex_h
    parts.append(_box(cx - 110, y, 220, 30, [f"{randomized_word} (n={flow['randomized']})"]))
    y += 30
    ys = y + 40
    parts.append(_stage(10, ys - 28, 110, "Allocation"))
    xs = [gap + i * (col_w + gap) for i in range(len(arms))] if len(arms) > 1 else [cx - col_w / 2]
    for x in xs:
        parts.append(f'<line x1="{cx}" y1="{y}" x2="{cx}" y2="{y + 15}" stroke="#333"/>')
        parts.append(f'<line x1="{cx}" y1="{y + 15}" x2="{x + col_w / 2}" y2="{y + 15}" stroke="#333"/>')
        parts.append(_arrow(x + col_w / 2, y + 15, x + col_w / 2, ys))
    heights = []
    for arm, x in zip(arms, xs, strict=True):
        nrc = flow["did_not_receive_allocated_intervention"][arm]
        lines = [
            f"Allocated to {arm_labels.get(arm, arm)} (n={flow['allocated'][arm]})",
            f"• Received allocated intervention (n={flow['received_allocated_intervention'][arm]})",
            f"• Did not receive (n={nrc['total']})",
        ] + [f"   {k} (n={v})" for k, v in nrc["reasons"].items()]
        heights.append(len(lines))
        parts.append(_box(x, ys, col_w, 24 + 15 * len(lines), lines))
    y2 = ys + 24 + 15 * max(heights) + 40
    parts.append(_stage(10, y2 - 28, 110, "Follow-Up"))
    h2 = 0
    for arm, x in zip(arms, xs, strict=True):
        disc = flow["discontinued"][arm]
        lines = [f"Lost to follow-up (n={flow['lost_to_follow_up'][arm]})", f"Discontinued (n={disc['total']})"] + [
            f"   {k} (n={v})" for k, v in disc["reasons"].items()
        ]
        h2 = max(h2, len(lines))
        parts.append(_arrow(x + col_w / 2, y2 - 40 + 12, x + col_w / 2, y2))
        parts.append(_box(x, y2, col_w, 24 + 15 * len(lines), lines, bold_first=False))
    y3 = y2 + 24 + 15 * h2 + 40
    parts.append(_stage(10, y3 - 28, 110, "Analysis"))
    for arm, x in zip(arms, xs, strict=True):
        lines = [
            f"Analysed (n={flow['analysed'][arm]})",
            f"• Excluded from analysis (n={flow['excluded_from_analysis'][arm]})",
        ]
        parts.append(_arrow(x + col_w / 2, y3 - 40 + 12, x + col_w / 2, y3))
        parts.append(_box(x, y3, col_w, 54, lines))
    height = y3 + 70
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="consort" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" role="img" '
        f'aria-label="CONSORT 2010 flow diagram">' + "\n".join(parts) + "</svg>"
    )


# ---- figures --------------------------------------------------------------------------------


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def forest_figure(forest: Mapping[str, Any], *, title: str) -> Any:
    """A forest plot: hazard ratio and 95 % CI per subgroup level, log scale, line at 1."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = [r for r in forest["rows"] if r.get("hazard_ratio") is not None]
    fig = Figure(figsize=(7.5, 0.45 * len(rows) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    for i, r in enumerate(rows):
        y = len(rows) - i
        ax.plot([r["lower"], r["upper"]], [y, y], color="#333", lw=1.2)
        ax.plot([r["hazard_ratio"]], [y], "s", color="#1f4e79", ms=6)
    ax.axvline(1.0, color="#888", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks([len(rows) - i for i in range(len(rows))])
    ax.set_yticklabels([f"{r['variable']}: {r['level']} (n={r['n']}, {r['events']} events)" for r in rows], fontsize=9)
    ax.set_xlabel(f"Hazard ratio ({rows[0]['group'] if rows else ''} vs reference), 95% CI, log scale")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def figures(report: Mapping[str, Any]) -> dict[str, bytes]:
    """Every figure of ``report`` as PNG bytes, by file name."""
    from oligotrial.adapters.io.km_plot import plot_kaplan_meier
    from oligotrial.adapters.io.report_plots import ceac_figure, qol_change_figure
    from oligotrial.stats.survival_km import FEW_AT_RISK

    out: dict[str, bytes] = {}
    ref = report.get("reference_arm")
    for param, rows in (report.get("_adtte") or {}).items():
        if not rows:
            continue
        present = {r["ARM"] for r in rows}
        fig = plot_kaplan_meier(
            [r["AVAL"] / 30.4375 for r in rows],
            [1 - int(r["CNSR"]) for r in rows],
            [r["ARM"] for r in rows],
            None,
            reference=ref if ref in present else None,
            time_unit="months",
            title=f"{report['short_name']}: {param}",
            cut_at_risk=FEW_AT_RISK,
        )
        out[f"km_{param.lower()}.png"] = _png(fig)
    if report.get("forest"):
        out["forest.png"] = _png(forest_figure(report["forest"], title=f"{report['forest']['endpoint']} by subgroup"))
    for name, rows in (report.get("quality_of_life") or {}).items():
        if rows:
            slug = "qol_eq5d.png" if "EQ-5D" in name else "qol_c30_ql2.png"
            out[slug] = _png(qol_change_figure(rows, title=f"{name}: change from baseline"))
    cea = report.get("cost_effectiveness")
    if cea and cea.get("psa"):
        out["ceac.png"] = _png(
            ceac_figure(
                cea, currency=(cea.get("currency") or {}).get("code") or (cea.get("currency") or {}).get("label") or ""
            )
        )
    return out


def render_html(report: Mapping[str, Any], figs: Mapping[str, bytes]) -> str:
    """The self-contained HTML page of ``report`` (figures embedded as data URIs)."""
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    labels = (
        {a["id"]: a["label"] for a in report["arms"]} if report["arms"] and isinstance(report["arms"][0], dict) else {}
    )
    svg = consort_svg(
        report["consort"],
        labels,
        randomized_word="Enrolled"
        if len(report["consort"]["allocated"]) == 1 and report["reference_arm"] is None and not report.get("blinded")
        else "Randomized",
    )
    data_uri = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in figs.items()}
    return _ENV.get_template("report.html.j2").render(
        r=public, consort_svg=svg, fig=data_uri, labels=labels, json_text=json.dumps(public, indent=1, default=str)
    )


def write_report(report: Mapping[str, Any], out: Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.html`` and the figures into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    figs = figures(report)
    paths = {"json": out / "report.json", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(public, indent=1, default=str) + "\n", encoding="utf-8")
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    for name, data in figs.items():
        (fig_dir / name).write_bytes(data)
    paths["html"].write_text(render_html(report, figs), encoding="utf-8")
    return paths

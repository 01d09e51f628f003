"""Small inline SVG charts drawn on the server (no script, no external file)."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 360, 150, 36, 12, 12, 24


def recruitment_svg(points: list[dict[str, Any]], planned: int | None, today: dt.date) -> str:
    """Cumulative enrolment as a step line from the first enrolment to ``today``, with the
    planned enrolment as a dashed line; the ``aria-label`` says the same in words."""
    enrolled = points[-1]["enrolled"] if points else 0
    words = f"{enrolled} enrolled" + (f" of {planned} planned" if planned else "")
    if not points:
        return (
            f'<svg class="chart" role="img" aria-label="{escape(words)}" viewBox="0 0 {W} 40" width="{W}" '
            f'height="40"><text x="4" y="24">No one enrolled yet</text></svg>'
        )
    first = dt.date.fromisoformat(points[0]["date"])
    last = max(today, dt.date.fromisoformat(points[-1]["date"]))
    span = max((last - first).days, 1)
    top = max(planned or 0, enrolled, 1)

    def x(day: dt.date) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (day - first).days / span

    def y(n: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (1 - n / top)

    path = [f"M{x(first):.1f},{y(0):.1f}"]
    for p in points:
        day = dt.date.fromisoformat(p["date"])
        path.append(f"H{x(day):.1f}V{y(p['enrolled']):.1f}")
    path.append(f"H{x(last):.1f}")
    parts = [
        (
            f'<svg class="chart" role="img" aria-label="Recruitment: {escape(words)}, {first.isoformat()} to '
            f'{last.isoformat()}" viewBox="0 0 {W} {H}" width="{W}" height="{H}">'
        ),
        f'<line x1="{PAD_L}" y1="{y(0):.1f}" x2="{W - PAD_R}" y2="{y(0):.1f}" class="axis"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{y(0):.1f}" class="axis"/>',
        f'<text x="{PAD_L - 4}" y="{y(0):.1f}" text-anchor="end" dy="4">0</text>',
        f'<text x="{PAD_L - 4}" y="{y(top):.1f}" text-anchor="end" dy="4">{top}</text>',
        f'<text x="{PAD_L}" y="{H - 6}">{first.isoformat()}</text>',
        f'<text x="{W - PAD_R}" y="{H - 6}" text-anchor="end">{last.isoformat()}</text>',
    ]
    if planned:
        parts.append(
            f'<line x1="{PAD_L}" y1="{y(planned):.1f}" x2="{W - PAD_R}" y2="{y(planned):.1f}" '
            f'class="target"><title>planned {planned}</title></line>'
        )
    parts.append(f'<path d="{"".join(path)}" class="series"><title>{escape(words)}</title></path>')
    parts.append("</svg>")
    return "".join(parts)


SW, SH, SL, SR, ST, SB = 520, 240, 44, 56, 14, 28


def spider_svg(spider: dict[str, Any], title: str) -> str:
    """Per-lesion change from baseline (per cent) over time, one line per target lesion and a
    dashed line for the sum, from :func:`oligotrial.service.lesion_response.spider`; the RECIST
    1.1 thresholds (-30 % PR from baseline, +20 %) as dotted guides. ``title`` is the chart's
    ``<title>``; the page gives the same numbers as a table (the text alternative)."""
    series = [s for s in spider.get("series", []) if s["points"]]
    if not series:
        return (
            f'<svg class="chart spider" role="img" viewBox="0 0 {SW} 40" width="{SW}" height="40">'
            f'<title>{escape(title)}</title><text x="4" y="24">No plot: '
            f"{escape(spider.get('note') or 'no target lesions')}</text></svg>"
        )
    base = dt.date.fromisoformat(spider["baseline"])
    days = [(dt.date.fromisoformat(p["date"]) - base).days for s in series for p in s["points"]]
    pcts = [p["change_pct"] for s in series for p in s["points"] if p["change_pct"] is not None]
    span = max(max(days), 1)
    lo, hi = min(min(pcts, default=0), -40.0), max(max(pcts, default=0), 30.0)

    def x(day: int) -> float:
        return SL + (SW - SL - SR) * day / span

    def y(pct: float) -> float:
        return ST + (SH - ST - SB) * (hi - pct) / (hi - lo)

    parts = [
        f'<svg class="chart spider" role="img" viewBox="0 0 {SW} {SH}" width="{SW}" height="{SH}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{SL}" y1="{y(0):.1f}" x2="{SW - SR}" y2="{y(0):.1f}" class="axis"/>',
        f'<line x1="{SL}" y1="{ST}" x2="{SL}" y2="{SH - SB}" class="axis"/>',
    ]
    for pct, name in ((20.0, "+20 %"), (-30.0, "-30 %")):
        parts.append(
            f'<line x1="{SL}" y1="{y(pct):.1f}" x2="{SW - SR}" y2="{y(pct):.1f}" class="guide"/>'
            f'<text x="{SL - 4}" y="{y(pct):.1f}" text-anchor="end" dy="4">{name}</text>'
        )
    parts.append(f'<text x="{SL - 4}" y="{y(0):.1f}" text-anchor="end" dy="4">0 %</text>')
    parts.append(f'<text x="{SL}" y="{SH - 8}">{base.isoformat()} (baseline)</text>')
    parts.append(f'<text x="{SW - SR}" y="{SH - 8}" text-anchor="end">day {span}</text>')
    drawn = [
        (
            i,
            s,
            [
                (x((dt.date.fromisoformat(p["date"]) - base).days), y(p["change_pct"]))
                for p in s["points"]
                if p["change_pct"] is not None
            ],
        )
        for i, s in enumerate(series)
    ]
    drawn = [(i, s, pts) for i, s, pts in drawn if pts]
    # end labels at least 11 px apart (lines that end together would print over each other)
    label_y: dict[int, float] = {}
    for i, _s, pts in sorted(drawn, key=lambda d: d[2][-1][1]):
        label_y[i] = max(pts[-1][1], max(label_y.values(), default=-99.0) + 11)
    for i, s, pts in drawn:
        cls = "sum" if s["id"] == "sum" else f"s{i % 6}"
        d = "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        label = "sum of diameters" if s["id"] == "sum" else f"lesion {s['id']}"
        last = s["points"][-1]
        parts.append(
            f'<g class="series-{cls}" data-series="{escape(s["id"])}"><path d="{d}" class="line">'
            f"<title>{escape(label)}: {last['change_pct']} % on {last['date']}</title></path>"
        )
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3"/>' for a, b in pts]
        parts.append(
            f'<text x="{pts[-1][0] + 5:.1f}" y="{label_y[i]:.1f}" dy="4">'
            f"{escape('sum' if s['id'] == 'sum' else s['id'])}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)

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
        return (f'<svg class="chart" role="img" aria-label="{escape(words)}" viewBox="0 0 {W} 40" width="{W}" '
                f'height="40"><text x="4" y="24">No one enrolled yet</text></svg>')
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
    parts = [f'<svg class="chart" role="img" aria-label="Recruitment: {escape(words)}, {first.isoformat()} to '
             f'{last.isoformat()}" viewBox="0 0 {W} {H}" width="{W}" height="{H}">',
             f'<line x1="{PAD_L}" y1="{y(0):.1f}" x2="{W - PAD_R}" y2="{y(0):.1f}" class="axis"/>',
             f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{y(0):.1f}" class="axis"/>',
             f'<text x="{PAD_L - 4}" y="{y(0):.1f}" text-anchor="end" dy="4">0</text>',
             f'<text x="{PAD_L - 4}" y="{y(top):.1f}" text-anchor="end" dy="4">{top}</text>',
             f'<text x="{PAD_L}" y="{H - 6}">{first.isoformat()}</text>',
             f'<text x="{W - PAD_R}" y="{H - 6}" text-anchor="end">{last.isoformat()}</text>']
    if planned:
        parts.append(f'<line x1="{PAD_L}" y1="{y(planned):.1f}" x2="{W - PAD_R}" y2="{y(planned):.1f}" '
                     f'class="target"><title>planned {planned}</title></line>')
    parts.append(f'<path d="{"".join(path)}" class="series"><title>{escape(words)}</title></path>')
    parts.append("</svg>")
    return "".join(parts)

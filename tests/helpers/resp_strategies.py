"""Hypothesis strategies for the response tests (one module, conventions habit 11)."""

from __future__ import annotations

from hypothesis import strategies as st

ORGANS = ["liver", "lung", "adrenal", "lymph_node", "kidney"]

sizes = st.decimals(min_value=0, max_value=150, places=1, allow_nan=False, allow_infinity=False).map(float)


@st.composite
def target_sets(draw, *, min_size=1, max_size=5):
    """Baseline targets: (id, organ, baseline size), measurable, at most 2 per organ."""
    n = draw(st.integers(min_size, max_size))
    out, per = [], {}
    for i in range(n):
        organ = draw(st.sampled_from([o for o in ORGANS if per.get(o, 0) < 2]))
        per[organ] = per.get(organ, 0) + 1
        lo = 15 if organ == "lymph_node" else 10
        size = float(draw(st.decimals(min_value=lo, max_value=120, places=1)))
        out.append((f"T{i + 1}", organ, size))
    return out


@st.composite
def follow_up(draw, targets):
    """Follow-up sizes for each target (nodes keep a short axis, others may go to 0)."""
    return {tid: draw(sizes) for tid, _, _ in targets}

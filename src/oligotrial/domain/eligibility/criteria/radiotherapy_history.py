"""Leaves on prior radiotherapy: the history recorded, and overlap of earlier courses with the
lesions the trial counts.
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _disease_state,
    _fmt,
)
from oligotrial.domain.eligibility.kleene import (
    Context,
    Node,
    Outcome,
    met,
    not_met,
    unknown,
)
from oligotrial.domain.eligibility.registry import leaf


@leaf("radiotherapy_history")
def _rt_history(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        rts = ctx.patient.radiotherapy
        if rts is None:
            return unknown("radiotherapy history not recorded", ["radiotherapy (an empty list if none)"])
        prior = [c for c in rts if c.start <= ctx.as_of]
        if prior:
            c = prior[0]
            return met(
                lambda: (
                    f"prior radiotherapy from {_fmt(c.start)}"
                    f"{'' if c.dose_gy is None else f' ({c.dose_gy:g} Gy/{c.fractions})'}"
                ),
                ["radiotherapy"],
            )
        return not_met("no prior radiotherapy", ["radiotherapy"])

    return node


@leaf("prior_rt_to_counted_lesions")
def _rt_overlap(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        rts = ctx.patient.radiotherapy
        if rts is None:
            return unknown("radiotherapy history not recorded", ["radiotherapy (an empty list if none)"])
        ds = _disease_state(ctx)
        counted = set(ds.counted)
        hit = sorted({lid for c in rts if c.start <= ctx.as_of for lid in (c.lesions or ()) if lid in counted})
        region_only = [c for c in rts if c.start <= ctx.as_of and not c.lesions and c.region]
        if hit:
            return met(lambda: f"prior radiotherapy to {', '.join(hit)}", ["radiotherapy"])
        if region_only and counted:
            return unknown(
                lambda: (
                    f"prior radiotherapy to region {region_only[0].region!r}: overlap with "
                    f"{', '.join(sorted(counted))} needs review"
                ),
                ["lesions treated by each prior course"],
            )
        return not_met("no prior radiotherapy to the counted lesions", ["radiotherapy"])

    return node

"""Leaves on local (non-radiotherapy) anticancer treatment: TACE, TARE, ablation, resection,
hepatic arterial infusion, ethanol injection (the record's ``local_therapies[]``).

Radiotherapy and systemic therapy are read by :mod:`.radiotherapy_history` and
:mod:`.therapy_lines`; a criterion that names "local treatment" combines this leaf with those.
"""

from __future__ import annotations

import datetime as dt

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _fmt,
    _window_resolver,
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
from oligotrial.domain.record.therapy import LOCAL_THERAPY_KINDS


@leaf("local_therapy_within")
def _local_therapy_within(params: dict) -> Node:
    """Met when a local therapy (of ``kinds``, default every kind) is dated within ``days`` (or
    the protocol ``window``) before the screening date, up to that date; unknown when the record
    does not give ``local_therapies``; not met when it lists none in the window (an empty list
    states there were none)."""
    _check_keys(params, {"days", "window", "kinds"})
    if ("days" in params) == ("window" in params):
        raise ValueError("give days or window")
    kinds = tuple(params.get("kinds") or LOCAL_THERAPY_KINDS)
    bad = sorted(set(kinds) - set(LOCAL_THERAPY_KINDS))
    if bad:
        raise ValueError(f"unknown local therapy kind(s) {bad}; expected {list(LOCAL_THERAPY_KINDS)}")
    window = _window_resolver(params)
    src = ["local_therapies"]

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        items = ctx.patient.local_therapies
        if items is None:
            return unknown(
                lambda: (
                    f"local treatment history not recorded: local_therapies ({'/'.join(kinds)}) "
                    f"of the last {days} days decides it"
                ),
                src,
            )
        start = ctx.as_of - dt.timedelta(days=days)
        hits = [t for t in items if t.kind in kinds and start <= t.date <= ctx.as_of]
        if hits:
            return met(
                lambda: f"local treatment within {days} days: " + ", ".join(f"{t.kind} {_fmt(t.date)}" for t in hits),
                src,
            )
        return not_met(lambda: f"no local treatment ({'/'.join(kinds)}) within {days} days", src)

    return node

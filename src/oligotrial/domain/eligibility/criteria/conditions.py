"""Leaves on conditions, biomarkers, clinical findings (SINS, oral intake, ascites,
encephalopathy) and history: other studies, transfusions.
"""

from __future__ import annotations

import datetime as dt

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _fmt,
    _op,
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


@leaf("condition")
def _condition(params: dict) -> Node:
    _check_keys(params, {"any_of", "within_days", "history"}, {"any_of"})
    names = list(params["any_of"])
    wanted = frozenset(names)
    within = params.get("within_days")
    history = bool(params.get("history", False))
    not_recorded = unknown(f"conditions not recorded ({', '.join(names)})", [f"conditions ({' / '.join(names)})"])
    none_found = not_met(f"none of {', '.join(names)} {'recorded' if history else 'active'}", ["conditions"])

    def node(ctx: Context) -> Outcome:
        conds = ctx.patient.conditions
        if conds is None:
            return not_recorded
        hits = [c for c in conds if c.name in wanted]
        if not hits:
            return none_found
        active = [c for c in hits if c.active is True or history or (within is not None and c.since is not None and
                                                                      (ctx.as_of - c.since).days <= within)]
        if active:
            c = active[0]
            state = "active" if c.active else ("history" if history else f"since {_fmt(c.since)}")
            return met(lambda: f"{c.name} ({state}){'' if not c.detail else f': {c.detail}'}", [f"condition {c.name}"])
        undecided = [c for c in hits if c.active is None and not (within is not None and c.since is not None)]
        if undecided:
            return unknown(lambda: f"{undecided[0].name} recorded without saying whether it is active",
                           [f"conditions.{undecided[0].name}.active"])
        return none_found

    return node



@leaf("biomarker")
def _biomarker(params: dict) -> Node:
    _check_keys(params, {"any_positive", "all_negative"})
    if len(params) != 1:
        raise ValueError("give one of any_positive, all_negative")
    (mode, names), = params.items()

    def node(ctx: Context) -> Outcome:
        bms = ctx.patient.biomarkers
        if bms is None:
            return unknown("biomarkers not recorded", [f"biomarker results for {', '.join(names)}"])
        status = {b.name.upper(): b.status for b in bms}
        pos = [n for n in names if status.get(n.upper()) == "positive"]
        untested = [n for n in names if status.get(n.upper()) in (None, "unknown")]
        if mode == "any_positive":
            if pos:
                return met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
            if untested:
                return unknown(lambda: f"{', '.join(untested)} not tested", [f"{n} status" for n in untested])
            return not_met(lambda: f"{', '.join(names)} all negative", ["biomarkers"])
        if pos:
            return not_met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
        if untested:
            return unknown(lambda: f"{', '.join(untested)} not tested", [f"{n} status" for n in untested])
        return met(lambda: f"{', '.join(names)} negative", ["biomarkers"])

    return node



@leaf("study_participation_within")
def _studies(params: dict) -> Node:
    _check_keys(params, {"days", "window", "interventional_only"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        studies = ctx.patient.studies
        days = window(ctx)
        if studies is None:
            return unknown("participation in other studies not recorded", ["studies (an empty list if none)"])
        start = ctx.as_of - dt.timedelta(days=days)
        hits = [s for s in studies if (not params.get("interventional_only", True) or s.interventional)
                and s.start <= ctx.as_of and (s.end is None or s.end >= start)]
        if hits:
            return met(lambda: f"in study {hits[0].name} within {days} days", ["studies"])
        return not_met(lambda: f"no interventional study within {days} days", ["studies"])

    return node



@leaf("transfusion_within")
def _transfusion(params: dict) -> Node:
    _check_keys(params, {"days", "window"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        tr = ctx.patient.transfusions
        days = window(ctx)
        if tr is None:
            return unknown("transfusions not recorded", [f"transfusions within {days} days (an empty list if none)"])
        hits = [t for t in tr if 0 <= (ctx.as_of - t.date).days <= days]
        if hits:
            return met(lambda: f"transfusion on {_fmt(hits[0].date)}", ["transfusions"])
        return not_met(lambda: f"no transfusion within {days} days", ["transfusions"])

    return node



@leaf("clinical_score")
def _clinical_score(params: dict) -> Node:
    _check_keys(params, {"name", "op", "value", "in"}, {"name"})
    name = params["name"]
    if name not in ("sins", "oral_intake", "ascites", "encephalopathy"):
        raise ValueError(f"clinical score {name!r}: expected sins, oral_intake, ascites or encephalopathy")

    def node(ctx: Context) -> Outcome:
        cf = ctx.patient.clinical_findings
        v = getattr(cf, name) if cf is not None else None
        if v is None:
            return unknown(lambda: f"{name} not recorded", [f"clinical_findings.{name}"])
        if "in" in params:
            ok = v in params["in"]
            return (met if ok else not_met)(lambda: f"{name} {v} (required one of {', '.join(params['in'])})", [f"clinical_findings.{name}"])
        ok = _op(params["op"])(v, params["value"])
        return (met if ok else not_met)(lambda: f"{name} {v} ({params['op']} {params['value']}: {'yes' if ok else 'no'})",
                                        [f"clinical_findings.{name}"])

    return node


"""Leaves on conditions, biomarkers, clinical findings (SINS, oral intake, ascites,
encephalopathy) and history: other studies, transfusions.
"""

from __future__ import annotations

import datetime as dt

from oligotrial.domain.eligibility.criteria._shared import (
    _attestations,
    _check_keys,
    _fmt,
    _op,
    _window_resolver,
)
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
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
    _check_keys(params, {"any_of", "within_days", "window", "history"}, {"any_of"})
    if "within_days" in params and "window" in params:
        raise ValueError("give within_days or window, not both")
    names = list(params["any_of"])
    wanted = frozenset(names)
    # a condition since a date counts while that date is within the window before the screening
    # date (a protocol window in calendar months counts back to the same day N months earlier)
    window = _window_resolver({"days": params["within_days"]} if "within_days" in params else params)
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
        within = window(ctx)
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


def _bm_key(name: str) -> str:
    return "".join(ch for ch in name.upper() if ch.isalnum())


@leaf("biomarker")
def _biomarker(params: dict) -> Node:
    """``any_positive`` or ``all_negative`` over named biomarkers; a name may be a list of
    aliases (``[KRAS G12C, KRAS]``: a result under any of them counts; names compare without
    case, spaces or punctuation). With ``all_negative``, ``attestation`` names a key whose
    favourable answer covers the biomarkers without a recorded result (e.g. "no other driver
    alteration"), except those listed in ``named``: the ones the registry names (EGFR, ALK) need a
    recorded result; a recorded positive result always decides."""
    _check_keys(params, {"any_positive", "all_negative", "attestation", "named"})
    modes = [k for k in params if k not in ("attestation", "named")]
    if len(modes) != 1:
        raise ValueError("give one of any_positive, all_negative")
    mode = modes[0]
    if "attestation" in params and mode != "all_negative":
        raise ValueError("attestation goes with all_negative only")
    entries = [[n] if isinstance(n, str) else list(n) for n in params[mode]]
    names = [e[0] for e in entries]
    keys = [[_bm_key(a) for a in e] for e in entries]
    att_key = params.get("attestation")
    named = {_bm_key(n) for n in params.get("named", ())}
    if named - {k for ks in keys for k in ks}:
        raise ValueError(f"named {sorted(params['named'])}: expected names listed in {mode}")

    def node(ctx: Context) -> Outcome:
        bms = ctx.patient.biomarkers
        status: dict[str, str] = {}
        for b in bms or ():
            k = _bm_key(b.name)
            if status.get(k) != "positive":
                status[k] = b.status
        results = []
        for name, ks in zip(names, keys):
            found = [status.get(k) for k in ks if status.get(k) not in (None, "unknown")]
            results.append("positive" if "positive" in found else ("negative" if found else None))
        pos = [n for n, r in zip(names, results) if r == "positive"]
        untested = [n for n, r in zip(names, results) if r is None]
        if bms is None and not pos:
            untested = list(names)
        if mode == "any_positive":
            if pos:
                return met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
            if untested:
                return unknown(lambda: f"{', '.join(untested)} not tested", [f"{n} status" for n in untested])
            return not_met(lambda: f"{', '.join(names)} all negative", ["biomarkers"])
        if pos:
            return not_met(lambda: f"{', '.join(pos)} positive", ["biomarkers"])
        must = [n for n in untested if _bm_key(n) in named]
        if must:
            return unknown(lambda: f"{', '.join(must)} not tested (named by the registry: a recorded result is needed)",
                           [f"{n} status" for n in must])
        if untested and att_key is not None:
            spec = ctx.protocol.attestation_key(att_key)
            if ctx.assume_attested:
                return Outcome(MET if spec.favourable else NOT_MET,
                               f"assumed attested ({att_key} = {str(spec.favourable).lower()})", (), (), (att_key,))
            a = _attestations(ctx).get(att_key)
            if a is not None:
                ok = a.value == spec.favourable
                return (met if ok else not_met)(
                    lambda: f"{', '.join(n for n, r in zip(names, results) if r == 'negative') or 'none'} negative; "
                            f"{', '.join(untested)} not recorded: {att_key} = {str(a.value).lower()} ({a.by}, {_fmt(a.date)})",
                    ["biomarkers", f"attestation {att_key} by {a.by} on {_fmt(a.date)}"])
            return unknown(lambda: f"{', '.join(untested)} not tested, and no attestation {att_key} ({spec.question})",
                           [f"{n} status" for n in untested] + [f"attestation {att_key}"])
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


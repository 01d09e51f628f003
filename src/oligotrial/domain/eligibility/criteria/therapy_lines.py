"""Leaves on systemic therapy history: lines and their classes, cycles, benefit, toxicity and
recovery, immunotherapy resistance, other anticancer therapy within a window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
from oligotrial.domain.response.progression import reference_line


def _line(ctx: Context, which: Any):
    """Therapy line ``which`` ("current", its number, or ``first:<class or agent>``: the
    earliest line with that class or agent, e.g. the first chemotherapy line after TKI lines),
    found once per patient."""
    def make():
        if which == "current":
            return reference_line(ctx.patient, ctx.as_of)
        lines = sorted(ctx.patient.systemic_therapy or (), key=lambda t: t.start)
        if isinstance(which, str) and which.startswith("first:"):
            wanted = which[len("first:"):].lower()
            return next((t for t in lines if t.start <= ctx.as_of and (wanted in t.classes or wanted in t.agents)), None)
        return next((t for t in lines if t.line == which), None)

    return ctx.patient_memo(("line", which), make)



def _line_or_outcome(ctx: Context, which: Any):
    """The therapy line ``which`` ("current" or a number), or the Outcome that decides the leaf
    without one: unknown when the history is not recorded, not met when the line is absent."""
    if ctx.patient.systemic_therapy is None:
        return None, unknown("systemic therapy history not recorded", ["systemic_therapy"])
    t = _line(ctx, which)
    if t is None:
        name = ("current" if which == "current" else
                f"{which[len('first:'):]}" if isinstance(which, str) and which.startswith("first:") else f"line {which}")
        return None, not_met(lambda: f"no {name} systemic therapy recorded", ["systemic_therapy"])
    return t, None



@leaf("therapy_history_known")
def _therapy_known(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        if ctx.patient.systemic_therapy is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        return met("systemic therapy history recorded", ["systemic_therapy"])

    return node



@leaf("line_classes")
def _line_classes(params: dict) -> Node:
    _check_keys(params, {"line", "all_of", "any_of", "none_of", "agents_any_of"}, {"line"})
    which = params["line"]
    all_of = set(params["all_of"]) if params.get("all_of") else None
    any_of = set(params["any_of"]) if params.get("any_of") else None
    agents_any_of = {a.lower() for a in params["agents_any_of"]} if params.get("agents_any_of") else None
    none_of = set(params["none_of"]) if params.get("none_of") else None

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, which)
        if decided is not None:
            return decided
        have = set(t.classes) | set(t.agents)

        def desc() -> str:
            return f"line {t.line} ({'+'.join(t.agents)}; {', '.join(t.classes) or 'no classes'})"

        src = (f"systemic_therapy line {t.line}",)
        if all_of is not None and not all_of <= have:
            return Outcome(NOT_MET, lambda: f"{desc()} lacks {', '.join(sorted(all_of - have))}", src)
        if any_of is not None and not any_of & have:
            return Outcome(NOT_MET, lambda: f"{desc()} has none of {', '.join(params['any_of'])}", src)
        if agents_any_of is not None and not agents_any_of & set(t.agents):
            return Outcome(NOT_MET, lambda: f"{desc()} has none of the agents {', '.join(params['agents_any_of'])}", src)
        if none_of is not None and none_of & have:
            return Outcome(NOT_MET, lambda: f"{desc()} includes {', '.join(sorted(none_of & have))}", src)
        return Outcome(MET, desc, src)

    return node



@leaf("prior_line_with")
def _prior_line_with(params: dict) -> Node:
    _check_keys(params, {"any_of", "before_line"}, {"any_of"})
    wanted = set(params["any_of"])

    def node(ctx: Context) -> Outcome:
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        ref = _line(ctx, params.get("before_line", "current"))
        cutoff = ref.start if ref is not None else ctx.as_of
        prior = [t for t in lines if t.start < cutoff and (wanted & (set(t.classes) | set(t.agents)))]
        if prior:
            return met(lambda: f"prior line {prior[0].line} with {', '.join(sorted(wanted & (set(prior[0].classes) | set(prior[0].agents))))}",
                       [f"systemic_therapy line {prior[0].line}"])
        return not_met(lambda: f"no line with {', '.join(sorted(wanted))} before {_fmt(cutoff)}", ["systemic_therapy"])

    return node



@leaf("line_cycles")
def _line_cycles(params: dict) -> Node:
    _check_keys(params, {"line", "min", "max"}, {"line"})

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        if t.cycles is None:
            return unknown(lambda: f"cycles of line {t.line} not recorded", [f"systemic_therapy line {t.line} cycles"])
        lo, hi = params.get("min"), params.get("max")
        ok = (lo is None or t.cycles >= lo) and (hi is None or t.cycles <= hi)
        return (met if ok else not_met)(lambda: f"line {t.line}: {t.cycles} cycles (required {lo}-{hi})",
                                        [f"systemic_therapy line {t.line}"])

    return node



@leaf("line_benefit")
def _line_benefit(params: dict) -> Node:
    """Clinical benefit (best response CR/PR/SD) lasting at least N days from the line's start
    to its documented progression (or, if none is documented, to the judged scan)."""
    _check_keys(params, {"line", "min_days", "window", "responses"}, {"line"})
    responses = set(params.get("responses", ["CR", "PR", "SD"]))

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        need = params.get("min_days")
        if need is None:
            need = ctx.protocol.windows[params["window"]].days
        src = [f"systemic_therapy line {t.line}"]
        if t.best_response is None:
            return unknown(lambda: f"best response to line {t.line} not recorded", [f"systemic_therapy line {t.line} best_response"])
        if t.best_response not in responses:
            return not_met(lambda: f"best response to line {t.line} was {t.best_response} (required {'/'.join(sorted(responses))})", src)
        end = t.progression_date
        basis = "progression"
        if end is None:
            scans = [a.date for a in ctx.patient.assessments or () if a.date <= ctx.as_of]
            if not scans:
                return unknown(lambda: f"date of progression on line {t.line} not recorded",
                               [f"systemic_therapy line {t.line} progression_date"])
            end, basis = max(scans), "latest scan"
        days = (end - t.start).days
        ok = days >= need
        return (met if ok else not_met)(
            f"line {t.line} ({'+'.join(t.agents)}): {t.best_response}, {days} days from start {_fmt(t.start)} to "
            f"{basis} {_fmt(end)} (required >= {need} days)", src)

    return node



@leaf("on_systemic_therapy")
def _on_therapy(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        ongoing = [t for t in lines if t.start <= ctx.as_of and (t.end is None or t.end >= ctx.as_of)]
        if ongoing:
            t = ongoing[-1]
            return met(lambda: f"on line {t.line} ({'+'.join(t.agents)}) since {_fmt(t.start)}", [f"systemic_therapy line {t.line}"])
        return not_met("not on systemic therapy at screening", ["systemic_therapy"])

    return node



@leaf("progression_within_days_of_line")
def _early_progression(params: dict) -> Node:
    """Progression on ``line`` within the window counted from the line's start (day 0);
    ``op`` (default ``<``) says whether the window's last day is inside (``<=``)."""
    _check_keys(params, {"line", "days", "window", "op"}, {"line"})
    window = _window_resolver(params)
    op = params.get("op", "<")
    cmp_ = _op(op)

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        limit = window(ctx)
        if t.progression_date is None:
            return unknown(lambda: f"date of progression on line {t.line} not recorded",
                           [f"systemic_therapy line {t.line} progression_date"])
        days = (t.progression_date - t.start).days
        ok = cmp_(days, limit)
        return (met if ok else not_met)(lambda: f"progression on line {t.line} {days} days after its start (day {days} "
                                        f"{op} {limit}: {'yes' if ok else 'no'})", [f"systemic_therapy line {t.line}"])

    return node



@leaf("line_toxicity_grade")
def _line_tox(params: dict) -> Node:
    _check_keys(params, {"line", "min_grade"}, {"line", "min_grade"})

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        grades = [x.grade for x in ctx.patient.toxicities or () if x.date >= t.start and (t.end is None or x.date <= t.end)]
        if t.max_toxicity_grade is not None:
            grades.append(t.max_toxicity_grade)
        if not grades and ctx.patient.toxicities is None:
            return unknown(lambda: f"adverse events on line {t.line} not recorded",
                           [f"systemic_therapy line {t.line} max_toxicity_grade or toxicities"])
        worst = max(grades, default=0)
        ok = worst >= params["min_grade"]
        return (met if ok else not_met)(lambda: f"worst CTCAE grade on line {t.line}: {worst}", [f"systemic_therapy line {t.line}"])

    return node



@leaf("toxicity_recovered")
def _tox_recovered(params: dict) -> Node:
    """Toxicities of prior therapy recovered to ``max_grade``, with exemptions: ``except_terms``
    (any grade); ``except`` rules per term: ``max_grade`` (a higher limit), ``decided_by`` (the
    term's limit is set by another criterion, which decides it), ``exempt_if:
    stable_on_replacement_therapy`` (exempt only when the record says so)."""
    _check_keys(params, {"max_grade", "except_terms", "except"})
    max_grade = params.get("max_grade", 1)
    exempt = {t.lower() for t in params.get("except_terms", [])}
    exempt_rules = {r["term"].lower(): r for r in params.get("except", [])}
    for r in exempt_rules.values():
        _check_keys(r, {"term", "max_grade", "decided_by", "exempt_if"}, {"term"})
        if r.get("exempt_if") not in (None, "stable_on_replacement_therapy"):
            raise ValueError(f"exempt_if {r['exempt_if']!r}: expected stable_on_replacement_therapy")

    def node(ctx: Context) -> Outcome:
        tox = ctx.patient.toxicities
        if tox is None:
            return unknown("toxicities of prior therapy not recorded", ["toxicities (CTCAE v5.0 term and current grade)"])
        bad, undecided, deferred, missing = [], [], [], []
        for x in tox:
            term = x.term.lower()
            if term in exempt:
                continue
            rule = exempt_rules.get(term, {})
            allowed = rule.get("max_grade", max_grade)
            current = 0 if x.resolved_on is not None and x.resolved_on <= ctx.as_of else x.current_grade
            if current is not None and current <= allowed:
                continue
            if rule.get("decided_by"):
                deferred.append(f"{x.term}{'' if current is None else f' grade {current}'} (decided by {rule['decided_by']})")
                continue
            if rule.get("exempt_if") == "stable_on_replacement_therapy":
                if x.stable_on_replacement_therapy is True:
                    deferred.append(f"{x.term} stable on hormone replacement therapy")
                    continue
                if x.stable_on_replacement_therapy is None:
                    undecided.append(x.term)
                    missing.append(f"whether {x.term} is stable on hormone replacement therapy "
                                   "(toxicities.stable_on_replacement_therapy)")
                    continue
            if current is None:
                undecided.append(x.term)
                missing.append(f"current grade of {x.term}")
            else:
                bad.append(f"{x.term} grade {current} (allowed <= {allowed})")
        if bad:
            return not_met(lambda: "not recovered: " + ", ".join(bad), ["toxicities"])
        if undecided:
            return unknown(lambda: "not decided for " + ", ".join(undecided), missing)
        extra = f"; exempt: {', '.join(deferred)}" if deferred else ""
        return met(lambda: f"all prior toxicities recovered to grade <= {max_grade} (or exempt){extra}", ["toxicities"])

    return node



@leaf("immunotherapy_resistance")
def _io_resistance(params: dict) -> Node:
    """Resistance to immunotherapy as NCT05906329 describes it: primary (no response after more
    than ``primary_min_days`` of exposure, with imaging progression) or acquired (progression
    after more than ``acquired_min_days`` of exposure)."""
    _check_keys(params, {"primary_min_days", "acquired_min_days", "primary_window", "acquired_window"})
    if ("primary_min_days" in params) == ("primary_window" in params) or \
            ("acquired_min_days" in params) == ("acquired_window" in params):
        raise ValueError("give primary_min_days or primary_window, and acquired_min_days or acquired_window")
    p_res = _window_resolver({"days": params["primary_min_days"]} if "primary_min_days" in params
                             else {"window": params["primary_window"]})
    a_res = _window_resolver({"days": params["acquired_min_days"]} if "acquired_min_days" in params
                             else {"window": params["acquired_window"]})

    def node(ctx: Context) -> Outcome:
        p_days, a_days = p_res(ctx), a_res(ctx)
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        io = [t for t in lines if "immunotherapy" in t.classes and t.start <= ctx.as_of]
        if not io:
            return not_met("no immunotherapy line recorded", ["systemic_therapy"])
        undecided = []
        for t in io:
            prog = t.progression_date
            if prog is None:
                undecided.append(t)
                continue
            exposure = (prog - t.start).days
            src = [f"systemic_therapy line {t.line}"]
            if exposure > a_days:
                return met(lambda: f"acquired resistance: progression on line {t.line} after {exposure} days of immunotherapy "
                           f"(> {a_days})", src)
            if exposure > p_days and t.best_response in ("SD", "PD"):
                return met(lambda: f"primary resistance: no response ({t.best_response}) and progression after {exposure} days "
                           f"of immunotherapy (> {p_days})", src)
            if exposure > p_days and t.best_response is None:
                undecided.append(t)
        if undecided:
            t = undecided[0]
            return unknown(lambda: f"line {t.line}: progression date or best response on immunotherapy not recorded",
                           [f"systemic_therapy line {t.line} progression_date and best_response"])
        return not_met("progression on immunotherapy does not meet the resistance definition", ["systemic_therapy"])

    return node



@leaf("other_anticancer_therapy_within")
def _other_therapy(params: dict) -> Node:
    _check_keys(params, {"days", "window", "exclude_line", "include_local"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        lines, rts = ctx.patient.systemic_therapy, ctx.patient.radiotherapy
        start = ctx.as_of - dt.timedelta(days=days)
        excl = params.get("exclude_line")
        missing = []
        if lines is None:
            missing.append("systemic_therapy")
        if params.get("include_local", True) and rts is None:
            missing.append("radiotherapy (local treatment history)")
        hits = []
        for t in lines or ():
            if excl is not None and (t.line == excl or (excl == "current" and t is reference_line(ctx.patient, ctx.as_of))):
                continue
            if t.start <= ctx.as_of and (t.end is None or t.end >= start):
                hits.append(f"line {t.line} ({'+'.join(t.agents)})")
        if params.get("include_local", True):
            for c in rts or ():
                end = c.end or c.start
                if c.start <= ctx.as_of and end >= start:
                    hits.append(f"radiotherapy {_fmt(c.start)}")
        if hits:
            return met(lambda: f"within {days} days: " + ", ".join(hits), ["systemic_therapy", "radiotherapy"])
        if missing:
            return unknown("treatment history not recorded", missing)
        return not_met(lambda: f"no other anticancer therapy within {days} days", ["systemic_therapy", "radiotherapy"])

    return node


"""Leaves on the toxicity of systemic therapy: the worst grade on a line, recovery from prior
therapy's toxicities, and other anticancer therapy within a window (split from
:mod:`therapy_lines`, which keeps the lines themselves).
"""

from __future__ import annotations

import datetime as dt

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _fmt,
    _window_resolver,
)
from oligotrial.domain.eligibility.criteria.therapy_lines import _line_or_outcome
from oligotrial.domain.eligibility.kleene import (
    Context,
    Node,
    Outcome,
    met,
    not_met,
    unknown,
)
from oligotrial.domain.eligibility.registry import leaf
from oligotrial.domain.response.progression import reference_line


@leaf("line_toxicity_grade")
def _line_tox(params: dict) -> Node:
    _check_keys(params, {"line", "min_grade"}, {"line", "min_grade"})

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        grades = [
            x.grade for x in ctx.patient.toxicities or () if x.date >= t.start and (t.end is None or x.date <= t.end)
        ]
        if t.max_toxicity_grade is not None:
            grades.append(t.max_toxicity_grade)
        if not grades and ctx.patient.toxicities is None:
            return unknown(
                lambda: f"adverse events on line {t.line} not recorded",
                [f"systemic_therapy line {t.line} max_toxicity_grade or toxicities"],
            )
        worst = max(grades, default=0)
        ok = worst >= params["min_grade"]
        return (met if ok else not_met)(
            lambda: f"worst CTCAE grade on line {t.line}: {worst}", [f"systemic_therapy line {t.line}"]
        )

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
            return unknown(
                "toxicities of prior therapy not recorded", ["toxicities (CTCAE v5.0 term and current grade)"]
            )
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
                deferred.append(
                    f"{x.term}{'' if current is None else f' grade {current}'} (decided by {rule['decided_by']})"
                )
                continue
            if rule.get("exempt_if") == "stable_on_replacement_therapy":
                if x.stable_on_replacement_therapy is True:
                    deferred.append(f"{x.term} stable on hormone replacement therapy")
                    continue
                if x.stable_on_replacement_therapy is None:
                    undecided.append(x.term)
                    missing.append(
                        f"whether {x.term} is stable on hormone replacement therapy "
                        "(toxicities.stable_on_replacement_therapy)"
                    )
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
            if excl is not None and (
                t.line == excl or (excl == "current" and t is reference_line(ctx.patient, ctx.as_of))
            ):
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

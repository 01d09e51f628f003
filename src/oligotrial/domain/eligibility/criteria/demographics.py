"""Leaves on the person: age on the screening date, diagnosis and stage, performance status
(ECOG/Karnofsky), pregnancy and lactation.
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _age,
    _check_keys,
    _fmt,
    _scores_until,
    _window_resolver,
)
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Node,
    Outcome,
    met,
    not_applicable,
    not_met,
    unknown,
)
from oligotrial.domain.eligibility.registry import leaf
from oligotrial.domain.record import scores


@leaf("age")
def _age_leaf(params: dict) -> Node:
    _check_keys(params, {"min", "max"})
    lo, hi = params.get("min"), params.get("max")
    rng = f"{'' if lo is None else f'>= {lo}'}{' and ' if lo is not None and hi is not None else ''}{'' if hi is None else f'<= {hi}'}"
    missing = unknown("age not recorded", ["birth_date or age_years"])

    def node(ctx: Context) -> Outcome:
        age, src = _age(ctx)
        if age is None:
            return missing
        ok = (lo is None or age >= lo) and (hi is None or age <= hi)
        return Outcome(MET if ok else NOT_MET, lambda: f"age {age} on {_fmt(ctx.as_of)} (required {rng})", (src,))

    return node


@leaf("diagnosis")
def _diagnosis(params: dict) -> Node:
    _check_keys(params, {"in", "confirmation_in", "histology_any"}, {"in"})
    allowed = set(params["in"])
    conf = set(params.get("confirmation_in") or ())
    hist = [h.lower() for h in params.get("histology_any") or ()]

    def node(ctx: Context) -> Outcome:
        c = ctx.patient.cancer
        if c is None:
            return unknown("cancer diagnosis not recorded", ["cancer.diagnosis"])
        if c.diagnosis not in allowed:
            return not_met(
                lambda: f"diagnosis {c.diagnosis}, required {', '.join(sorted(allowed))}", ["cancer.diagnosis"]
            )
        parts = [f"diagnosis {c.diagnosis}"]
        if conf:
            if c.confirmation is None:
                return unknown(
                    lambda: f"diagnosis {c.diagnosis}; how it was confirmed is not recorded",
                    ["cancer.confirmation"],
                    ["cancer.diagnosis"],
                )
            if c.confirmation not in conf:
                return not_met(
                    lambda: f"{c.diagnosis} confirmed by {c.confirmation}, required {' or '.join(sorted(conf))}",
                    ["cancer.confirmation"],
                )
            parts.append(f"confirmed by {c.confirmation}")
        if hist:
            if c.histology is None:
                return unknown(lambda: f"diagnosis {c.diagnosis}; histology not recorded", ["cancer.histology"])
            if not any(h in c.histology.lower() for h in hist):
                return not_met(
                    lambda: f"histology {c.histology!r} is not one of {', '.join(hist)}", ["cancer.histology"]
                )
            parts.append(f"histology {c.histology}")
        return met(", ".join(parts), ["cancer"])

    return node


@leaf("stage")
def _stage(params: dict) -> Node:
    _check_keys(params, {"in"}, {"in"})
    allowed = {s.upper() for s in params["in"]}

    def node(ctx: Context) -> Outcome:
        c = ctx.patient.cancer
        if c is None or c.stage is None:
            return unknown("stage not recorded", ["cancer.stage"])
        ok = c.stage.upper() in allowed
        return (met if ok else not_met)(
            lambda: f"stage {c.stage} (required {', '.join(sorted(allowed))})", ["cancer.stage"]
        )

    return node


def _performance_records(ctx: Context) -> list:
    """Per patient: performance scores on or before the screening date, oldest first (of the
    same date, in record order)."""
    return ctx.patient_memo("performance", _scores_until, ctx.patient, ctx.as_of)


@leaf("performance")
def _performance(params: dict) -> Node:
    _check_keys(params, {"scale", "min", "max", "days", "window"}, {"scale"})
    scale, lo, hi = params["scale"], params.get("min"), params.get("max")
    if scale not in ("ECOG", "KPS"):
        raise ValueError(f"scale {scale!r}: expected ECOG or KPS")
    window = _window_resolver(params)
    need = f"{scale} {'' if lo is None else f'>= {lo}'}{' ' if lo is not None and hi is not None else ''}{'' if hi is None else f'<= {hi}'}"

    def node(ctx: Context) -> Outcome:
        days = window(ctx)
        recs = _performance_records(ctx)
        if days is not None:
            as_of = ctx.as_of
            recs = [r for r in recs if (as_of - r.date).days <= days]
        if not recs:
            return Outcome(
                UNKNOWN,
                lambda: f"no {scale} score{'' if days is None else f' within {days} days'}",
                (),
                (f"performance ({scale} or its equivalent){'' if days is None else f' within {days} days'}",),
            )
        # the latest date; on that date a score on the asked scale, else the first recorded
        last = recs[-1].date
        r = None
        for x in recs:
            if x.date == last and (r is None or (x.scale == scale and r.scale != scale)):
                r = x
        assert r is not None  # recs holds a record dated last
        possible = scores.possible_scores(r.scale, r.score, scale)
        verdicts = {(lo is None or v >= lo) and (hi is None or v <= hi) for v in possible}
        src = f"{r.scale} {r.score} on {_fmt(r.date)}"
        if len(verdicts) > 1:
            return Outcome(
                UNKNOWN,
                lambda: f"{src} corresponds to {scale} {sorted(possible)}: cannot decide {need}",
                (src,),
                (f"a {scale} score",),
            )

        def why() -> str:
            conv = "" if r.scale == scale else f" (= {scale} {'/'.join(map(str, sorted(possible)))}, Oken 1982)"
            return f"{src}{conv}; required {need}"

        return Outcome(MET if verdicts.pop() else NOT_MET, why, (src,))

    return node


def _female_relevant(ctx: Context) -> Outcome | None:
    p = ctx.patient
    if p.sex == "male":
        return not_applicable("not applicable: male", ["sex"])
    rep = p.reproductive
    if rep is not None and rep.childbearing_potential is False:
        return not_applicable("not applicable: no childbearing potential", ["reproductive.childbearing_potential"])
    return None


@leaf("pregnancy_test")
def _pregnancy_test(params: dict) -> Node:
    _check_keys(params, {"days", "window"})
    window = _window_resolver(params)

    def node(ctx: Context) -> Outcome:
        na = _female_relevant(ctx)
        if na is not None:
            return na
        p = ctx.patient
        rep = p.reproductive
        days = window(ctx)
        t = rep.pregnancy_test if rep else None
        if t is None or (days is not None and not 0 <= (ctx.as_of - t.date).days <= days):
            missing = [f"negative pregnancy test within {days} days" if days else "pregnancy test"]
            if rep is None or rep.childbearing_potential is None:
                missing.insert(0, "reproductive.childbearing_potential")
            return unknown(
                lambda: "no pregnancy test" + ("" if days is None else f" within {days} days of {_fmt(ctx.as_of)}"),
                missing,
            )
        src = f"pregnancy test {t.result} on {_fmt(t.date)}"
        return (met if t.result == "negative" else not_met)(src, [src])

    return node


@leaf("pregnant_or_lactating")
def _pregnant(params: Any) -> Node:
    def node(ctx: Context) -> Outcome:
        if ctx.patient.sex == "male":
            return not_applicable("not applicable: male", ["sex"])
        rep = ctx.patient.reproductive
        if rep is not None and (rep.pregnant or rep.lactating):
            return met("pregnant" if rep.pregnant else "lactating", ["reproductive"])
        if rep is not None and rep.pregnant is False and rep.lactating is False:
            return not_met("neither pregnant nor lactating", ["reproductive"])
        if rep is not None and rep.childbearing_potential is False and rep.lactating is False:
            return not_met("no childbearing potential, not lactating", ["reproductive"])
        t = rep.pregnancy_test if rep else None
        if (
            rep is not None
            and rep.lactating is False
            and t is not None
            and t.result == "negative"
            and 0 <= (ctx.as_of - t.date).days <= 14
        ):
            return not_met(lambda: f"negative pregnancy test on {_fmt(t.date)}, not lactating", ["reproductive"])
        return unknown(
            "pregnancy and lactation status not recorded", ["reproductive.pregnant", "reproductive.lactating"]
        )

    return node

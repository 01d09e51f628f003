"""Leaves on systemic therapy history: lines and their classes, cycles, benefit, toxicity and
recovery, immunotherapy resistance, other anticancer therapy within a window.
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _fmt,
    _imaging_best,
    _imaging_srcs,
    _line_imaging,
    _op,
    _period_resolver,
    _progression_of,
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
            wanted = which[len("first:") :].lower()
            return next(
                (t for t in lines if t.start <= ctx.as_of and (wanted in t.classes or wanted in t.agents)), None
            )
        return next((t for t in lines if t.line == which), None)

    return ctx.patient_memo(("line", which), make)


def _line_or_outcome(ctx: Context, which: Any):
    """The therapy line ``which`` ("current" or a number), or the Outcome that decides the leaf
    without one: unknown when the history is not recorded, not met when the line is absent."""
    if ctx.patient.systemic_therapy is None:
        return None, unknown("systemic therapy history not recorded", ["systemic_therapy"])
    t = _line(ctx, which)
    if t is None:
        name = (
            "current"
            if which == "current"
            else f"{which[len('first:') :]}"
            if isinstance(which, str) and which.startswith("first:")
            else f"line {which}"
        )
        return None, not_met(lambda: f"no {name} systemic therapy recorded", ["systemic_therapy"])
    return t, None


def _persistence(ctx: Context, t, need: int, responses: set[str]) -> tuple[Any, Any, list[str], list[str]]:
    """Whether CR/PR/SD on line ``t`` persisted at least ``need`` days from its start, decided
    from the record: (verdict or None when the record cannot tell, reason, inputs, missing).

    Not met when the record shows progression before day ``need`` (recorded best response PD;
    the recorded progression date; or a RECIST PD time point, e.g. PD at the first response
    assessment); met when a scan at or after day ``need`` still shows CR/PR/SD with no PD
    before it, or the recorded best response is CR/PR/SD and the recorded progression came on or
    after day ``need``. A fact that excludes wins over one that admits."""
    allowed = set(responses) | ({"NON-CR/NON-PD"} if "SD" in responses else set())
    want = "/".join(sorted(responses))
    src = [f"systemic_therapy line {t.line}"]
    head = f"line {t.line} ({'+'.join(t.agents)}, started {_fmt(t.start)})"
    admits: list[tuple[str, list[str]]] = []
    cannot: list[str] = []
    if t.best_response == "PD":
        return NOT_MET, f"{head}: best response recorded as PD (primary resistance)", src, []
    if t.best_response is not None and t.best_response not in allowed and t.best_response != "NE":
        return NOT_MET, f"{head}: best response recorded as {t.best_response} (required {want})", src, []
    if t.progression_date is not None:
        days = (t.progression_date - t.start).days
        if days < need:
            return (
                NOT_MET,
                (
                    f"{head}: progression recorded on {_fmt(t.progression_date)}, {days} days after the "
                    f"start ({want} cannot have persisted {need} days)"
                ),
                src,
                [],
            )
        if t.best_response in allowed:
            admits.append(
                (
                    (
                        f"{head}: best response {t.best_response}, progression recorded on "
                        f"{_fmt(t.progression_date)}, {days} days after the start (required >= {need})"
                    ),
                    src,
                )
            )
    im = _line_imaging(ctx, t)
    if im.why is None:
        isrc = _imaging_srcs(t, im)
        if im.first_pd is not None and (im.first_pd - t.start).days < need:
            days = (im.first_pd - t.start).days
            what = "PD at the first response assessment (primary resistance)" if im.points[0][1] == "PD" else "PD"
            return (
                NOT_MET,
                (
                    f"{head}: {what} on {_fmt(im.first_pd)} against the baseline scan of "
                    f"{_fmt(im.baseline)}, {days} days after the start ({want} cannot have persisted "
                    f"{need} days)"
                ),
                isrc,
                [],
            )
        late = [(d, r) for d, r in im.before_pd() if r in allowed and (d - t.start).days >= need]
        if late:
            d, r = late[-1]
            shown = ", ".join(f"{rr} {_fmt(dd)}" for dd, rr in im.before_pd())
            admits.insert(
                0,
                (
                    (
                        f"{head}: {r} on the scan of {_fmt(d)}, {(d - t.start).days} days after the start, "
                        f"with no PD before it (RECIST 1.1 against the baseline scan of {_fmt(im.baseline)}: "
                        f"{shown}; required >= {need} days)"
                    ),
                    isrc,
                ),
            )
        else:
            cannot.append(
                f"no scan on line {t.line} at or after day {need} shows {want} before any PD"
                + (f" (first PD on {_fmt(im.first_pd)})" if im.first_pd else "")
            )
    else:
        cannot.append(im.why)
    if admits:
        why, inputs = admits[0]
        return MET, why, inputs, []
    if t.best_response is None:
        cannot.append(f"best response to line {t.line} not recorded")
    elif t.progression_date is None:
        cannot.append(f"progression on line {t.line} not recorded")
    return (
        None,
        f"{head}: the record cannot tell: " + "; ".join(cannot),
        src,
        [f"systemic_therapy line {t.line} best_response and progression_date, or follow-up imaging"],
    )


@leaf("response_persisted")
def _response_persisted(params: dict) -> Node:
    """CR/PR/SD on ``line`` (default the current one) persisting at least ``min_days`` (or the
    protocol ``window``) from the line's start, decided from the record's imaging and the line's
    recorded best response and progression date (see :func:`_persistence`); unknown when the
    record cannot tell.

    ``record`` pairs it with an attestation that decides only what the record cannot tell:
    ``decides`` (default) is the three-valued verdict; ``shows`` is met only when the record
    shows it (else not met, saying what is missing); ``allows`` is not met only when the record
    shows it failed (else met). ``all: [R(allows), any: [R(shows), attested: k]]`` is then the
    record's verdict where it decides, and the attestation's where it cannot, so
    ``assume_attested`` can never hide a fact that excludes. (Strong Kleene ``any``/``all`` of
    the three-valued leaf and the attestation cannot say this: "the record if it decides, else
    the attestation" is not monotone in the record's verdict.)"""
    _check_keys(params, {"line", "min_days", "window", "responses", "record"})
    window = _period_resolver({"days": params["min_days"]} if "min_days" in params else params)
    if "min_days" not in params and "window" not in params:
        raise ValueError("give min_days or window")
    which = params.get("line", "current")
    responses = set(params.get("responses", ["CR", "PR", "SD"]))
    key = tuple(sorted(responses))
    mode = params.get("record", "decides")
    if mode not in ("decides", "shows", "allows"):
        raise ValueError(f"record {mode!r}: expected decides, shows or allows")

    def decide(ctx: Context):
        if ctx.patient.systemic_therapy is None:
            return None, "systemic therapy history not recorded", [], ["systemic_therapy"]
        t = _line(ctx, which)
        if t is None:
            return (
                None,
                f"no {which} systemic therapy line to measure the response against",
                [],
                ["systemic_therapy", "follow-up imaging"],
            )
        need = window(ctx).days_after(t.start)  # a window in months: to the same day N months on
        return ctx.patient_memo(("persistence", t.line, t.start, need, key), _persistence, ctx, t, need, responses)

    def node(ctx: Context) -> Outcome:
        verdict, why, inputs, missing = decide(ctx)
        if verdict is None:
            if mode == "decides":
                return unknown(why, missing, inputs)
            # "the record cannot tell" goes beside the attestation's answer, with what would decide it
            return Outcome(NOT_MET if mode == "shows" else MET, why, tuple(inputs), tuple(missing))
        if mode != "decides" and (verdict is MET) == (mode == "allows"):
            return Outcome(verdict, "", tuple(inputs))  # said once, by the other leaf beside it
        return Outcome(verdict, why, tuple(inputs))

    return node


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
            return Outcome(
                NOT_MET, lambda: f"{desc()} has none of the agents {', '.join(params['agents_any_of'])}", src
            )
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
            return met(
                lambda: (
                    f"prior line {prior[0].line} with {', '.join(sorted(wanted & (set(prior[0].classes) | set(prior[0].agents))))}"
                ),
                [f"systemic_therapy line {prior[0].line}"],
            )
        return not_met(lambda: f"no line with {', '.join(sorted(wanted))} before {_fmt(cutoff)}", ["systemic_therapy"])

    return node


@leaf("progression_during_line")
def _progression_during_line(params: dict) -> Node:
    """The progression now screened happened *during* ``line`` (a number, "current" or
    ``first:<class>``), as NCT06523673 criterion 5 reads ("oligo-progression during first-line
    chemotherapy combined with ICI"; "occurred during treatment with first-line chemotherapy
    combined with bevacizumab"): the line's progression date (recorded, else its first RECIST 1.1
    PD time point, said so) falls on or after its start and on or before its end, no later line
    started before it, and no later line has started since (a later line makes the progression now
    screened that line's). Unknown when neither the record nor the line's scans show a
    progression, saying what would decide it."""
    _check_keys(params, {"line"}, {"line"})
    which = params["line"]

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, which)
        if decided is not None:
            return decided
        prog, how = _progression_of(ctx, t)
        head = f"line {t.line} ({'+'.join(t.agents)}, started {_fmt(t.start)})"
        later = sorted(
            (
                u
                for u in ctx.patient.systemic_therapy or ()
                if u is not t and u.start > t.start and u.start <= ctx.as_of
            ),
            key=lambda u: u.start,
        )
        if later:  # a later line has started: the progression now screened is not on this line
            u = later[0]
            inputs = [f"systemic_therapy line {t.line}", f"systemic_therapy line {u.line}"]
            if prog is not None and prog >= u.start:
                return not_met(
                    lambda: (
                        f"{head}: {how} came after line {u.line} started ({_fmt(u.start)}): during "
                        f"line {u.line}, not line {t.line}"
                    ),
                    inputs,
                )
            return not_met(
                lambda: (
                    f"{head}: line {u.line} started on {_fmt(u.start)} since: the progression now "
                    f"screened is on line {u.line}, not line {t.line}"
                ),
                inputs,
            )
        if prog is None:
            im = _line_imaging(ctx, t)
            return unknown(
                lambda: (
                    f"{head}: no progression recorded"
                    + (f" and its scans cannot show one ({im.why})" if im.why else " and no RECIST 1.1 PD on its scans")
                ),
                [f"systemic_therapy line {t.line} progression_date"],
            )
        src = (
            [f"systemic_therapy line {t.line}"]
            if t.progression_date is not None
            else _imaging_srcs(t, _line_imaging(ctx, t))
        )
        if t.end is not None and t.end < prog:
            return not_met(lambda: f"{head}: ended on {_fmt(t.end)}, before the {how}: not during the line", src)
        if prog < t.start:
            return not_met(lambda: f"{head}: {how} before the line started", src)
        return met(
            lambda: (
                f"{how} during line {t.line} ({'+'.join(t.agents)}, started {_fmt(t.start)}"
                f"{'' if t.end is None else f', ended {_fmt(t.end)}'})"
            ),
            src,
        )

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
        return (met if ok else not_met)(
            lambda: f"line {t.line}: {t.cycles} cycles (required {lo}-{hi})", [f"systemic_therapy line {t.line}"]
        )

    return node


@leaf("line_benefit")
def _line_benefit(params: dict) -> Node:
    """Clinical benefit (best response CR/PR/SD) lasting at least N days (or the protocol
    ``window``; in calendar months: to the same day of the month N months after the line's start)
    from the line's start to its documented progression (or, if none is documented, to the
    judged scan)."""
    _check_keys(params, {"line", "min_days", "window", "responses"}, {"line"})
    responses = set(params.get("responses", ["CR", "PR", "SD"]))
    period = _period_resolver({"days": params["min_days"]} if "min_days" in params else params)

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        per = period(ctx)
        need = per.days_after(t.start)
        if per.months is not None:  # say where the calendar months end
            need_txt = f"{need} days: {per} to {_fmt(per.after(t.start))}"
        else:
            need_txt = f"{need} days"
        src = [f"systemic_therapy line {t.line}"]
        best, best_how = t.best_response, ""
        if best is not None and best not in responses:
            return not_met(
                lambda: (
                    f"best response to line {t.line} was {t.best_response} (required {'/'.join(sorted(responses))})"
                    + (" (primary resistance)" if best == "PD" else "")
                ),
                src,
            )
        # the progression date: recorded, else the first RECIST PD on the line's scans (said so)
        end, basis = _progression_of(ctx, t)
        if end is not None and t.progression_date is None:
            src = _imaging_srcs(t, _line_imaging(ctx, t))
        if end is None:
            scans = [a.date for a in ctx.patient.assessments or () if a.date <= ctx.as_of]
            if not scans:
                return unknown(
                    lambda: f"date of progression on line {t.line} not recorded",
                    [f"systemic_therapy line {t.line} progression_date"],
                )
            end = max(scans)
            basis = f"latest scan {_fmt(end)}"
        days = (end - t.start).days
        if best is None:
            if days < need:  # progression before the window closed: no benefit of that length
                return not_met(
                    lambda: (
                        f"line {t.line} ({'+'.join(t.agents)}): {days} days from start {_fmt(t.start)} to "
                        f"{basis} (required >= {need_txt})"
                    ),
                    src,
                )
            im = _line_imaging(ctx, t)
            best = None if im.why is not None else _imaging_best(im)
            if best is None or best == "PD":
                if im.why:
                    why = im.why
                else:  # usable scans whose best time point is PD
                    assert im.first_pd is not None
                    why = (
                        f"the first scan on line {t.line} after its baseline {_fmt(im.baseline)} already shows PD "
                        f"({_fmt(im.first_pd)}, day {(im.first_pd - t.start).days}): the scans cannot tell "
                        f"whether the disease was controlled for {need} days"
                    )
                return unknown(
                    lambda: f"best response to line {t.line} not recorded; {why}",
                    [f"systemic_therapy line {t.line} best_response"],
                    src,
                )
            if best not in responses and not (best == "NON-CR/NON-PD" and "SD" in responses):
                return not_met(
                    lambda: (
                        f"best response to line {t.line} on imaging was {best} (required {'/'.join(sorted(responses))})"
                    ),
                    _imaging_srcs(t, im),
                )
            best_how = f" on imaging (RECIST 1.1 against the baseline scan of {_fmt(im.baseline)}; not recorded)"
            src = _imaging_srcs(t, im)
        ok = days >= need
        return (met if ok else not_met)(
            lambda: (
                f"line {t.line} ({'+'.join(t.agents)}): {best}{best_how}, {days} days from start {_fmt(t.start)} to "
                f"{basis} (required >= {need_txt})"
            ),
            src,
        )

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
            return met(
                lambda: f"on line {t.line} ({'+'.join(t.agents)}) since {_fmt(t.start)}",
                [f"systemic_therapy line {t.line}"],
            )
        return not_met("not on systemic therapy at screening", ["systemic_therapy"])

    return node


@leaf("progression_within_days_of_line")
def _early_progression(params: dict) -> Node:
    """Progression on ``line`` within the window counted from the line's start (day 0);
    ``op`` (default ``<``) says whether the window's last day is inside (``<=``)."""
    _check_keys(params, {"line", "days", "window", "op"}, {"line"})
    window = _period_resolver(params)
    op = params.get("op", "<")
    cmp_ = _op(op)

    def node(ctx: Context) -> Outcome:
        t, decided = _line_or_outcome(ctx, params["line"])
        if decided is not None:
            return decided
        per = window(ctx)
        limit = per.days_after(t.start)  # a window in months: to the same day N months on
        ends = f", {per} end on {_fmt(per.after(t.start))}" if per.months is not None else ""
        prog, how = _progression_of(ctx, t)
        if prog is None:
            im = _line_imaging(ctx, t)
            return unknown(
                lambda: (
                    f"date of progression on line {t.line} not recorded"
                    + (f" ({im.why})" if im.why else " and no RECIST PD on its scans")
                ),
                [f"systemic_therapy line {t.line} progression_date"],
            )
        days = (prog - t.start).days
        ok = cmp_(days, limit)
        src = (
            [f"systemic_therapy line {t.line}"]
            if t.progression_date is not None
            else _imaging_srcs(t, _line_imaging(ctx, t))
        )
        derived = "" if t.progression_date is not None else f"; {how}"
        return (met if ok else not_met)(
            lambda: (
                f"progression on line {t.line} {days} days after its start (day {days} "
                f"{op} {limit}{ends}: {'yes' if ok else 'no'}){derived}"
            ),
            src,
        )

    return node

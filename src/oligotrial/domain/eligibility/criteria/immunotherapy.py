"""Resistance to immunotherapy (NCT05906329's definition): a leaf of its own, read from the
systemic therapy lines and their scans."""

from __future__ import annotations

from functools import partial
from typing import Any

from oligotrial.domain.eligibility.criteria._shared import (
    _check_keys,
    _fmt,
    _imaging_best,
    _imaging_srcs,
    _line_imaging,
    _period_resolver,
    _progression_of,
)
from oligotrial.domain.eligibility.kleene import Context, Node, Outcome, met, not_met, unknown
from oligotrial.domain.eligibility.registry import leaf
from oligotrial.domain.kernel import Period


@leaf("immunotherapy_resistance")
def _io_resistance(params: dict) -> Node:
    """Resistance to immunotherapy as NCT05906329 describes it: primary (no response after more
    than ``primary_min_days`` of exposure, with imaging progression) or acquired (progression
    after more than ``acquired_min_days`` of exposure); "imaging is needed to confirm the disease
    progression again".

    The record's response history decides where it can: a line whose scans (RECIST 1.1 against
    its baseline) show no PD and whose progression is not recorded shows no resistance (not met,
    naming its best response); a progression with a response (CR/PR) before the acquired window
    is neither kind. Unknown only for what the record lacks, named: the progression date when the
    line has no usable scans, the best response when the progression came after the primary
    window and neither the record nor the scans give the response."""
    _check_keys(params, {"primary_min_days", "acquired_min_days", "primary_window", "acquired_window"})
    if ("primary_min_days" in params) == ("primary_window" in params) or ("acquired_min_days" in params) == (
        "acquired_window" in params
    ):
        raise ValueError("give primary_min_days or primary_window, and acquired_min_days or acquired_window")
    p_res = _period_resolver(
        {"days": params["primary_min_days"]} if "primary_min_days" in params else {"window": params["primary_window"]}
    )
    a_res = _period_resolver(
        {"days": params["acquired_min_days"]}
        if "acquired_min_days" in params
        else {"window": params["acquired_window"]}
    )

    def node(ctx: Context) -> Outcome:
        p_per, a_per = p_res(ctx), a_res(ctx)
        lines = ctx.patient.systemic_therapy
        if lines is None:
            return unknown("systemic therapy history not recorded", ["systemic_therapy"])
        io = [t for t in lines if "immunotherapy" in t.classes and t.start <= ctx.as_of]
        if not io:
            return not_met("no immunotherapy line recorded", ["systemic_therapy"])
        undecided: list[tuple[Any, str, str]] = []  # (line, why, what would decide it)
        refuted: list[str] = []
        for t in io:
            # the progression date: recorded, else the first RECIST PD on the line's scans (said so)
            prog, how = _progression_of(ctx, t)
            # a window in months counts from the line's start to the same day N months on
            p_days, a_days = p_per.days_after(t.start), a_per.days_after(t.start)
            im = _line_imaging(ctx, t)
            best, best_how = t.best_response, ""
            if best is None:  # no response recorded: the best time point on the line's scans up to its first PD
                best = None if im.why is not None else _imaging_best(im)
                if best is not None:
                    best, best_how = ("SD" if best == "NON-CR/NON-PD" else best), " on imaging, not recorded"
            if prog is None:
                most = (ctx.as_of - t.start).days  # a progression not yet recorded came by the screening date
                if most <= p_days or (best in ("CR", "PR") and most <= a_days):
                    refuted.append(
                        f"line {t.line}: no progression recorded; at most {most} days of immunotherapy by "
                        f"{_fmt(ctx.as_of)}"
                        + (
                            f" after a response ({best}{best_how}), not > {a_days}"
                            if most > p_days
                            else f", not > {p_days}"
                        )
                        + ": neither primary nor acquired resistance"
                    )
                elif im.why is None:
                    # the record's response history decides: no progression on the line's scans
                    last = im.points[-1][0]
                    refuted.append(
                        f"line {t.line}: no progression on immunotherapy (best response {best}{best_how}; "
                        f"no PD on its scans up to {_fmt(last)}, none recorded)"
                    )
                else:
                    undecided.append(
                        (
                            t,
                            (
                                f"line {t.line}: progression on line {t.line} not recorded and its scans "
                                f"cannot show one ({im.why})"
                            ),
                            "progression_date",
                        )
                    )
                continue
            exposure = (prog - t.start).days
            derived = "" if t.progression_date is not None else f"; {how}"
            src = [f"systemic_therapy line {t.line}"] if not (derived or best_how) else _imaging_srcs(t, im)
            if exposure > a_days:  # the reason's text is formatted when read, from this line's values
                return met(partial(_acquired, t.line, exposure, a_days, a_per, derived), src)
            if exposure > p_days and best in ("SD", "PD"):
                return met(partial(_primary, f"{best}{best_how}", exposure, p_days, p_per, derived), src)
            if exposure > p_days and best is None:
                undecided.append(
                    (
                        t,
                        f"line {t.line}: progression after {exposure} days (> {p_days}){derived}, but best "
                        f"response to line {t.line} not recorded"
                        + (f" and its scans cannot show it ({im.why})" if im.why else ""),
                        "best_response",
                    )
                )
            elif exposure > p_days:
                refuted.append(
                    f"line {t.line}: response {best}{best_how}, progression after {exposure} days (not > "
                    f"{a_days}): neither primary nor acquired resistance"
                )
            else:
                refuted.append(
                    f"line {t.line}: progression after {exposure} days of immunotherapy (not > {p_days}){derived}"
                )
        if undecided:
            return unknown(
                lambda: "; ".join(why for _, why, _ in undecided),
                [f"systemic_therapy line {t.line} {what}" for t, _, what in undecided],
            )
        return not_met(
            lambda: "; ".join(refuted) or "progression on immunotherapy does not meet the resistance definition",
            ["systemic_therapy", "assessments"],
        )

    return node


def _acquired(line: int, exposure: int, a_days: int, a_per: Period, derived: str) -> str:
    return (
        f"acquired resistance: progression on line {line} after {exposure} days of immunotherapy "
        f"(> {a_days}{f': {a_per}' if a_per.months is not None else ''}){derived}"
    )


def _primary(best: str, exposure: int, p_days: int, p_per: Period, derived: str) -> str:
    return (
        f"primary resistance: no response ({best}) and progression after {exposure} days "
        f"of immunotherapy (> {p_days}{f': {p_per}' if p_per.months is not None else ''}){derived}"
    )

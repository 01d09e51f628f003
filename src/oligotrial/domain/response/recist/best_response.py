"""RECIST 1.1 step 4: best overall response from the time-point responses, with or without
confirmation (R11 s.4.6, Table 3), and the minimum duration of stable disease.

References
----------
Eisenhauer EA et al. Eur J Cancer 2009;45:228-47 (R11). EORTC RECIST FAQ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from oligotrial.domain.response.recist.measurement import (
    DEFAULT_OPTIONS,
    RESPONSES,
    Date,
    RecistOptions,
)
from oligotrial.errors import AssessmentError

_RANK = {"CR": 6, "PR": 5, "SD": 4, "NON-CR/NON-PD": 3, "PD": 2, "NE": 1}
_WORST = {"PD": 0, "NE": 1, "NON-CR/NON-PD": 2, "SD": 3, "PR": 4, "CR": 5}


@dataclass(frozen=True)
class BestResponse:
    response: str | None
    date: Date | None
    confirmed: bool
    reason: str


def _prepare(
    responses: Iterable[tuple[Date, str]], start: Date | None, until: Date | None, options: RecistOptions
) -> list[tuple[Date, str]]:
    """Worst response per date, on/after start, before ``until`` (new anticancer therapy), up to
    and including the first PD (R11 s.4.6.1; admiralonco)."""
    per_date: dict[Date, str] = {}
    for d, r in responses:
        if r not in _RANK:
            raise AssessmentError(
                f"response {r!r} on {d.isoformat()}: expected one of {', '.join(RESPONSES)}", field="response"
            )
        if start is not None and d < start or until is not None and d >= until:
            continue
        if d not in per_date or _WORST[r] < _WORST[per_date[d]]:
            per_date[d] = r
    seq = sorted(per_date.items())
    if options.truncate_at_pd:
        for i, (_, r) in enumerate(seq):
            if r == "PD":
                return seq[: i + 1]
    return seq


def _window_ok(d: Date, start: Date | None, options: RecistOptions) -> bool:
    return start is None or (d - start).days >= options.sd_min_days


def best_overall_response(
    responses: Iterable[tuple[Date, str]],
    *,
    start: Date | None,
    confirm: bool = False,
    until: Date | None = None,
    options: RecistOptions = DEFAULT_OPTIONS,
) -> BestResponse:
    """Best overall response (R11 s.4.6, Table 3; admiralonco ``derive_param_(confirmed_)bor``).

    Without confirmation: CR > PR > SD > NON-CR/NON-PD > PD > NE, where SD and NON-CR/NON-PD
    count only ``sd_min_days`` or more after ``start`` (earlier ones read NE). With
    confirmation: CR needs a CR >= ``confirm_min_days`` later with only CR/NE between (at most
    ``max_ne_between`` NE); PR needs PR/CR that late with CR/PR/NE/SD between (limits as set);
    an unconfirmed CR/PR falls back to SD if the SD minimum is met, else PD or NE (Table 3).
    The date is the first time point of the response.
    """
    seq = _prepare(responses, start, until, options)
    if not seq:
        return BestResponse(None, None, False, "no evaluable time point after the start")
    if confirm:
        got = _confirmed(seq, options)
        if got is not None:
            resp, d, j = got
            return BestResponse(resp, d, True, f"{resp} {d.isoformat()} confirmed {j.isoformat()}")
        for d, r in seq:
            if r in ("CR", "PR", "SD") and _window_ok(d, start, options):
                return BestResponse("SD", d, False, f"SD: first CR/PR/SD at >= {options.sd_min_days} d from start")
        for d, r in seq:
            if r == "NON-CR/NON-PD" and _window_ok(d, start, options):
                return BestResponse(r, d, False, f"NON-CR/NON-PD at >= {options.sd_min_days} d from start")
        for wanted in ("PD", "NE"):
            for d, r in seq:
                if r == wanted or (wanted == "NE" and r in ("CR", "PR", "SD", "NON-CR/NON-PD")):
                    return BestResponse(wanted, d, False, f"{wanted}: no confirmed response, SD minimum not met")
        return BestResponse(None, None, False, "no time point")
    best, best_date = None, None
    for d, r in seq:
        eff = r
        if r in ("SD", "NON-CR/NON-PD") and not _window_ok(d, start, options):
            eff = "NE"
        if best is None or _RANK[eff] > _RANK[best]:
            best, best_date = eff, d
    return BestResponse(best, best_date, False, "best time-point response (unconfirmed)")


def _confirmed(seq: list[tuple[Date, str]], options: RecistOptions) -> tuple[str, Date, Date] | None:
    for wanted, starts, confirms, between in (
        ("CR", {"CR"}, {"CR"}, {"CR", "NE"}),
        ("PR", {"CR", "PR"}, {"CR", "PR"}, {"CR", "PR", "NE", "SD"}),
    ):
        for i, (d_i, r_i) in enumerate(seq):
            if r_i not in starts:
                continue
            ne = sd = 0
            for d_j, r_j in seq[i + 1 :]:
                if r_j in confirms and (d_j - d_i).days >= options.confirm_min_days:
                    return wanted, d_i, d_j
                if r_j not in between:
                    break
                ne += r_j == "NE"
                sd += r_j == "SD"
                if ne > options.max_ne_between or sd > options.max_sd_between:
                    break
    return None


def confirmed_response(responses: Sequence[tuple[Date, str]], options: RecistOptions) -> str | None:
    """The confirmed CR or PR in ``responses`` (no start window), or None."""
    got = _confirmed(sorted(responses), options)
    return got[0] if got else None

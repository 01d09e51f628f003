"""The calendar of a radiotherapy course: do its first and last fraction dates agree with the
number of fractions, the regimen's fractions per week and its overall treatment time? Pure.

Issue 25 item 3: "first and last fraction on one day for 5 fractions passes the check; the dates
must agree with the fractions and the protocol's fractions per week ... a one-fraction course may
fall on any day."

Two levels:

* :func:`impossible` is what no course can be (refused as bad input, no override): the last
  fraction before the first; a one-fraction course whose last fraction is not its first; more
  than one fraction a day (``fractions`` fractions need at least ``fractions - 1`` days from the
  first to the last). None of the five trials' regimens is given twice a day (their registry
  texts give Gy per fraction and fractions, e.g. NCT05906329 "1.8-2Gy/f", "1f/w"), so a course
  recorded with more fractions than days is a wrong date or a wrong count.
* :func:`regimen_date_reasons` is what the arm's regimen allows (a failing reason, which a
  documented override records as a protocol deviation): at most ``max_per_week`` fractions in
  any 7 consecutive days (:func:`min_span_days`), and the whole course within the regimen's or
  the arm's maximum overall treatment time where one is stated.

Overall treatment time runs from the first fraction to the last (the T of the BED time factor,
``shared/reference/radiotherapy-dose.md`` s.1 "Overall treatment time (OTT)"); it is counted here
in days with both ends included (our convention, stated in every message), so that a course on
one day takes 1 day and a Monday-to-Friday course 5.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

Date = dt.date


def min_span_days(fractions: int, per_week: int) -> int:
    """The fewest days from the first fraction to the last for ``fractions`` fractions given at
    most once a day and at most ``per_week`` times in any 7 consecutive days.

    Fractions as early as the limits allow fall on days 0..k-1, 7..7+k-1, ...: fraction i
    (0-based) on day ``7 * (i // k) + i % k``, and no fraction can come earlier (each block of k
    needs a new 7-day window). 5 fractions at 5 a week: 4 days (Monday to Friday); 10 at 5 a week:
    11 days; 4 at 1 a week: 21 days; 1 fraction: 0 days."""
    if fractions < 1 or not 1 <= per_week <= 7:
        raise ValueError(f"fractions {fractions!r} (expected >= 1), per_week {per_week!r} (expected 1..7)")
    i = fractions - 1
    return 7 * (i // per_week) + i % per_week


def overall_days(first: Date, last: Date) -> int:
    """Overall treatment time in days, first and last fraction days both counted."""
    return (last - first).days + 1


def impossible(fractions: int, first: Date, last: Date) -> str | None:
    """What is wrong with the last fraction's date whatever the protocol (None: nothing), as the
    expected value of ``end``: on or after the first; the first itself for one fraction; at
    least ``fractions - 1`` days after the first (one fraction a day at most)."""
    if last < first:
        return f"a date on or after start {first.isoformat()}"
    if fractions == 1 and last != first:
        return (
            f"{first.isoformat()} (the start): a course of 1 fraction is given on one day, so its first and "
            "last fraction fall on the same date"
        )
    need = fractions - 1
    if (last - first).days < need:
        return (
            f"a date on or after {(first + dt.timedelta(days=need)).isoformat()}: {fractions} fractions at "
            f"most one a day take at least {need} days from the first fraction ({first.isoformat()}) to the "
            f"last"
        )
    return None


@dataclass(frozen=True)
class DateReason:
    """A regimen's calendar rule the course breaks: ``code`` and the message (what was given,
    what the regimen allows, and the expected range of the last fraction's date)."""

    code: str
    message: str


def regimen_date_reasons(
    fractions: int,
    first: Date,
    last: Date,
    *,
    per_week: int | None,
    max_overall_days: int | None,
    regimen: str,
    source: str | None,
    kind: str = "regimen",
) -> list[DateReason]:
    """The calendar rules of regimen ``regimen`` the course breaks (empty: none). ``per_week``:
    at most that many fractions in any 7 consecutive days; ``max_overall_days``: first to last
    fraction at most that many days, both counted; ``source``: the registry text or labelled
    assumption they come from (quoted in the message); ``kind``: what ``regimen`` names (a
    regimen, or an arm for the arm's own overall time)."""
    out: list[DateReason] = []
    said = f' ("{source}")' if source else ""
    if per_week is not None and fractions > 1:
        need = min_span_days(fractions, per_week)
        span = (last - first).days
        if span < need:
            out.append(
                DateReason(
                    "fraction_dates_too_close",
                    f"last fraction {last.isoformat()} is {span} days after the first ({first.isoformat()}); "
                    f"{fractions} fractions at most {per_week} a week ({kind} {regimen!r}{said}) take at least "
                    f"{need} days: expected a last fraction on or after "
                    f"{(first + dt.timedelta(days=need)).isoformat()}",
                )
            )
    if max_overall_days is not None and overall_days(first, last) > max_overall_days:
        out.append(
            DateReason(
                "overall_time_too_long",
                f"overall treatment time {overall_days(first, last)} days ({first.isoformat()} to {last.isoformat()}, "
                f"both counted) is longer than the {max_overall_days} days of {kind} {regimen!r}{said}: expected a "
                f"last fraction on or before {(first + dt.timedelta(days=max_overall_days - 1)).isoformat()}",
            )
        )
    return out

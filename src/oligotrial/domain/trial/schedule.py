"""A participant's visit schedule, derived: each protocol visit dated from its anchor (randomization
or enrolment, the first or last radiotherapy fraction, the first progression) with its window,
and its status as of a date. Pure.

Only what happened is stored (a visit done, with its date, or declared missed with a reason);
everything else is computed from the anchors as they stand, so a corrected radiotherapy start or
a retracted progression moves or removes the visits that hang on it. A visit whose anchor has not
happened yet is listed apart, never guessed.

Status: ``upcoming`` (before its window), ``due`` (in its window), ``overdue`` (its window has
closed and nothing is recorded), ``done``, ``done_out_of_window`` (a reason recorded), ``missed``
(declared, with a reason).

One function dates a visit from its anchor (:func:`plan_visits`): the visits planned and stored
at randomization or at the first fraction, and the schedule derived for display (:func:`derive`).

Blinding: a visit anchored to the last fraction would fall on a different day in each arm when
the arms' fractionations differ (STOP-2: 8 Gy in 1 fraction vs SABR in up to 8), so a protocol
that blinds any role may not use that anchor (refused when the protocol is loaded:
:func:`oligotrial.domain.protocol.schedule_schema.last_fraction_visits`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from oligotrial.domain.protocol.schedule_schema import VisitSpec

Date = dt.date
ANCHORS = ("randomization", "enrolment", "radiotherapy_start", "radiotherapy_end", "progression")


@dataclass(frozen=True)
class ScheduledVisit:
    code: str
    label: str
    anchor: str
    target: Date
    earliest: Date
    latest: Date
    forms: tuple[str, ...]
    actual: Date | None
    status: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "anchor": self.anchor,
            "target": self.target.isoformat(),
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "forms": list(self.forms),
            "actual": self.actual.isoformat() if self.actual else None,
            "status": self.status,
            "note": self.note,
        }


#: the statuses of a stored visit that record what happened (never re-dated or replaced)
RECORDED = ("done", "done_out_of_window", "missed")


def status_on(earliest: Date, latest: Date, today: Date) -> str:
    """The status of a visit nothing is recorded for, as of ``today``."""
    if today < earliest:
        return "upcoming"
    if today <= latest:
        return "due"
    return "overdue"


@dataclass(frozen=True)
class PlannedVisit:
    code: str
    label: str
    anchor: str
    target: Date
    earliest: Date
    latest: Date
    forms: tuple[str, ...]


def plan_visits(visits: Iterable[VisitSpec], anchors: Mapping[str, Date | None]) -> list[PlannedVisit]:
    """The visits of a schedule dated from their anchors: target = anchor + ``day``, the window
    ``window_before_days`` before it to ``window_after_days`` after it; a visit whose anchor is
    not yet known is left out. The one place a visit is dated."""
    out: list[PlannedVisit] = []
    for v in visits:
        base = anchors.get(v.anchor)
        if base is None:
            continue
        target = base + dt.timedelta(days=v.day)
        out.append(
            PlannedVisit(
                v.code,
                v.label,
                v.anchor,
                target,
                target - dt.timedelta(days=v.window_before_days),
                target + dt.timedelta(days=v.window_after_days),
                tuple(v.forms),
            )
        )
    return out


def derive(
    specs: Iterable[VisitSpec],
    anchors: Mapping[str, Date | None],
    recorded: Mapping[str, Mapping[str, Any]],
    today: Date,
) -> tuple[list[ScheduledVisit], list[dict[str, str]]]:
    """The scheduled visits (by target date) and the visits still waiting for their anchor.

    ``specs``: the protocol's visits; ``recorded``: the stored visit rows by code (``actual``,
    ``status``, ``note`` and the window they were recorded against). A visit nothing is recorded
    for is dated by :func:`plan_visits`, its status as of ``today``."""
    out: list[ScheduledVisit] = []
    waiting: list[dict[str, str]] = []
    for v in specs:
        row = recorded.get(v.code)
        if row is not None and row.get("status") in RECORDED:
            actual = Date.fromisoformat(row["actual"]) if row.get("actual") else None
            out.append(
                ScheduledVisit(
                    v.code,
                    v.label,
                    v.anchor,
                    Date.fromisoformat(row["target"]),
                    Date.fromisoformat(row["earliest"]),
                    Date.fromisoformat(row["latest"]),
                    tuple(v.forms),
                    actual,
                    row["status"],
                    row.get("note"),
                )
            )
            continue
        dated = plan_visits([v], anchors)
        if not dated:
            waiting.append({"code": v.code, "label": v.label, "anchor": v.anchor})
            continue
        d = dated[0]
        status = status_on(d.earliest, d.latest, today)
        out.append(ScheduledVisit(d.code, d.label, d.anchor, d.target, d.earliest, d.latest, d.forms, None, status))
    return sorted(out, key=lambda s: (s.target, s.code)), waiting


def merge_planned(
    planned: Iterable[Any], rows: Iterable[Mapping[str, Any]]
) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """What storing newly ``planned`` visits (objects with code, target, earliest, latest) does to
    the participant's stored visit ``rows``: ``(add, redate, kept)``.

    Radiotherapy is often entered after follow-up visits have been recorded (issue 25 item 3), so
    planning must merge with what is stored, never insert a code twice:

    * a planned visit with no stored row is added (``add``: the planned objects);
    * a stored row still ``planned`` takes the dates planned now (``redate``: the rows with the
      new target and window; only rows whose dates change);
    * a stored row that records what happened (done, done out of window, missed) is kept exactly
      as recorded (``kept``), its date and the window it was recorded against included, even
      when it hangs on an anchor that has just been set or moved (a visit anchored to the first
      fraction recorded before the course was entered, e.g. from an import). A record is never
      lost or re-dated by planning; whether it still fits the new window is for the data
      manager to query, and the window it was judged against stays with it.
    """
    stored = {r["code"]: r for r in rows}
    add: list[Any] = []
    redate: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for v in planned:
        row = stored.get(v.code)
        if row is None:
            add.append(v)
            continue
        if row.get("status") in RECORDED:
            kept.append(dict(row))
            continue
        dates = {"target": v.target.isoformat(), "earliest": v.earliest.isoformat(), "latest": v.latest.isoformat()}
        if any(row.get(k) != d for k, d in dates.items()):
            redate.append({**row, **dates})
    return add, redate, kept

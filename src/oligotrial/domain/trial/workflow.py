"""The enrolment workflow as a state machine, and visit planning from a schedule. Pure.

register -> screen -> consent -> enrol -> randomize -> radiotherapy -> follow-up; a withdrawal
or a death ends follow-up. Each step names the states it may start from; any other start is a
:class:`~oligotrial.errors.WorkflowError` naming the current state and what was expected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oligotrial.errors import WorkflowError

STATES = ("registered", "screened", "consented", "enrolled", "randomized", "treated",
          "withdrawn", "deceased")
TERMINAL = frozenset({"withdrawn", "deceased"})

#: step -> states it may be taken from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "screen": frozenset({"registered", "screened"}),
    "consent": frozenset({"screened"}),
    "enrol": frozenset({"consented"}),
    "randomize": frozenset({"enrolled"}),
    "radiotherapy": frozenset({"randomized"}),
    "visit": frozenset({"treated", "randomized"}),
    "assessment": frozenset({"enrolled", "randomized", "treated"}),
    "adverse_event": frozenset({"enrolled", "randomized", "treated"}),
    "qol": frozenset({"enrolled", "randomized", "treated"}),
    "event": frozenset({"enrolled", "randomized", "treated"}),
    "correct_record": frozenset({"registered", "screened", "consented", "enrolled", "randomized",
                                 "treated"}),
}

STATE_AFTER = {"screen": "screened", "consent": "consented", "enrol": "enrolled",
               "randomize": "randomized", "radiotherapy": "treated"}

EVENT_TYPES = ("progression", "next_line", "death", "withdrawal", "emergency_unblinding")
EVENT_STATE = {"death": "deceased", "withdrawal": "withdrawn"}


@dataclass
class Participant:
    """A participant of one trial: plain data, no session or request."""

    id: str
    trial: str
    external_id: str
    record: dict[str, Any]
    state: str = "registered"
    screening: dict[str, Any] | None = None
    consent: dict[str, Any] | None = None
    enrolment: dict[str, Any] | None = None
    radiotherapy: dict[str, Any] | None = None
    randomized_on: str | None = None
    created_at: str = ""
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


#: a single-group trial (no randomization) treats an enrolled participant directly
SINGLE_GROUP_EXTRA: dict[str, frozenset[str]] = {"radiotherapy": frozenset({"enrolled"})}


def allowed_from(step: str, *, single_group: bool = False) -> frozenset[str]:
    """The states ``step`` may be taken from (a single-group trial has no randomize step)."""
    allowed = ALLOWED_FROM[step]
    if single_group:
        allowed = allowed | SINGLE_GROUP_EXTRA.get(step, frozenset())
    return allowed


def check_step(p: Participant, step: str, *, single_group: bool = False) -> None:
    """Refuse ``step`` unless the participant's state allows it."""
    check_state(p.id, p.state, step, single_group=single_group)


def check_state(pid: str, state: str, step: str, *, single_group: bool = False) -> None:
    """Refuse ``step`` for participant ``pid`` in ``state`` unless the state allows it."""
    allowed = allowed_from(step, single_group=single_group)
    if state not in allowed:
        raise WorkflowError(
            f"participant {pid}: cannot {step.replace('_', ' ')} in state {state!r}; "
            f"expected one of {sorted(allowed)}", code="illegal_step", field="state")


def advance(p: Participant, step: str, *, single_group: bool = False) -> None:
    check_step(p, step, single_group=single_group)
    if step in STATE_AFTER:
        p.state = STATE_AFTER[step]


def enrolment_decision(verdict: str | None, override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Whether a screened participant may be enrolled: an ``eligible`` verdict, or any other
    verdict with a documented override (a reason of at least 10 characters)."""
    if verdict is None:
        raise WorkflowError("enrol: no screening verdict; expected the participant to be screened",
                            code="not_screened", field="screening")
    if verdict == "eligible":
        return {"verdict": verdict, "override": None}
    reason = (override or {}).get("reason")
    if not reason or len(str(reason).strip()) < 10:
        raise WorkflowError(
            f"override.reason: screening verdict is {verdict!r}; enrolment needs a documented "
            "override with a reason of at least 10 characters", code="override_required",
            field="override.reason")
    return {"verdict": verdict, "override": {"reason": str(reason).strip()}}


def radiotherapy_decision(status: str, override: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Whether delivered radiotherapy may be recorded, given its check against the allocated
    arm (``pass``, ``not_evaluable`` or ``fail``): ``pass`` and ``not_evaluable`` (recorded, the
    reasons kept for review) need nothing; ``fail`` needs a documented override (a reason of at
    least 10 characters) and is then a protocol deviation. None: refused (the caller raises an
    error naming what failed)."""
    if status not in ("pass", "not_evaluable", "fail"):
        raise ValueError(f"check status {status!r}: expected pass, not_evaluable or fail")
    if status != "fail":
        return {"deviation": False, "override": None}
    reason = (override or {}).get("reason")
    if not reason or len(str(reason).strip()) < 10:
        return None
    return {"deviation": True, "override": {"reason": str(reason).strip()}}


@dataclass(frozen=True)
class PlannedVisit:
    code: str
    label: str
    anchor: str
    target: dt.date
    earliest: dt.date
    latest: dt.date
    forms: tuple[str, ...]


def plan_visits(visits: list[Any], anchors: Mapping[str, dt.date | None]) -> list[PlannedVisit]:
    """Dated visits for a schedule (objects with code/label/anchor/day/window_before_days/
    window_after_days/forms); visits whose anchor is not yet known are left out."""
    out: list[PlannedVisit] = []
    for v in visits:
        base = anchors.get(v.anchor)
        if base is None:
            continue
        target = base + dt.timedelta(days=v.day)
        out.append(PlannedVisit(v.code, v.label, v.anchor, target,
                                target - dt.timedelta(days=v.window_before_days),
                                target + dt.timedelta(days=v.window_after_days), tuple(v.forms)))
    return out


def in_window(visit_earliest: dt.date, visit_latest: dt.date, on: dt.date) -> bool:
    return visit_earliest <= on <= visit_latest

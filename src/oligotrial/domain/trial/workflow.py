"""The enrolment workflow as a state machine. Pure. (Visits are dated by :mod:`.schedule`.)

register -> screen -> consent -> enrol -> randomize -> radiotherapy -> follow-up. Each step names
the states it may start from; any other start is a :class:`~oligotrial.errors.WorkflowError`
naming the current state and what was expected.

After enrolment the state is *derived*, never set: the furthest milestone reached (enrolled,
randomized, treated) overridden by the participant's follow-up events that are not retracted
(:func:`derive_state`). Retracting a wrong death therefore restores the previous state.
Withdrawal from protocol treatment and withdrawal of consent to follow-up are different states:
after the first, follow-up and vital status go on (ICH E9 s.5.2.1: data after discontinuation
of treatment are still collected for the intention-to-treat analysis); after the second no
data is collected except vital status where the consent allows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oligotrial.errors import WorkflowError

STATES = (
    "registered",
    "screened",
    "consented",
    "screening_closed",
    "enrolled",
    "randomized",
    "treated",
    "withdrawn_from_treatment",
    "lost_to_follow_up",
    "withdrawn",
    "deceased",
)
TERMINAL = frozenset({"withdrawn", "deceased"})
#: states in which follow-up data is still collected
FOLLOWED = frozenset({"enrolled", "randomized", "treated", "withdrawn_from_treatment", "lost_to_follow_up"})

#: step -> states it may be taken from
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "screen": frozenset({"registered", "screened"}),
    "consent": frozenset({"screened"}),
    "enrol": frozenset({"consented"}),
    "randomize": frozenset({"enrolled"}),
    "radiotherapy": frozenset({"randomized"}),
    "visit": frozenset({"treated", "randomized", "withdrawn_from_treatment", "lost_to_follow_up"}),
    # follow-up entries: also for a deceased participant (data dated before the death, entered
    # late); after withdrawal of consent only vital status (checked by the service)
    "entry": FOLLOWED | {"deceased"},
    "vital_status": FOLLOWED | {"deceased", "withdrawn"},
    "correct_entry": FOLLOWED | TERMINAL,
    "correct_record": frozenset({"registered", "screened", "consented", "enrolled", "randomized", "treated"}),
    # a candidate who will not be enrolled (declined, not eligible, other: CONSORT 2010 item 13a),
    # closed before enrolment; reopened to the milestone reached (milestone_state)
    "close_screening": frozenset({"registered", "screened", "consented"}),
    "reopen_screening": frozenset({"screening_closed"}),
}

STATE_AFTER = {
    "screen": "screened",
    "consent": "consented",
    "enrol": "enrolled",
    "randomize": "randomized",
    "radiotherapy": "treated",
    "close_screening": "screening_closed",
}

#: a follow-up event that changes the state, by precedence (a death outranks everything)
_EVENT_PRECEDENCE = ("deceased", "withdrawn", "lost_to_follow_up", "withdrawn_from_treatment")


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
    site: str | None = None  # the centre of a multi-centre trial
    closure: dict[str, Any] | None = None  # a closed screening (reason, note, ...); None: not closed
    extra: dict[str, Any] = field(default_factory=dict)


#: a single-group trial (no randomization) treats an enrolled participant directly, and follows
#: one who is never treated from enrolment (day 0 there; ICH E9 s.5.2.1: follow-up goes on)
SINGLE_GROUP_EXTRA: dict[str, frozenset[str]] = {
    "radiotherapy": frozenset({"enrolled"}),
    "visit": frozenset({"enrolled"}),
}


#: the steps a single-group trial does not have: it allocates nobody
SINGLE_GROUP_NONE = frozenset({"randomize"})


def allowed_from(step: str, *, single_group: bool = False) -> frozenset[str]:
    """The states ``step`` may be taken from (a single-group trial has no randomize step: no
    state)."""
    allowed = ALLOWED_FROM[step]
    if single_group:
        if step in SINGLE_GROUP_NONE:
            return frozenset()
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
            f"participant {pid}: cannot {step.replace('_', ' ')} in state {state!r}; expected one of {sorted(allowed)}",
            code="illegal_step",
            field="state",
        )


def advance(p: Participant, step: str, *, single_group: bool = False) -> None:
    check_step(p, step, single_group=single_group)
    if step in STATE_AFTER:
        p.state = STATE_AFTER[step]


def milestone_state(p: Participant) -> str:
    """The furthest step of the workflow the participant has reached (a reopened screening goes
    back to it)."""
    if p.radiotherapy:
        return "treated"
    if p.randomized_on:
        return "randomized"
    if p.enrolment:
        return "enrolled"
    if p.consent:
        return "consented"
    if p.screening:
        return "screened"
    return "registered"


def event_state(kind: str, scope: str | None = None) -> str | None:
    """The state a follow-up event puts the participant in (None: it changes no state)."""
    if kind == "death":
        return "deceased"
    if kind == "lost_to_follow_up":
        return "lost_to_follow_up"
    if kind == "withdrawal":
        return "withdrawn" if scope == "follow_up" else "withdrawn_from_treatment"
    return None


def derive_state(p: Participant, events: list[Mapping[str, Any]]) -> str:
    """The participant's state from the milestones reached and the follow-up events that are not
    retracted (mappings with ``kind`` and, for a withdrawal, ``scope``)."""
    found = {event_state(e["kind"], e.get("scope")) for e in events} - {None}
    for state in _EVENT_PRECEDENCE:
        if state in found:
            return state
    return milestone_state(p)


def enrolment_decision(verdict: str | None, override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Whether a screened participant may be enrolled: an ``eligible`` verdict, or any other
    verdict with a documented override (a reason of at least 10 characters)."""
    if verdict is None:
        raise WorkflowError(
            "enrol: no screening verdict; expected the participant to be screened",
            code="not_screened",
            field="screening",
        )
    if verdict == "eligible":
        return {"verdict": verdict, "override": None}
    reason = (override or {}).get("reason")
    if not reason or len(str(reason).strip()) < 10:
        raise WorkflowError(
            f"override.reason: screening verdict is {verdict!r}; enrolment needs a documented "
            "override with a reason of at least 10 characters",
            code="override_required",
            field="override.reason",
        )
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


def in_window(visit_earliest: dt.date, visit_latest: dt.date, on: dt.date) -> bool:
    return visit_earliest <= on <= visit_latest

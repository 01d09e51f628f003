"""The trials dashboard's counts: participants by state and enrolment over time against the
protocol's planned enrolment. Counts only, never by arm, so every role that may see the trial
gets the same figures (a site-limited role: its site's)."""

from __future__ import annotations

from typing import Any

from oligotrial.service.access import PERMISSIONS, authorize, site_visible
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor


def recruitment(ctx: ServiceContext, actor: Actor, trial: str) -> dict[str, Any]:
    """Participants by state and cumulative enrolment by enrolment date.

    Returns ``{"trial", "planned", "participants", "enrolled", "by_state", "points"}`` where
    ``planned`` is the protocol's ``planned_enrolment`` (None when the registry gives none) and
    ``points`` is one ``{"date", "enrolled"}`` per day someone was enrolled, cumulative, oldest
    first. A participant counts as enrolled from their enrolment on, whatever their state since
    (withdrawn or deceased participants stay recruited). Any role that may view participants
    or read the trial's summary may ask.
    """
    protocol = ctx.load_protocol(trial)
    role = actor.role_in(protocol.id)
    if role not in PERMISSIONS["view"] | PERMISSIONS["summary"]:
        authorize(actor, protocol.id, "summary")  # raises, naming the action
    with ctx.uow() as uow:
        rows = [p for p in uow.repo.list_participants(protocol.id) if site_visible(actor, protocol.id, p.site)]
    by_state: dict[str, int] = {}
    days: dict[str, int] = {}
    for p in rows:
        by_state[p.state] = by_state.get(p.state, 0) + 1
        at = (p.enrolment or {}).get("at")
        if at:
            days[at[:10]] = days.get(at[:10], 0) + 1
    points, total = [], 0
    for day in sorted(days):
        total += days[day]
        points.append({"date": day, "enrolled": total})
    return {"trial": protocol.id, "planned": protocol.planned_enrolment, "participants": len(rows),
            "enrolled": total, "by_state": dict(sorted(by_state.items())), "points": points}

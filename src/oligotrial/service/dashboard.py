"""The trials dashboard's counts: participants by state and enrolment over time against the
protocol's planned enrolment, for the trial and per site. Counts only, never by arm, so every
role that may see the trial gets the same figures (a site-limited role: its site's), except that
a masked role's states are arm-neutral (:func:`oligotrial.service.masking.arm_neutral`: no
``treated`` where only one arm gives radiotherapy)."""

from __future__ import annotations

from typing import Any

from oligotrial.service.access import PERMISSIONS, authorize, site_visible
from oligotrial.service.context import ServiceContext
from oligotrial.service.masking import arm_neutral
from oligotrial.service.ports import Actor


def recruitment(ctx: ServiceContext, actor: Actor, trial: str) -> dict[str, Any]:
    """Participants by state and cumulative enrolment by enrolment date.

    Returns ``{"trial", "planned", "participants", "enrolled", "by_state", "points", "sites"}`` where
    ``planned`` is the protocol's ``planned_enrolment`` (None when the registry gives none) and
    ``points`` is one ``{"date", "enrolled"}`` per day someone was enrolled, cumulative, oldest
    first. A participant counts as enrolled from their enrolment on, whatever their state since
    (withdrawn or deceased participants stay recruited). Any role that may view participants
    or read the trial's summary may ask. ``sites`` is one ``{"site", "participants", "enrolled",
    "by_state"}`` per site the role may see, sorted by site code (a participant registered without
    a site is under ``site`` None, last); empty when no participant has a site.
    """
    protocol = ctx.load_protocol(trial)
    role = actor.role_in(protocol.id)
    if role not in PERMISSIONS["view"] | PERMISSIONS["summary"]:
        authorize(actor, protocol.id, "summary")  # raises, naming the action
    neutral = arm_neutral(protocol, role or "")
    with ctx.uow() as uow:
        rows = [p for p in uow.participants.list_participants(protocol.id) if site_visible(actor, protocol.id, p.site)]
    by_state: dict[str, int] = {}
    days: dict[str, int] = {}
    sites: dict[str | None, dict[str, Any]] = {}
    for p in rows:
        state = neutral.state(p.state)  # a masked role's counts have no state of one arm only
        by_state[state] = by_state.get(state, 0) + 1
        site = sites.setdefault(p.site, {"site": p.site, "participants": 0, "enrolled": 0, "by_state": {}})
        site["participants"] += 1
        site["by_state"][state] = site["by_state"].get(state, 0) + 1
        at = (p.enrolment or {}).get("at")
        if at:
            days[at[:10]] = days.get(at[:10], 0) + 1
            site["enrolled"] += 1
    points, total = [], 0
    for day in sorted(days):
        total += days[day]
        points.append({"date": day, "enrolled": total})
    return {
        "trial": protocol.id,
        "planned": protocol.planned_enrolment,
        "participants": len(rows),
        "enrolled": total,
        "by_state": dict(sorted(by_state.items())),
        "points": points,
        "sites": []
        if set(sites) <= {None}
        else [
            {**v, "by_state": dict(sorted(v["by_state"].items()))}
            for _, v in sorted(sites.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ],
    }

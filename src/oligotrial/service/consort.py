"""The CONSORT 2010 flow of a trial, counted from what is stored.

Enrolment is counted from the audit trail (who was registered, screened, closed with a reason and
not reopened since, randomized or enrolled, up to the data cut); allocation from the allocations
(decrypted with the operator's key); follow-up from the participants' entries in force (a retracted loss to follow-up
counts for nothing). Every box is a set of participant ids before it is a number, so the boxes
reconcile by construction: assessed = randomized + not randomized, randomized = the sum of
allocated, allocated = received + did not receive, per arm.

Reference: Schulz KF, Altman DG, Moher D, for the CONSORT Group. CONSORT 2010 Statement: updated
guidelines for reporting parallel group randomised trials. BMJ 2010;340:c332 (flow diagram,
Figure 1: Enrollment, Allocation, Follow-Up, Analysis).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.service import followup
from oligotrial.service.context import ServiceContext
from oligotrial.service.masking import arm_has_radiotherapy

#: words for the boxes, kept in the report's ``definitions``
DEFINITIONS = {
    "assessed_for_eligibility": "candidates registered and screened against the protocol",
    "not_randomized": "assessed but not randomized (enrolled, in a single-arm trial) by the data cut, by the "
    "reason recorded when the screening was closed; 'not eligible' without a recorded "
    "closure when the screener's verdict was ineligible; 'not yet decided at the data cut' "
    "otherwise",
    "received_allocated_intervention": "radiotherapy recorded for an arm with protocol radiotherapy; for an arm "
    "without (systemic therapy continued), every allocated participant",
    "lost_to_follow_up": "a loss to follow-up in force at the data cut",
    "discontinued": "withdrawal (from protocol treatment, or of consent to follow-up) in force at the data cut",
    "analysed": "intention to treat: every allocated participant, in the arm allocated",
}


def failing_criteria(screening: dict[str, Any] | None) -> list[str]:
    """The criteria a stored screening failed (an inclusion not met, an exclusion met)."""
    crit = ((screening or {}).get("result") or {}).get("criteria") or []
    return [
        c["id"]
        for c in crit
        if (c.get("kind") == "inclusion" and c.get("verdict") == "not_met")
        or (c.get("kind") == "exclusion" and c.get("verdict") == "met")
    ]


def consort_flow(
    ctx: ServiceContext, protocol: Protocol, *, data_cut: dt.date, arm_of: dict[str, str]
) -> dict[str, Any]:
    """The flow as of ``data_cut``; ``arm_of``: participant id -> allocated arm (the one arm of a
    single-arm trial for every enrolled participant)."""
    cut = data_cut.isoformat()
    single = followup.single_group(protocol)
    assessed: list[str] = []
    closed: dict[str, str] = {}
    randomized: list[str] = []
    treated: set[str] = set()
    with ctx.uow() as uow:
        for e in uow.audit.audit_entries(protocol.id):
            if e["at"][:10] > cut:
                continue
            action, pid = e["action"], e["entity_id"]
            if action == "participant.register":
                assessed.append(pid)
            elif action == "participant.not_enrolled":
                closed[pid] = (e.get("new") or {}).get("reason", "other")
            elif action == "participant.screening_reopened":  # no longer excluded
                closed.pop(pid, None)
            elif action == ("participant.enrol" if single else "participant.randomize"):
                randomized.append(pid)
            elif action == "radiotherapy.record":
                treated.add(pid)
        participants = {p.id: p for p in uow.participants.iter_participants(protocol.id)}
        events = {
            pid: [
                x["data"]
                for x in followup.active(uow.participants.entries(pid))
                if x["kind"] == "event" and x["data"]["date"] <= cut
            ]
            for pid in randomized
        }
    rand_set = set(randomized)
    reasons: Counter[str] = Counter()
    by_criterion: Counter[str] = Counter()
    for pid in assessed:
        if pid in rand_set:
            continue
        screening = participants[pid].screening if pid in participants else None
        why = closed.get(pid) or (
            "not eligible" if (screening or {}).get("verdict") == "ineligible" else "not yet decided at the data cut"
        )
        reasons[why] += 1
        if why == "not eligible":
            by_criterion.update(failing_criteria(screening))
    arms = [a.id for a in protocol.arms]
    allocated = {a: sorted(p for p in randomized if arm_of.get(p) == a) for a in arms}
    received, not_received, lost, discontinued, analysed = {}, {}, {}, {}, {}
    for a, pids in allocated.items():
        got = [p for p in pids if p in treated] if arm_has_radiotherapy(protocol, a) else list(pids)
        received[a] = len(got)
        why_not: Counter[str] = Counter()
        for p in pids:
            if p in got:
                continue
            kinds = {ev["kind"] for ev in events[p]}
            why_not[
                "died before radiotherapy"
                if "death" in kinds
                else "withdrew before radiotherapy"
                if "withdrawal" in kinds
                else "no radiotherapy recorded"
            ] += 1
        not_received[a] = {"total": len(pids) - len(got), "reasons": dict(sorted(why_not.items()))}
        lost[a] = sum(any(ev["kind"] == "lost_to_follow_up" for ev in events[p]) for p in pids)
        disc: Counter[str] = Counter()
        for p in pids:
            for ev in events[p]:
                if ev["kind"] == "withdrawal":
                    disc[
                        "withdrew consent to follow-up"
                        if ev.get("scope") == "follow_up"
                        else "withdrawn from protocol treatment"
                    ] += 1
        discontinued[a] = {"total": sum(disc.values()), "reasons": dict(sorted(disc.items()))}
        analysed[a] = len(pids)
    return {
        "assessed_for_eligibility": len(assessed),
        "not_randomized": {
            "total": len(assessed) - len(rand_set & set(assessed)),
            "reasons": dict(sorted(reasons.items())),
            "not_eligible_by_criterion": dict(sorted(by_criterion.items(), key=lambda x: (-x[1], x[0]))),
        },
        "randomized": len(randomized),
        "allocated": {a: len(p) for a, p in allocated.items()},
        "received_allocated_intervention": received,
        "did_not_receive_allocated_intervention": not_received,
        "lost_to_follow_up": lost,
        "discontinued": discontinued,
        "analysed": analysed,
        "excluded_from_analysis": {a: 0 for a in arms},
        "definitions": DEFINITIONS,
        "participants": {a: p for a, p in allocated.items()},
    }


def pooled(flow: dict[str, Any], label: str = "all arms") -> dict[str, Any]:
    """The flow with every per-arm box summed into one (for a blinded role): no count by arm."""
    out = dict(flow)
    for key in (
        "allocated",
        "received_allocated_intervention",
        "lost_to_follow_up",
        "analysed",
        "excluded_from_analysis",
    ):
        out[key] = {label: sum(flow[key].values())}
    for key in ("did_not_receive_allocated_intervention", "discontinued"):
        reasons: Counter[str] = Counter()
        for v in flow[key].values():
            reasons.update(v["reasons"])
        out[key] = {
            label: {"total": sum(v["total"] for v in flow[key].values()), "reasons": dict(sorted(reasons.items()))}
        }
    out.pop("participants", None)
    return out

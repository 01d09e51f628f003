"""Free text written by a role that knows the arm, withheld from the blinded roles.

Issue 25 item 1: "Every free-text field (notes, reasons, descriptions, corrections, `Other,
specify`, data-query text, event details) written by a role not in the protocol's
`masking.blinded_roles` is withheld from the blinded roles (page, API, audit view, exports,
report), with a visible "withheld: written by an unblinded role" in its place; a data manager
who sees the arm may release one after review ... a query meant for a blinded role is released
by whoever raised it."

Who wrote a text is the role the audit trail recorded with the action that wrote it (every
write appends one entry, with the actor's role in the trial at that moment): for a follow-up
entry the last ``<kind>.record`` or ``<kind>.correct`` (its data) and the last ``.correct`` or
``.retract`` (its reason), for a visit its ``visit.record``, for the registered record a
``participant.correct`` made on or after randomization (a text written before any arm was
allocated cannot reveal one). A data query's messages carry their writer's role themselves.
A writer whose role cannot be found counts as unblinded (:func:`~oligotrial.domain.trial.
blinding.writes_unblinded`). An open-label trial withholds nothing.

A release is an audit entry (``text.release``: the entry, the field and the version of the
entry it covers, who and why); a correction makes a new version, whose text is withheld again
until it is reviewed. Nothing else is stored: the arm-word warning
(:func:`oligotrial.domain.trial.queries.arm_warning`) is returned to the writer only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial.blinding import FREE_TEXT_KEYS, WITHHELD_TEXT, is_blinded, withhold_text, writes_unblinded
from oligotrial.domain.trial.queries import arm_terms, arm_warning
from oligotrial.service.rows import AuditRow, EntryRow

RELEASE_ACTION = "text.release"

_ENTRY_DATA = (".record", ".correct")
_ENTRY_REASON = (".correct", ".retract")


def reader_blinded(protocol: Protocol, role: str | None) -> bool:
    """Whether ``role`` reads the trial's free text with what unblinded roles wrote withheld."""
    return role is not None and is_blinded(protocol.masking.blinded_roles, role)


@dataclass
class Writers:
    """Who wrote each free text of one participant, from their audit entries."""

    #: entry id -> the roles of every write of its data (a blinded role's correction keeps the
    #: texts it could not read: :func:`restore_withheld`, so an earlier writer still counts)
    entry_data: dict[int, list[str | None]] = field(default_factory=dict)
    entry_reason: dict[int, str | None] = field(default_factory=dict)  # entry id -> role
    visit: dict[str, str | None] = field(default_factory=dict)  # visit code -> role
    record_after_allocation: list[str | None] = field(default_factory=list)  # roles that corrected it
    released: set[tuple[int, str, int]] = field(default_factory=set)  # (entry id, field, version)
    visit_released: set[str] = field(default_factory=set)  # visit codes whose note is released


def writers(rows: list[AuditRow], participant_id: str, randomized_on: str | None) -> Writers:
    """:class:`Writers` from the participant's audit entries (oldest first)."""
    w = Writers()
    for r in rows:
        action, ent, role = str(r.get("action") or ""), str(r.get("entity_id") or ""), r.get("role")
        if ent == participant_id:
            if action == "participant.correct" and randomized_on and str(r.get("at") or "")[:10] >= randomized_on[:10]:
                w.record_after_allocation.append(role)
            continue
        rest = ent[len(participant_id) + 1 :] if ent.startswith(participant_id + "/") else None
        if rest is None:
            continue
        if action == "visit.record":
            w.visit[rest] = role
        elif action == RELEASE_ACTION and not rest.isdigit():
            w.visit_released.add(rest)
        elif rest.isdigit():
            eid = int(rest)
            if action == RELEASE_ACTION:
                new = r.get("new") or {}
                w.released.add((eid, str(new.get("field")), int(new.get("version") or 0)))
            elif action.endswith(_ENTRY_DATA):
                w.entry_data.setdefault(eid, []).append(role)
            if action.endswith(_ENTRY_REASON):
                w.entry_reason[eid] = role
    return w


def _released(w: Writers, eid: int, version: int) -> set[str]:
    return {f for (e, f, v) in w.released if e == eid and v == version}


def withhold_entry(protocol: Protocol, e: Mapping[str, Any], w: Writers) -> dict[str, Any]:
    """An entry view (:func:`oligotrial.service.followup.entry_view`) as a blinded role reads it:
    the free text of its data and its correction reason withheld where an unblinded role wrote
    them and no release covers this version. ``withheld`` lists what was withheld."""
    blinded = protocol.masking.blinded_roles
    out = dict(e)
    rel = _released(w, e["id"], e.get("version") or 1)
    withheld: list[str] = []
    if any(writes_unblinded(blinded, r) for r in w.entry_data.get(e["id"], [None])):
        out["data"], withheld = withhold_text(e.get("data"), rel)
    if out.get("reason") and "reason" not in rel and writes_unblinded(blinded, w.entry_reason.get(e["id"])):
        out["reason"] = WITHHELD_TEXT
        withheld.append("reason")
    if withheld:
        out["withheld"] = withheld
    return out


def withhold_view(protocol: Protocol, view: dict[str, Any], rows: list[AuditRow]) -> dict[str, Any]:
    """A participant view (:func:`oligotrial.service.enrolment.participant_view`) for a blinded
    role: the free text of entries, visits and a registered record corrected after
    randomization withheld where an unblinded role wrote it (``rows``: the participant's audit
    entries, :meth:`audit_of`)."""
    blinded = protocol.masking.blinded_roles
    if not blinded:
        return view
    w = writers(rows, view["id"], view.get("randomized_on"))
    out = dict(view)
    out["entries"] = [withhold_entry(protocol, e, w) for e in view.get("entries") or []]
    visits = []
    for v in view.get("visits") or []:
        if v.get("note") and v["code"] not in w.visit_released and writes_unblinded(blinded, w.visit.get(v["code"])):
            v = {**v, "note": WITHHELD_TEXT}
        visits.append(v)
    out["visits"] = visits
    if any(writes_unblinded(blinded, role) for role in w.record_after_allocation):
        out["record"], _ = withhold_text(view.get("record"))
    return out


def withhold_entries(
    protocol: Protocol, entries: list[EntryRow], rows: list[AuditRow], participant_id: str
) -> list[EntryRow]:
    """Stored entries (the repository's rows: ``data``, ``reason``, ``version``) with what an
    unblinded role wrote withheld, for what a blinded role derives from them (an export's event
    descriptions)."""
    if not protocol.masking.blinded_roles:
        return entries
    w = writers(rows, participant_id, None)
    return [
        cast(EntryRow, {**e, **{k: v for k, v in withhold_entry(protocol, e, w).items() if k in ("data", "reason")}})
        for e in entries
    ]


def withhold_audit(protocol: Protocol, view: dict[str, Any]) -> dict[str, Any]:
    """An audit trail row as a blinded role reads it (a trial that blinds someone): the free text
    of ``new`` and the ``reason`` withheld when the row's actor wrote in a role that knows the
    arm; the free text of ``old`` always (the row does not say who wrote the old value), and the
    free text a blinded actor's ``new`` kept unchanged from ``old`` (a correction by a blinded
    role keeps the texts it could not read)."""
    blinded = protocol.masking.blinded_roles
    if not blinded:
        return view
    out = dict(view)
    out["old"], a = withhold_text(view.get("old"))
    c = []
    if writes_unblinded(blinded, view.get("role")):
        out["new"], b = withhold_text(view.get("new"))
        if isinstance(view.get("reason"), str) and view["reason"].strip():
            out["reason"], c = WITHHELD_TEXT, ["reason"]
    else:
        out["new"], b = _withhold_kept(view.get("new"), view.get("old"), "")
    if a or b or c:
        out["withheld"] = [*(f"old.{x}" for x in a), *(f"new.{x}" for x in b), *c]
    return out


def _withhold_kept(new: Any, old: Any, at: str) -> tuple[Any, list[str]]:
    """``new`` with each free text equal to the one at the same place in ``old`` withheld."""
    paths: list[str] = []

    def walk(n: Any, o: Any, p: str) -> Any:
        if isinstance(n, dict):
            out = {}
            for k, v in n.items():
                q = f"{p}.{k}" if p else str(k)
                o_v = o.get(k) if isinstance(o, dict) else None
                if str(k).lower() in FREE_TEXT_KEYS and isinstance(v, str) and v.strip() and v == o_v:
                    out[k] = WITHHELD_TEXT
                    paths.append(q)
                else:
                    out[k] = walk(v, o_v, q)
            return out
        if isinstance(n, list):
            return [walk(v, o[i] if isinstance(o, list) and i < len(o) else None, f"{p}[{i}]") for i, v in enumerate(n)]
        return n

    return walk(new, old, at), paths


def restore_withheld(new: Any, old: Any) -> Any:
    """``new`` (a correction's data typed by a blinded role on a form that showed
    :data:`WITHHELD_TEXT`) with each free text still reading :data:`WITHHELD_TEXT` put back to
    the stored ``old`` value: a blinded role never overwrites a text it could not read."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {
            k: (
                old.get(k)
                if str(k).lower() in FREE_TEXT_KEYS and v == WITHHELD_TEXT
                else restore_withheld(v, old.get(k))
            )
            for k, v in new.items()
        }
    if isinstance(new, list) and isinstance(old, list):
        return [restore_withheld(v, old[i] if i < len(old) else None) for i, v in enumerate(new)]
    return new


def warnings_for(protocol: Protocol, data: Any, prefix: str = "") -> list[str]:
    """The arm-word warnings of every free text in ``data`` (a string, or JSON-like with free
    text under :data:`FREE_TEXT_KEYS`), for the writer only."""
    terms = arm_terms(protocol)
    if terms is None:
        return []
    out: list[str] = []

    def walk(node: Any, at: str, free: bool) -> None:
        if isinstance(node, str):
            if free:
                msg = arm_warning(node, terms, at or "text")
                if msg:
                    out.append(msg)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{at}.{k}" if at else str(k), free or str(k).lower() in FREE_TEXT_KEYS)
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                walk(v, f"{at}[{i}]", free)

    walk(data, prefix, isinstance(data, str))
    return out


def mark_releasable(protocol: Protocol, view: dict[str, Any], rows: list[AuditRow]) -> dict[str, Any]:
    """A participant view for a data manager who sees the arm: each entry says which of its
    free texts the blinded roles read withheld (``withheld_from_blinded``), so that they can be
    reviewed and released (:func:`oligotrial.service.followup.release_text`)."""
    w = writers(rows, view["id"], view.get("randomized_on"))
    entries = []
    for e in view.get("entries") or []:
        fields = withhold_entry(protocol, e, w).get("withheld")
        entries.append({**e, "withheld_from_blinded": fields} if fields else e)
    blinded = protocol.masking.blinded_roles
    visits = [
        {**v, "withheld_from_blinded": ["note"]}
        if v.get("note") and v["code"] not in w.visit_released and writes_unblinded(blinded, w.visit.get(v["code"]))
        else v
        for v in view.get("visits") or []
    ]
    return {**view, "entries": entries, "visits": visits}

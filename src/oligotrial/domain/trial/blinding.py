"""Blinding as data: who is blind in a trial, and what a blinded role may see. Pure.

A trial's masking comes from its protocol (``masking.blinded_roles``). Arm information is the
assignment itself and anything that reveals it: the arm id or label, the randomization list,
counts by arm, and the radiotherapy actually delivered (dose and fractionation differ by arm
in trials such as STOP-2). Views for a blinded role are built without these fields at all
(never filled and then hidden), and the check :func:`find_arm_information` is what tests and
the egress filter use to prove it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The roles a user may hold in a trial: the one list, defined with the protocol schema (its
# ``masking.blinded_roles`` names them) and re-exported here for user accounts and the interfaces.
from oligotrial.domain.protocol.schema import ROLES, Protocol, Role  # noqa: F401 -- re-exported (the trial context's surface)

#: Roles that always see the arm when the trial is unmasked or because their job needs it.
ALWAYS_UNBLINDED = frozenset({"coordinator", "treating_oncologist"})

#: Roles allowed to break the glass for one participant (with reason and re-authentication).
EMERGENCY_UNBLINDERS = frozenset({"coordinator", "enrolling_oncologist", "treating_oncologist"})

#: Keys that carry arm information; a blinded view contains none of them.
ARM_KEYS = frozenset({"arm", "arm_id", "arm_label", "arm_type", "arms", "allocation_ratio", "by_arm"})


def is_blinded(blinded_roles: Iterable[str], role: str) -> bool:
    """True when ``role`` must not learn any participant's arm in this trial."""
    if role in ALWAYS_UNBLINDED:
        return False
    return role in set(blinded_roles)


def sees_arms(protocol: Protocol, role: str) -> bool:
    """Whether ``role`` may learn participants' arms in ``protocol``'s trial: the one rule every
    view (participant lists, allocations, the audit trail, the report, the trial list) asks.

    A role the protocol blinds (``masking.blinded_roles``) does not, unless it always sees them
    (:data:`ALWAYS_UNBLINDED`). The system administrator does not see them in a trial that blinds
    any role (running the server is not a reason to see arms), and sees them in an open-label
    trial, where nobody is kept from them. ``protocol`` is anything with ``masking.blinded_roles``
    (the domain does not import the protocol schema at run time)."""
    blinded = list(protocol.masking.blinded_roles)
    if role == "admin" and blinded:
        return False
    return not is_blinded(blinded, role)


def radiotherapy_view(rt: Mapping[str, Any] | None, blinded: bool, *, every_arm: bool = True) -> dict[str, Any] | None:
    """Radiotherapy as a role may see it: blinded roles learn only that it was delivered and
    when it started (the anchor of the follow-up schedule), where every arm gives radiotherapy
    (``every_arm``: NCT06918951, SABR against 8 Gy in 1 fraction). Where only some arms give it
    (NCT06592612: SBRT in the SBRT arm only) whether it was given is the arm itself: a blinded
    role gets :data:`MASKED_RADIOTHERAPY` for every participant, treated or not."""
    if blinded and not every_arm:
        return dict(MASKED_RADIOTHERAPY)
    if rt is None:
        return None
    if blinded:
        return {"delivered": True, "start": rt.get("start")}
    return dict(rt)


#: what a blinded role sees of radiotherapy where not every arm gives it (the same for every
#: participant: neither "given" nor "not given")
MASKED_RADIOTHERAPY: Mapping[str, Any] = {"masked": True}

#: the visit anchors that exist only for a participant given radiotherapy
RADIOTHERAPY_ANCHORS = frozenset({"radiotherapy_start", "radiotherapy_end"})


@dataclass(frozen=True)
class ArmNeutral:
    """What a role sees of a participant's course, arm-neutral where it must be.

    Issue 25 (NCT06592612 "Masking: Single (Outcomes Assessor)"; SBRT in one arm only): a masked
    role sees no visit (scheduled or waiting), state or status that exists in one arm only. Where
    not every arm gives protocol radiotherapy (``every_arm`` False), the state ``treated`` (the
    radiotherapy milestone, :func:`oligotrial.domain.trial.workflow.milestone_state`) is shown
    as the state both arms share at that point, ``randomized``, and visits anchored to the
    radiotherapy (:data:`RADIOTHERAPY_ANCHORS`: a toxicity review after the first fraction) are
    left out, scheduled or waiting for their anchor, as is an adverse event's attribution to
    radiotherapy (:meth:`entries`). Where every arm gives it (NCT06918951) both arms are treated
    at the same point and only the radiotherapy's details are withheld (:func:`radiotherapy_view`).
    ``masked`` False (an unblinded role): everything as it is."""

    masked: bool
    every_arm: bool = True

    @property
    def neutral(self) -> bool:
        """Whether this role's view leaves out what exists in one arm only."""
        return self.masked and not self.every_arm

    def state(self, state: str) -> str:
        return "randomized" if self.neutral and state == "treated" else state

    def states(self, states: Iterable[str]) -> list[str]:
        """The states this role can meet (to offer as a filter)."""
        return [s for s in states if not (self.neutral and s == "treated")]

    def visits(self, visits: Iterable[Mapping[str, Any]]) -> list[Any]:
        """The visits (scheduled, or waiting for their anchor) this role sees."""
        return [v for v in visits if not (self.neutral and v.get("anchor") in RADIOTHERAPY_ANCHORS)]

    def radiotherapy(self, rt: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return radiotherapy_view(rt, self.masked, every_arm=self.every_arm)

    def entries(self, entries: Iterable[Mapping[str, Any]]) -> list[Any]:
        """The follow-up entries this role sees: an adverse event's attribution to radiotherapy
        (CTCAE's attribution of the event to a treatment) exists only where radiotherapy was
        given, so where only some arms give it every adverse event shows it as ``"masked"``
        (set or not)."""
        if not self.neutral:
            return list(entries)
        return [
            {**e, "data": {**e["data"], "attribution_radiotherapy": "masked"}}
            if e.get("kind") == "adverse_event" and isinstance(e.get("data"), Mapping)
            else e
            for e in entries
        ]


def find_arm_information(obj: Any, arm_ids: Iterable[str], arm_labels: Iterable[str], path: str = "$") -> list[str]:
    """Every place in a JSON-like ``obj`` that carries arm information: an arm key, a string
    equal to an arm id (so a delivered technique "SABR" in a trial with an arm ``sabr`` is
    caught), or a string containing an arm label. Returns JSON paths."""
    ids = {a.lower() for a in arm_ids}
    labels = [lab.lower() for lab in arm_labels if len(lab) >= 4]
    found: list[str] = []
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            p = f"{path}.{k}"
            if str(k).lower() in ARM_KEYS or str(k).lower() in ids:
                found.append(p)
            found.extend(find_arm_information(v, ids, labels, p))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            found.extend(find_arm_information(v, ids, labels, f"{path}[{i}]"))
    elif isinstance(obj, str):
        low = obj.lower()
        if low in ids or any(lab in low for lab in labels):
            found.append(path)
    return found


# ---- free text written by a role that knows the arm ---------------------------------------------

#: What a blinded role reads in place of a free text written by a role that knows the arm.
WITHHELD_TEXT = "withheld: written by an unblinded role"

#: The keys whose values are free text typed by a person (notes, reasons, descriptions,
#: corrections' reasons, CTCAE ``Other, specify``, data-query text, event details). Structured
#: values (dates, grades, enumerations, lesion ids) are not free text.
FREE_TEXT_KEYS = frozenset(
    {
        "note",
        "notes",
        "reason",
        "detail",
        "details",
        "specify",
        "text",
        "description",
        "comment",
        "question",
        "stop_reason",
        "override_reason",
        "out_of_window_reason",
        "unusual_value_reason",
    }
)


def writes_unblinded(blinded_roles: Iterable[str], writer_role: str | None) -> bool:
    """True when a free text written in ``writer_role`` must be withheld from the blinded roles
    of a trial that blinds ``blinded_roles``: the trial blinds someone, and the writer is not
    one of them (issue 25 item 1: "Every free-text field ... written by a role not in the
    protocol's masking.blinded_roles is withheld from the blinded roles"). A writer whose role
    is not known (None) counts as unblinded: what cannot be shown to be safe is withheld. An
    open-label trial (no blinded role) withholds nothing."""
    roles = set(blinded_roles)
    if not roles:
        return False
    return writer_role is None or not is_blinded(roles, writer_role)


def withhold_text(obj: Any, released: Iterable[str] = (), path: str = "") -> tuple[Any, list[str]]:
    """``obj`` (JSON-like) with every free text (a string, or a list of strings, under a key of
    :data:`FREE_TEXT_KEYS`, at any depth) replaced by :data:`WITHHELD_TEXT`, except at the
    dotted paths in ``released`` (``note``, ``override.reason``); and the paths withheld. The
    input is not changed. Empty values stay as they are (nothing to withhold)."""
    keep = set(released)
    withheld: list[str] = []

    def walk(node: Any, at: str) -> Any:
        if isinstance(node, Mapping):
            out = {}
            for k, v in node.items():
                p = f"{at}.{k}" if at else str(k)
                if str(k).lower() in FREE_TEXT_KEYS and p not in keep and _has_text(v):
                    out[k] = WITHHELD_TEXT
                    withheld.append(p)
                else:
                    out[k] = walk(v, p)
            return out
        if isinstance(node, list | tuple):
            return [walk(v, f"{at}[{i}]") for i, v in enumerate(node)]
        return node

    return walk(obj, path), withheld


def _has_text(v: Any) -> bool:
    if isinstance(v, str):
        return bool(v.strip())
    if isinstance(v, list | tuple):
        return any(_has_text(x) for x in v)
    return isinstance(v, Mapping) and any(_has_text(x) for x in v.values())

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
from typing import Any

ROLES = ("coordinator", "enrolling_oncologist", "treating_oncologist", "statistician",
         "data_manager", "dsmb", "admin", "outcome_assessor")

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


def radiotherapy_view(rt: Mapping[str, Any] | None, blinded: bool) -> dict[str, Any] | None:
    """Radiotherapy as a role may see it: blinded roles learn only that it was delivered and
    when it started (the anchor of the follow-up schedule)."""
    if rt is None:
        return None
    if blinded:
        return {"delivered": True, "start": rt.get("start")}
    return dict(rt)


def find_arm_information(obj: Any, arm_ids: Iterable[str], arm_labels: Iterable[str],
                         path: str = "$") -> list[str]:
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

"""What a role sees of a participant's course in a trial: arm-neutral for a masked role where
the arms differ in what happens to a participant (:class:`oligotrial.domain.trial.blinding.ArmNeutral`).

A role is masked when it may not see the arms (:func:`oligotrial.domain.trial.blinding.sees_arms`:
the protocol blinds it, or it is the system administrator of a trial that blinds any role).
Where only some arms give protocol radiotherapy (NCT06592612: SBRT in the SBRT arm only; "Masking:
Single (Outcomes Assessor)"), a masked role's participant view, participant list, due visits
and counts by state show no radiotherapy, no ``treated`` state and no visit anchored to the
radiotherapy; where every arm gives it (NCT06918951) only its details are withheld.
"""

from __future__ import annotations

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial.blinding import ArmNeutral, sees_arms


def arm_has_radiotherapy(protocol: Protocol, arm_id: str) -> bool:
    """Whether the arm gives protocol radiotherapy (not just palliative radiotherapy as needed)."""
    arm = next(a for a in protocol.arms if a.id == arm_id)
    rt = getattr(arm, "radiotherapy", None)
    return rt is not None and not getattr(rt, "palliative_only", False)


def masked(protocol: Protocol, role: str) -> bool:
    """Whether ``role`` may not learn any participant's arm in ``protocol``'s trial."""
    return not sees_arms(protocol, role)


def arm_neutral(protocol: Protocol, role: str) -> ArmNeutral:
    """The projection ``role``'s views of ``protocol``'s participants go through."""
    return ArmNeutral(masked(protocol, role), all(arm_has_radiotherapy(protocol, a.id) for a in protocol.arms))

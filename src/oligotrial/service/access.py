"""Who may do what, per trial: the role check every service call makes first."""

from __future__ import annotations

from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import BlindingError, WorkflowError
from oligotrial.service.ports import Actor, UnitOfWork

_CLIN = frozenset({"coordinator", "enrolling_oncologist", "treating_oncologist", "data_manager"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "register": frozenset({"coordinator", "enrolling_oncologist", "data_manager"}),
    "screen": frozenset({"coordinator", "enrolling_oncologist", "data_manager"}),
    "consent": frozenset({"coordinator", "enrolling_oncologist"}),
    "enrol": frozenset({"coordinator", "enrolling_oncologist"}),
    # closing a candidate's screening (declined, not eligible, other) and reopening it: the
    # coordinator and the investigator who enrols, as consent and enrolment
    "close_screening": frozenset({"coordinator", "enrolling_oncologist"}),
    "randomize": frozenset({"coordinator", "enrolling_oncologist"}),
    "radiotherapy": frozenset({"coordinator", "treating_oncologist"}),
    "follow_up": _CLIN,
    # recording an imaging assessment (a follow-up entry of kind "assessment"): also the outcome
    # assessor, whom a protocol may blind (NCT06592612 "Masking: Single (Outcomes Assessor)")
    "assessment": _CLIN | {"outcome_assessor"},
    "correct_record": frozenset({"coordinator", "data_manager", "enrolling_oncologist"}),
    "view": frozenset(
        {
            "coordinator",
            "enrolling_oncologist",
            "treating_oncologist",
            "data_manager",
            "statistician",
            "dsmb",
            "outcome_assessor",
        }
    ),
    "summary": frozenset(
        {"coordinator", "enrolling_oncologist", "treating_oncologist", "data_manager", "statistician", "dsmb", "admin"}
    ),
    "unblind": frozenset({"coordinator", "enrolling_oncologist", "treating_oncologist"}),
    "audit_view": frozenset({"coordinator", "data_manager", "dsmb", "statistician", "admin"}),
    "audit_verify": frozenset({"coordinator", "data_manager", "admin"}),
    "notifications": frozenset({"coordinator"}),
    # analysis datasets (ADTTE, ADRS): without the arm for a role the protocol blinds
    "export": frozenset({"coordinator", "data_manager", "statistician", "dsmb"}),
    # the trial report (arms pooled for a role the protocol blinds)
    "report": frozenset({"coordinator", "data_manager", "statistician", "dsmb", "admin"}),
    # unblinding the whole trial for the report (after the final analysis is locked)
    "unblind_trial": frozenset({"admin"}),
    # data queries (service.queries): the data manager raises, closes and re-opens them; the site
    # (and a masked outcome assessor, who records the assessments queried) answers them
    "query_view": frozenset(
        {"coordinator", "enrolling_oncologist", "treating_oncologist", "data_manager", "outcome_assessor"}
    ),
    "query_raise": frozenset({"data_manager"}),
    "query_answer": frozenset({"coordinator", "enrolling_oncologist", "treating_oncologist", "outcome_assessor"}),
    "query_resolve": frozenset({"data_manager"}),
    # releasing a free text an unblinded role wrote to the blinded roles, after review
    # (service.followup.release_text; the data manager must see the arm: checked there)
    "release_text": frozenset({"data_manager"}),
    # user accounts (add, grant, revoke, deactivate, reset a password): the administrator of
    # every trial (role "admin" granted for "*"); see oligotrial.service.users
    "manage_users": frozenset({"admin"}),
}


def authorize(actor: Actor, trial: str, action: str) -> str:
    """The actor's role in ``trial`` when it permits ``action``; otherwise a
    :class:`BlindingError` (code ``forbidden``) that names the action, never any data."""
    role = actor.role_in(trial)
    if role is None or role not in PERMISSIONS[action]:
        raise BlindingError(
            f"{action}: role {role or 'none'!r} in trial {trial} may not do this; "
            f"expected one of {sorted(PERMISSIONS[action])}",
            code="forbidden",
            field="role",
        )
    return role


def authorize_entry(actor: Actor, protocol: Protocol, kind: str) -> str:
    """The actor's role when it may record, correct or retract a follow-up entry of ``kind``
    in ``protocol``: a tumour assessment needs ``assessment``; where the protocol masks outcome
    assessors (``outcome_assessor`` among its ``masking.blinded_roles``: NCT06592612 "Masking:
    Single (Outcomes Assessor)", NCT06918951 "Outcome Assessors") it is the masked assessor's
    reading, and only the ``outcome_assessor`` records one: an assessment entered by a role that
    knows the arm would not be a masked assessment. Every other kind needs ``follow_up``."""
    if kind != "assessment":
        return authorize(actor, protocol.id, "follow_up")
    role = authorize(actor, protocol.id, "assessment")
    if "outcome_assessor" in protocol.masking.blinded_roles and role != "outcome_assessor":
        raise BlindingError(
            f"assessment: trial {protocol.id} masks its outcome assessors; a tumour assessment is "
            f"recorded by the outcome_assessor only, not by role {role!r}",
            code="forbidden",
            field="role",
        )
    return role


def site_visible(actor: Actor, trial: str, site: str | None) -> bool:
    """Whether ``actor`` may see a participant of ``site`` in ``trial``: a role granted for one
    site covers that site's participants only; any other role covers every site."""
    scope = actor.site_in(trial)
    return scope is None or scope == site


def check_site(actor: Actor, trial: str, participant: Any) -> None:
    """Refuse a participant of another site as if it did not exist (a site's staff learn nothing
    about another site's participants, not even that they exist)."""
    if participant is not None and not site_visible(actor, trial, participant.site):
        raise WorkflowError(
            f"participant {participant.id}: not found in trial {trial}", code="not_found", field="participant"
        )


def visible_participant(
    uow: UnitOfWork, actor: Actor | None, trial: str, pid: str, *, for_update: bool = False
) -> Participant:
    """The participant ``pid`` of ``trial`` as ``actor`` may see them (``actor`` None: the
    operator), else ``not_found``: an unknown id and another site's participant answer the same."""
    p = uow.participants.get_participant(trial, pid, for_update=for_update)
    if actor is not None:
        check_site(actor, trial, p)
    if p is None:
        raise WorkflowError(f"participant {pid}: not found in trial {trial}", code="not_found", field="participant")
    return p


def authorize_any(actor: Actor, action: str) -> str:
    """For actions not tied to one trial (audit verify): any trial role that permits it."""
    for role in actor.roles.values():
        if role in PERMISSIONS[action]:
            return role
    raise BlindingError(
        f"{action}: none of your roles may do this; expected one of {sorted(PERMISSIONS[action])}",
        code="forbidden",
        field="role",
    )

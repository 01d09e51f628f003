"""Emergency unblinding (break the glass): one participant, a reason, re-authentication;
recorded in the audit trail, raised as a participant event and a notification to the
coordinating centre. The arm is returned to the requester only, never stored in the trail.

A refused attempt (no permission, wrong password, unknown or other-site participant, not
randomized, no reason) is recorded too, as ``participant.unblind_refused`` with the refusal's
code: an attempt to break the blind leaves a trace whether or not it succeeds (ICH E6(R3)
section C.4.2: any premature unblinding, "accidental or ... otherwise", is documented).
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.kernel.bounds import text_problem
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.errors import BlindingError, RandomizationError, WorkflowError
from oligotrial.service import audit
from oligotrial.service.access import authorize, check_site
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor
from oligotrial.service.randomization import allocation_arm
from oligotrial.service.rows import NotificationRow


def emergency_unblind(
    ctx: ServiceContext, actor: Actor, trial: str, pid: str, *, reason: str, password: str
) -> dict[str, Any]:
    """The arm of participant ``pid`` for ``actor`` after re-authentication with ``password``;
    every refusal is audited (:func:`_record_refusal`) and raised again."""
    protocol = ctx.load_protocol(trial)
    try:
        return _unblind(ctx, actor, protocol, pid, reason=reason, password=password)
    except (BlindingError, WorkflowError, RandomizationError) as exc:
        _record_refusal(ctx, actor, protocol.id, pid, reason, exc)
        raise


def _storable(text: Any, limit: int) -> str | None:
    if not isinstance(text, str) or text_problem(text):
        return None
    return text.strip()[:limit] or None


def _record_refusal(
    ctx: ServiceContext,
    actor: Actor,
    trial: str,
    pid: Any,
    reason: Any,
    exc: BlindingError | WorkflowError | RandomizationError,
) -> None:
    """Append ``participant.unblind_refused`` (who, which participant as asked, why refused;
    never an arm) in its own transaction: the attempt's own transaction was rolled back."""
    with ctx.uow() as uow:
        audit.record(
            uow,
            ctx,
            actor,
            trial=trial,
            action="participant.unblind_refused",
            entity_type="participant",
            entity_id=_storable(pid, 64) or "?",
            new={"refused": exc.code, "field": exc.field},
            reason=_storable(reason, 5000),
        )
        uow.commit()


def _unblind(
    ctx: ServiceContext, actor: Actor, protocol: Protocol, pid: str, *, reason: str, password: str
) -> dict[str, Any]:
    authorize(actor, protocol.id, "unblind")
    if not isinstance(reason, str) or len(reason.strip()) < 10:
        raise BlindingError(
            "reason: emergency unblinding needs a reason of at least 10 characters",
            code="reason_required",
            field="reason",
        )
    with ctx.uow() as uow:
        user = uow.users.get_user_by_name(actor.username)
        if user is None or not ctx.hasher.verify(user.password_hash, password or ""):
            raise BlindingError("password: re-authentication failed", code="reauthentication_failed", field="password")
        p = uow.participants.get_participant(protocol.id, pid, for_update=True)
        check_site(actor, protocol.id, p)
        if p is None:
            raise WorkflowError(
                f"participant {pid}: not found in trial {protocol.id}", code="not_found", field="participant"
            )
        a = uow.allocation.get_allocation(p.id)
        if a is None:
            raise RandomizationError(
                f"participant {pid}: not randomized; nothing to unblind", code="not_randomized", field="participant"
            )
        arm = protocol.arm(allocation_arm(ctx, a))
        now = ctx.now_iso()
        event = {"date": now[:10], "by": actor.username, "reason": reason.strip()}
        entry_id = uow.participants.add_entry(p.id, "unblinding", event, now, actor.username)
        uow.participants.add_notification(
            protocol.id,
            "emergency_unblinding",
            p.id,
            f"{actor.username} unblinded participant {p.id}: {reason.strip()}",
            now,
        )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.unblind",
            entity_type="participant",
            entity_id=p.id,
            new={"event": entry_id, "reauthenticated": True},
            reason=reason.strip(),
        )
        uow.commit()
    return {"participant": p.id, "arm": arm.id, "arm_label": arm.label, "unblinded_at": now, "event": entry_id}


def notifications(ctx: ServiceContext, actor: Actor, trial: str) -> list[NotificationRow]:
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "notifications")
    with ctx.uow() as uow:
        return uow.participants.notifications(protocol.id)

"""Data queries: raised by the data manager on one field of a participant's data (a follow-up
entry's, or the registered record's), answered by the site, closed or re-opened by the data
manager, with their own history (the lifecycle: :mod:`oligotrial.domain.trial.queries`).

Every step is one transaction: the query's status, the step's message (who, in which role,
when, the text) and its audit entry (``query.raise``, ``query.answer``, ``query.close``,
``query.reopen``) are written together or not at all. A role granted for one site sees and
handles its site's participants' queries only; another site's query answers as an unknown one.

Blinding: every role that handles queries reads every query of the trial it may see (an
enrolling oncologist in STOP-2, a masked outcome assessor), and the text is written by people who
may know the arm. So a blinded role reads each message written in a role that knows the arm as
"withheld: written by an unblinded role" (issue 25 item 1, :mod:`oligotrial.service.freetext`)
until whoever raised the query releases it after review (``release``: a message of the query's
history that releases every message before it and itself); the arm-word check
(:func:`oligotrial.domain.trial.queries.arm_warning`) warns the writer, in the answer to the
step only. A query's target is a field of an entry or of the registered record; the protocol's
radiotherapy course (whose dose tells the arm) is not a target.
"""

from __future__ import annotations

from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record.entries import ENTRY_KINDS
from oligotrial.domain.record.patient import Patient
from oligotrial.domain.trial import queries as dq
from oligotrial.domain.trial.blinding import WITHHELD_TEXT, writes_unblinded
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import RecordError, WorkflowError
from oligotrial.service import audit, freetext
from oligotrial.service.access import PERMISSIONS, authorize, check_site, site_visible
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, UnitOfWork
from oligotrial.service.rows import QueryMessageRow, QueryRow

#: action -> the permission it needs (service.access.PERMISSIONS)
PERMISSION = {
    "raise": "query_raise",
    "answer": "query_answer",
    "close": "query_resolve",
    "reopen": "query_resolve",
    "release": "query_raise",
}
#: the step that releases a query's messages so far to the blinded roles (not a status change)
RELEASE = "release"

ENTITY = "data_query"
MAX_ID = 2**31 - 1


def _not_found(query_id: Any, trial: str) -> WorkflowError:
    return WorkflowError(f"query {query_id}: not found in trial {trial}", code="not_found", field="query")


def _query_id(query_id: Any) -> int:
    if isinstance(query_id, bool) or not isinstance(query_id, int) or not 1 <= query_id <= MAX_ID:
        raise RecordError(
            f"query {query_id!r}: expected a query number from 1 to {MAX_ID}",
            field="query",
            errors=[{"path": "query", "value": str(query_id)[:40], "expected": "a query number"}],
        )
    return query_id


def entity_id(participant_id: str, query_id: int) -> str:
    """The audit trail's name of a query: under its participant, as their entries are."""
    return f"{participant_id}/query-{query_id}"


def allowed_actions(actor: Actor, trial: str, status: str) -> list[str]:
    """The steps ``actor`` may take on a query in ``status``: the lifecycle's and the role's
    (what a page offers; each step checks both again)."""
    role = actor.role_in(trial)
    return [a for a in dq.actions_from(status) if role in PERMISSIONS[PERMISSION[a]]]


def authorize_step(actor: Actor, trial: str, action: str) -> str:
    """The actor's role when it may take ``action`` (raise, answer, close, reopen) in ``trial``;
    otherwise the service's ``forbidden`` refusal (a page checks before offering a form)."""
    return authorize(actor, trial, PERMISSION[action])


def may(actor: Actor, trial: str, action: str) -> bool:
    """Whether ``actor``'s role in ``trial`` permits ``action`` (view, raise, answer, close, reopen)."""
    return actor.role_in(trial) in PERMISSIONS["query_view" if action == "view" else PERMISSION[action]]


def fields_of(kind: str | None) -> list[str]:
    """The fields a query on an entry of ``kind`` (None: the registered record) may name first,
    sorted (what :func:`raise_query` accepts; a form offers them)."""
    model = Patient if kind is None else ENTRY_KINDS[kind][1] if kind in ENTRY_KINDS else None
    return [] if model is None else sorted(model.model_fields)


def _participant(uow: UnitOfWork, actor: Actor, trial: str, ref: Any) -> Any:
    """The participant named by their id or their own (external) id, as ``actor`` may see them."""
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 128:
        raise RecordError(
            f"participant {str(ref)[:40]!r}: expected a participant id",
            field="participant",
            errors=[{"path": "participant", "value": str(ref)[:40], "expected": "a participant id"}],
        )
    ref = ref.strip()
    p = uow.participants.get_participant(trial, ref) or uow.participants.find_participant(trial, ref)
    check_site(actor, trial, p)
    if p is None:
        raise WorkflowError(f"participant {ref}: not found in trial {trial}", code="not_found", field="participant")
    return p


def _shown(protocol: Protocol, actor: Actor, messages: list[QueryMessageRow]) -> list[QueryMessageRow]:
    """The messages as ``actor`` may read them: for a blinded role, the text of a message written
    in a role that knows the arm is withheld unless a later ``release`` covers it."""
    if not freetext.reader_blinded(protocol, actor.role_in(protocol.id)):
        return messages
    released = max((m["seq"] for m in messages if m["action"] == RELEASE), default=0)
    return [
        {**m, "text": WITHHELD_TEXT}
        if m["seq"] > released and m["text"] and writes_unblinded(protocol.masking.blinded_roles, m.get("role"))
        else m
        for m in messages
    ]


def _view(
    row: QueryRow, actor: Actor, messages: list[QueryMessageRow] | None = None, protocol: Protocol | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "trial": row["trial"],
        "participant": row["participant_id"],
        "external_id": row["external_id"],
        "site": row["site"],
        "entry": row["entry_id"],
        "entry_kind": row["entry_kind"],
        "field": row["field"],
        "status": row["status"],
        "raised_by": row["raised_by"],
        "raised_at": row["raised_at"],
        "updated_at": row["updated_at"],
        "question": row["question"],
        "actions": allowed_actions(actor, row["trial"], row["status"]),
    }
    if messages is not None:
        shown = messages if protocol is None else _shown(protocol, actor, messages)
        first = next((m for m in shown if m["seq"] == 1), None)
        if first is not None:
            out["question"] = first["text"]
        out["history"] = [{k: m[k] for k in ("seq", "action", "by", "role", "at", "text")} for m in shown]
        if protocol is not None and may_release(actor, row, protocol, messages):
            out["actions"] = [*out["actions"], RELEASE]
    return out


def may_release(actor: Actor, row: QueryRow, protocol: Protocol, messages: list[QueryMessageRow]) -> bool:
    """Whether ``actor`` may release the query's messages to the blinded roles: the one who
    raised it (issue 25 item 1: "a query meant for a blinded role is released by whoever raised
    it"), seeing the arm, in a trial that blinds someone, while a message is withheld."""
    if row["raised_by"] != actor.username or freetext.reader_blinded(protocol, actor.role_in(protocol.id)):
        return False
    blinded = protocol.masking.blinded_roles
    released = max((m["seq"] for m in messages if m["action"] == RELEASE), default=0)
    return any(m["seq"] > released and m["text"] and writes_unblinded(blinded, m.get("role")) for m in messages)


def _visible_query(uow: UnitOfWork, actor: Actor, trial: str, query_id: int, *, for_update: bool = False):
    row = uow.queries.get_query(trial, query_id, for_update=for_update)
    if row is None or not site_visible(actor, trial, row["site"]):
        raise _not_found(query_id, trial)
    return row


# ---- reading ------------------------------------------------------------------------------------


def list_queries(
    ctx: ServiceContext, actor: Actor, trial: str, status: str | None = None, participant: str | None = None
) -> list[dict[str, Any]]:
    """The trial's queries ``actor`` may see, oldest first; of one ``status`` and one
    ``participant`` (their id or own id) when given."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "query_view")
    if status is not None and status not in dq.STATUSES:
        raise RecordError(
            f"status {str(status)[:40]!r}: expected one of {', '.join(dq.STATUSES)}",
            field="status",
            errors=[{"path": "status", "value": str(status)[:40], "expected": f"one of {', '.join(dq.STATUSES)}"}],
        )
    with ctx.uow() as uow:
        pid = None if participant is None else _participant(uow, actor, protocol.id, participant).id
        rows = uow.queries.list_queries(protocol.id, status, pid)
        rows = [r for r in rows if site_visible(actor, protocol.id, r["site"])]
        if freetext.reader_blinded(protocol, actor.role_in(protocol.id)):  # the question as they may read it
            return [
                {
                    k: v
                    for k, v in _view(r, actor, uow.queries.query_messages(r["id"]), protocol).items()
                    if k != "history"
                }
                for r in rows
            ]
    return [_view(r, actor) for r in rows]


def get_query(ctx: ServiceContext, actor: Actor, trial: str, query_id: Any) -> dict[str, Any]:
    """One query with its whole history (each step: action, who, role, when, text)."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "query_view")
    qid = _query_id(query_id)
    with ctx.uow() as uow:
        row = _visible_query(uow, actor, protocol.id, qid)
        messages = uow.queries.query_messages(qid)
    return _view(row, actor, messages, protocol)


def open_count(ctx: ServiceContext, actor: Actor, trial: str) -> dict[str, int]:
    """How many of the trial's queries ``actor`` may see wait for someone: ``open`` (for an
    answer), ``answered`` (for the data manager), and both together (``unresolved``)."""
    rows = list_queries(ctx, actor, trial)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("open", "answered")}
    return {**counts, "unresolved": counts["open"] + counts["answered"]}


# ---- the steps ----------------------------------------------------------------------------------


def _target(uow: UnitOfWork, p: Participant, entry: Any, field: Any) -> tuple[int | None, str]:
    """The entry in force (None: the registered record) and the field path checked against it."""
    if entry is None:
        return None, dq.clean_field(field, Patient.model_fields, "the registered record")
    if isinstance(entry, bool) or not isinstance(entry, int) or not 1 <= entry <= MAX_ID:
        raise RecordError(
            f"entry {str(entry)[:40]!r}: expected an entry number of participant {p.external_id}, "
            "or none for a field of the registered record",
            field="entry",
            errors=[{"path": "entry", "value": str(entry)[:40], "expected": "an entry number"}],
        )
    e = uow.participants.get_entry(p.id, entry)
    if e is None or e["kind"] not in ENTRY_KINDS:
        raise WorkflowError(
            f"entry {entry}: not found for participant {p.external_id}", code="not_found", field="entry"
        )
    if e["status"] != "active":
        raise WorkflowError(
            f"entry {entry}: {e['status']}; expected an entry in force", code="illegal_step", field="entry"
        )
    model = ENTRY_KINDS[e["kind"]][1]
    return entry, dq.clean_field(field, model.model_fields, f"a {e['kind'].replace('_', ' ')} entry")


def raise_query(
    ctx: ServiceContext, actor: Actor, trial: str, participant: Any, *, field: Any, text: Any, entry: Any = None
) -> dict[str, Any]:
    """Raise a query on ``field`` of ``participant``'s entry ``entry`` (None: of their registered
    record); ``text`` is the question. The data manager's step."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, PERMISSION["raise"])
    question = dq.clean_text("raise", text)
    warning = dq.arm_warning(question, dq.arm_terms(protocol))  # for the writer only, never stored
    status = dq.next_status("raise", None)
    with ctx.uow() as uow:
        p = _participant(uow, actor, protocol.id, participant)
        entry_id, path = _target(uow, p, entry, field)
        now = ctx.now_iso()
        qid = uow.queries.add_query(
            {
                "trial": protocol.id,
                "participant_id": p.id,
                "entry_id": entry_id,
                "field": path,
                "status": status,
                "raised_by": actor.username,
                "raised_at": now,
                "updated_at": now,
            }
        )
        uow.queries.add_query_message(
            qid, {"seq": 1, "action": "raise", "by": actor.username, "role": role, "at": now, "text": question}
        )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="query.raise",
            entity_type=ENTITY,
            entity_id=entity_id(p.id, qid),
            new={"status": status, "entry": entry_id, "field": path, "text": question},
        )
        uow.commit()
    return {**get_query(ctx, actor, protocol.id, qid), "warnings": [warning] if warning else []}


def _step(ctx: ServiceContext, actor: Actor, trial: str, query_id: Any, action: str, text: Any) -> dict[str, Any]:
    """One step of the lifecycle on an existing query, under its row lock."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, PERMISSION[action])
    qid = _query_id(query_id)
    message = dq.clean_text(action, text)
    warning = dq.arm_warning(message, dq.arm_terms(protocol))  # for the writer only, never stored
    with ctx.uow() as uow:
        row = _visible_query(uow, actor, protocol.id, qid, for_update=True)
        if action == RELEASE:
            if not may_release(actor, row, protocol, uow.queries.query_messages(qid)):
                raise WorkflowError(
                    f"release: query {qid} has no message withheld from blinded roles that you may "
                    "release; expected a query you raised, in a trial that blinds a role, with a "
                    "message written in a role that knows the arm",
                    code="illegal_step",
                    field="query",
                )
            status = row["status"]
        else:
            status = dq.next_status(action, row["status"])
        now = ctx.now_iso()
        seq = len(uow.queries.query_messages(qid)) + 1
        uow.queries.set_query_status(qid, status, now)
        uow.queries.add_query_message(
            qid, {"seq": seq, "action": action, "by": actor.username, "role": role, "at": now, "text": message}
        )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action=f"query.{action}",
            entity_type=ENTITY,
            entity_id=entity_id(row["participant_id"], qid),
            new={"from": row["status"], "status": status, "text": message},
        )
        uow.commit()
    return {**get_query(ctx, actor, protocol.id, qid), "warnings": [warning] if warning else []}


def answer_query(ctx: ServiceContext, actor: Actor, trial: str, query_id: Any, text: Any) -> dict[str, Any]:
    """The site's answer to an open query (it becomes ``answered``)."""
    return _step(ctx, actor, trial, query_id, "answer", text)


def close_query(ctx: ServiceContext, actor: Actor, trial: str, query_id: Any, text: Any = "") -> dict[str, Any]:
    """The data manager closes an open or answered query, with an optional note."""
    return _step(ctx, actor, trial, query_id, "close", text)


def reopen_query(ctx: ServiceContext, actor: Actor, trial: str, query_id: Any, text: Any) -> dict[str, Any]:
    """The data manager re-opens an answered or closed query, saying why (it is ``open`` again)."""
    return _step(ctx, actor, trial, query_id, "reopen", text)


def release_query(ctx: ServiceContext, actor: Actor, trial: str, query_id: Any, text: Any) -> dict[str, Any]:
    """Whoever raised the query releases its messages so far to the blinded roles, after review,
    saying why (a ``release`` message of its history, audited as ``query.release``; the status
    does not change). Issue 25 item 1: "a query meant for a blinded role is released by whoever
    raised it"."""
    return _step(ctx, actor, trial, query_id, RELEASE, text)

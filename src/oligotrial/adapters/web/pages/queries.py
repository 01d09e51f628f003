"""Data query pages: a trial's queries (filtered by status and participant), one query with its
history and the steps the user's role may take next, and the form that raises one.

Everything is :mod:`oligotrial.service.queries`, the service the REST API calls; a form is read
with the API's own body models (:mod:`oligotrial.adapters.web.query_routes`). A refused step
stores nothing and the form comes back with the service's message beside the field it names.

The participant page may link a field to the raise form:
``/trials/{trial}/queries/new?participant={id}&entry={entry id}&field={path}`` (each optional).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from starlette.responses import Response

from oligotrial.adapters.web.pages import forms
from oligotrial.adapters.web.pages.base import Page, SignedIn, form_of, redirect, render
from oligotrial.adapters.web.pages.views import router
from oligotrial.adapters.web.query_routes import QueryMessage, RaiseQuery, parse
from oligotrial.domain.trial.queries import ACTIONS, STATUSES
from oligotrial.errors import RecordError, WorkflowError
from oligotrial.service import enrolment, queries

QUERY_ID = Annotated[int, "data query number"]
ACTION_LABELS = {"answer": "Answer", "close": "Close", "reopen": "Re-open", "release": "Release to blinded roles"}


def _participants(page: Page, trial: str) -> list[dict[str, Any]]:
    return enrolment.list_participants(page.ctx, page.actor, trial)


@router.get("/trials/{trial}/queries")
def query_list(
    page: SignedIn,
    trial: str,
    status: Annotated[str, Query(max_length=16)] = "",
    participant: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    rows = queries.list_queries(page.ctx, page.actor, protocol.id, status or None, participant or None)
    return render(
        page,
        page.request,
        "queries.html",
        trial=protocol,
        rows=rows,
        status_filter=status,
        participant=participant,
        statuses=STATUSES,
        participants=_participants(page, protocol.id),
        may_raise=queries.may(page.actor, protocol.id, "raise"),
        kind_labels=forms.KIND_LABELS,
    )


def _new_page(
    page: Page, trial: str, status: int = 200, *, values: dict[str, str], errors: dict[str, str] | None = None
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    queries.authorize_step(page.actor, protocol.id, "raise")  # the service's refusal, before the form
    people = _participants(page, protocol.id)
    chosen = next((p for p in people if values.get("participant") in (p["id"], p["external_id"])), None)
    entries: list[dict[str, Any]] = []
    if chosen is not None:
        view = enrolment.get_participant(page.ctx, page.actor, protocol.id, chosen["id"])
        entries = [e for e in view["entries"] if e["status"] == "active" and e["kind"] in forms.KIND_LABELS]
        values = {**values, "participant": chosen["external_id"]}  # the id people know
    kind = next((e["kind"] for e in entries if str(e["id"]) == values.get("entry")), None)
    return render(
        page,
        page.request,
        "queries_new.html",
        status,
        trial=protocol,
        participants=people,
        entries=entries,
        values=values,
        errors=errors or {},
        kind_labels=forms.KIND_LABELS,
        field_names=queries.fields_of(kind),
    )


@router.get("/trials/{trial}/queries/new")
def new_query(
    page: SignedIn,
    trial: str,
    participant: Annotated[str, Query(max_length=128)] = "",
    entry: Annotated[str, Query(max_length=12)] = "",
    field: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return _new_page(page, trial, values={"participant": participant, "entry": entry, "field": field})


@router.post("/trials/{trial}/queries")
async def raise_query(page: SignedIn, trial: str) -> Response:
    form = await form_of(page)
    values = {k: str(v).strip() for k, v in form.items() if k in ("participant", "entry", "field", "text")}
    protocol = page.ctx.load_protocol(trial)
    try:
        body = parse(RaiseQuery, {**values, "entry": values.get("entry") or None})
        q = queries.raise_query(
            page.ctx, page.actor, protocol.id, body.participant, entry=body.entry, field=body.field, text=body.text
        )
        if q.get("warnings"):  # the arm-word warning: to the writer only, in the redirect, never stored
            return redirect(f"/trials/{protocol.id}/queries/{q['id']}?done=raise&warned=1")
    except (RecordError, WorkflowError) as exc:
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _new_page(page, protocol.id, 422, values=values, errors=errors)
    return redirect(f"/trials/{protocol.id}/queries/{q['id']}?done=raise")


def _query_page(
    page: Page,
    trial: str,
    query_id: int,
    status: int = 200,
    *,
    action: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    warned: bool = False,
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    q = queries.get_query(page.ctx, page.actor, protocol.id, query_id)
    return render(
        page,
        page.request,
        "queries_detail.html",
        status,
        trial=protocol,
        q=q,
        form_action=action,
        values=values or {},
        errors=errors or {},
        done=done,
        labels=ACTION_LABELS,
        warned=warned,
        kind_labels=forms.KIND_LABELS,
    )


@router.get("/trials/{trial}/queries/{query_id}")
def query_page(
    page: SignedIn,
    trial: str,
    query_id: QUERY_ID,
    done: Annotated[str, Query(max_length=16)] = "",
    warned: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    return _query_page(
        page, trial, query_id, done=done if done in (*ACTIONS, queries.RELEASE) else None, warned=bool(warned)
    )


@router.post("/trials/{trial}/queries/{query_id}/{action}")
async def query_step(page: SignedIn, trial: str, query_id: QUERY_ID, action: str) -> Response:
    form = await form_of(page)
    values = {"text": str(form.get("text") or "")}
    protocol = page.ctx.load_protocol(trial)
    step = {
        "answer": queries.answer_query,
        "close": queries.close_query,
        "reopen": queries.reopen_query,
        "release": queries.release_query,
    }.get(action)
    if step is None:
        raise RecordError(f"action {action[:40]!r}: expected one of answer, close, reopen, release", field="action")
    try:
        body = parse(QueryMessage, values)
        out = step(page.ctx, page.actor, protocol.id, query_id, body.text)
    except (RecordError, WorkflowError) as exc:
        if getattr(exc, "code", None) == "not_found":
            raise
        errors = forms.field_errors(getattr(exc, "errors", None), exc.message, exc.field)
        return _query_page(page, protocol.id, query_id, 422, action=action, values=values, errors=errors)
    return redirect(
        f"/trials/{protocol.id}/queries/{query_id}?done={action}{'&warned=1' if out.get('warnings') else ''}"
    )

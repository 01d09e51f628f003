"""Sign-in and out, the trials dashboard, the audit page and the report page.

Each route reads the form or the query, calls the services the REST API calls (for the role
check and for what a role may see), and renders a template. Nothing here decides what a
blinded role may see: a panel a role may not see is shown as such, from the service's refusal.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from oligotrial.adapters.web.pages import session as sess
from oligotrial.adapters.web.pages.base import Page, PageRoute, SignedIn, form_of, redirect, render, signed_in
from oligotrial.adapters.web.pages.charts import recruitment_svg
from oligotrial.adapters.web.throttle import LoginThrottled
from oligotrial.errors import BlindingError
from oligotrial.service import audit, dashboard, enrolment, queries, unblinding, users
from oligotrial.service.access import PERMISSIONS

router = APIRouter(route_class=PageRoute, include_in_schema=False)

AUDIT_PAGE = 50
TrialPath = Annotated[str, "NCT id or short name"]


def may(page: Page, trial: str, action: str) -> bool:
    """Whether the user's role in ``trial`` permits ``action`` (to offer a link or button; the
    service checks again when it is used)."""
    return page.role(trial) in PERMISSIONS[action]


def external_ids(page: Page, trial: str) -> dict[str, str]:
    """Participant id -> the participant's own (external) id, for the participants the user may
    see (an audit row names the participant by the internal id); empty for a role that may not
    list participants."""
    rows, _why = attempt(enrolment.list_participants, page.ctx, page.actor, trial)
    return {r["id"]: r["external_id"] for r in rows or []}


def attempt(fn, *args, **kw) -> tuple[Any, str | None]:
    """``fn``'s result, or the service's refusal (``forbidden``) as a message for the panel."""
    try:
        return fn(*args, **kw), None
    except BlindingError as exc:
        if exc.code != "forbidden":
            raise
        return None, "not shown to your role"


# ---- sign in and out ----------------------------------------------------------------------------


def _login_page(request: Request, status: int = 200, **context: Any) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(None, request, "login.html", status, login_csrf=token, **context)
    sess.set_cookie(response, request, sess.LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.get("/")
def index(request: Request) -> Response:
    try:
        signed_in(request)
    except sess.SessionEnded:
        return redirect("/login")
    return redirect("/trials")


@router.get("/login")
def login_form(request: Request, expired: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    try:
        signed_in(request)
        return redirect("/trials")
    except sess.SessionEnded:
        pass
    return _login_page(
        request, notice="Your session ended after a time without activity; sign in again." if expired else None
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    try:
        sess.check_csrf(request.cookies.get(sess.LOGIN_CSRF_COOKIE), form.get("csrf"))
    except sess.CsrfRejected as exc:
        return _login_page(request, 403, error=str(exc))
    username = str(form.get("username") or "")[:200]
    password = str(form.get("password") or "")[:1024]
    container = request.app.state.container
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else None
    try:
        throttle.check(username, address)
    except LoginThrottled as exc:
        response = _login_page(request, 429, error=exc.message, username=username)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    try:
        user = users.authenticate(container.ctx, username, password)
    except users.AuthenticationError as exc:
        throttle.failed(username, address)
        return _login_page(request, 401, error=exc.message, username=username)
    throttle.succeeded(username, address)
    response = redirect("/trials")
    s = sess.new_session(user.id, pwd=users.credential_stamp(user))
    sess.set_cookie(response, request, sess.COOKIE, sess.encode(container.settings.secret_key, s), sess.ABSOLUTE_S)
    sess.clear_cookie(response, request, sess.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(page: SignedIn) -> Response:
    await form_of(page)
    users.end_session(page.ctx, page.session.uid, page.session.sid, dt.timedelta(seconds=sess.ABSOLUTE_S))
    response = redirect("/login")
    sess.clear_cookie(response, page.request, sess.COOKIE)
    return response


# ---- dashboard ----------------------------------------------------------------------------------


def _trial_panel(page: Page, trial: dict[str, Any]) -> dict[str, Any]:
    tid = trial["id"]
    today = page.ctx.today()
    rec, rec_why = attempt(dashboard.recruitment, page.ctx, page.actor, tid)
    due, due_why = attempt(enrolment.visits_due, page.ctx, page.actor, tid, ("due", "overdue"))
    trail, trail_why = attempt(audit.trail, page.ctx, page.actor, tid)
    open_queries, _ = attempt(queries.open_count, page.ctx, page.actor, tid)
    # the coordinating centre's notifications (emergency unblindings, radiotherapy deviations):
    # only the roles the service lets read them get the panel
    notes = (
        attempt(unblinding.notifications, page.ctx, page.actor, tid)[0]
        if page.role(tid) in PERMISSIONS["notifications"]
        else None
    )
    week = (today + dt.timedelta(days=7)).isoformat()
    names = external_ids(page, tid) if trail or notes else {}
    if notes is not None:  # a site's coordinator: their site's participants only
        notes = [n for n in notes if n["participant_id"] in names]
    return {
        **trial,
        "recruitment": rec,
        "recruitment_why": rec_why,
        "queries": open_queries,
        "notifications": None if notes is None else notes[-8:][::-1],
        "chart": recruitment_svg(rec["points"], rec["planned"], today) if rec else None,
        "due": None if due is None else [v for v in due if v["status"] == "overdue" or v["earliest"] <= week],
        "due_why": due_why,
        "audit": None if trail is None else trail[-8:][::-1],
        "audit_why": trail_why,
        "names": names,
    }


@router.get("/trials")
def trials(page: SignedIn) -> Response:
    from oligotrial.adapters.web.pages.base import trials_of

    panels = [_trial_panel(page, t) for t in trials_of(page)]
    return render(page, page.request, "dashboard.html", panels=panels, today=page.ctx.today().isoformat())


# ---- audit --------------------------------------------------------------------------------------


@router.get("/trials/{trial}/audit")
def audit_page(
    page: SignedIn,
    trial: TrialPath,
    n: Annotated[int, Query(ge=1, le=10**6, alias="page")] = 1,
    participant: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    rows = audit.trail(page.ctx, page.actor, protocol.id)[::-1]  # newest first
    names = external_ids(page, protocol.id)
    if participant:  # the participant's own id (C-00001) or the internal one
        wanted = {participant} | {pid for pid, ext in names.items() if ext == participant}
        rows = [r for r in rows if str(r["entity_id"] or "").split("/")[0] in wanted]
    pages = max(1, math.ceil(len(rows) / AUDIT_PAGE))
    n = min(n, pages)
    return render(
        page,
        page.request,
        "audit.html",
        trial=protocol,
        rows=rows[(n - 1) * AUDIT_PAGE : n * AUDIT_PAGE],
        n=n,
        pages=pages,
        total=len(rows),
        participant=participant,
        may_verify=may(page, protocol.id, "audit_verify"),
        verified=None,
        names=names,
    )


@router.post("/trials/{trial}/audit/verify")
async def audit_verify(page: SignedIn, trial: TrialPath) -> Response:
    await form_of(page)
    protocol = page.ctx.load_protocol(trial)
    report = audit.verify(page.ctx, page.actor).to_dict()
    rows = audit.trail(page.ctx, page.actor, protocol.id)[::-1]
    return render(
        page,
        page.request,
        "audit.html",
        trial=protocol,
        rows=rows[:AUDIT_PAGE],
        n=1,
        pages=max(1, math.ceil(len(rows) / AUDIT_PAGE)),
        total=len(rows),
        participant="",
        may_verify=True,
        verified=report,
        names=external_ids(page, protocol.id),
    )


# ---- report -------------------------------------------------------------------------------------


@router.get("/trials/{trial}/report")
def report_page(page: SignedIn, trial: TrialPath) -> Response:
    from oligotrial.service.report import report_for

    protocol = page.ctx.load_protocol(trial)
    report = report_for(page.ctx, page.actor, protocol.id)
    return render(
        page,
        page.request,
        "report.html",
        trial=protocol,
        report=report,
        full=not report.get("blinded"),
        may_export=may(page, protocol.id, "export"),
    )


@router.get("/trials/{trial}/report/full")
def report_full(page: SignedIn, trial: TrialPath) -> Response:
    """The full report page (figures, CONSORT diagram) of :mod:`oligotrial.adapters.io.report_html`,
    for a role that sees the arms; a blinded role is sent to the pooled page."""
    from oligotrial.adapters.io.report_html import figures, render_html
    from oligotrial.service.report import report_for

    protocol = page.ctx.load_protocol(trial)
    report = report_for(page.ctx, page.actor, protocol.id)
    if report.get("blinded"):
        return redirect(f"/trials/{protocol.id}/report")
    response = HTMLResponse(render_html(report, figures(report)))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/trials/{trial}/report.json")
def report_json(page: SignedIn, trial: TrialPath) -> Response:
    """The report the page shows, as the API's JSON (arms pooled for a blinded role)."""
    from oligotrial.adapters.web.responses import render_json
    from oligotrial.service.report import report_for

    protocol = page.ctx.load_protocol(trial)
    report = report_for(page.ctx, page.actor, protocol.id)
    return Response(
        render_json(report),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{protocol.id}-report.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/trials/{trial}/exports/{dataset}.csv")
def export_page(page: SignedIn, trial: TrialPath, dataset: str) -> Response:
    """An analysis dataset (ADTTE, ADRS) as the API's CSV download, for the signed-in user: the
    service leaves the arm out for a role the protocol blinds (:func:`oligotrial.service.endpoints.export`)."""
    import itertools

    from starlette.responses import StreamingResponse

    from oligotrial.service import endpoints

    protocol = page.ctx.load_protocol(trial)
    lines, _with_arm = endpoints.export(page.ctx, page.actor, protocol.id, dataset)
    first = next(lines)  # the role check and the header happen before the response starts
    return StreamingResponse(
        itertools.chain([first], lines),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{protocol.id}-{dataset}.csv"',
            "Cache-Control": "no-store",
        },
    )

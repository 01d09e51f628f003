"""Emergency unblinding (break the glass) for one participant: a page that says what happens,
asks a reason and the user's password again, and shows the arm on the response to that request
only.

The POST calls :func:`oligotrial.service.unblinding.emergency_unblind`, as the REST route
``POST /api/v1/trials/{trial}/participants/{pid}/unblind`` does, and like it is never refused by
a count of failed logins (nobody can lock a clinician out of it by typing their user name): a
correct password always unblinds. A wrong one counts against the user's sign-in from this
address, and the session that reaches the limit of wrong passwords is ended (a stolen session
does not buy unlimited password guesses; :mod:`oligotrial.adapters.web.throttle`). The service checks the role (``unblind``), the reason and the password, records the
unblinding as a participant event, a notification to the coordinating centre and an audit entry
(without the arm), and audits every refusal. The arm is in the response body alone: never in a
cookie, a URL or a redirect, and the response is not cached (``Cache-Control: no-store``, as on
every page).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import Response

from oligotrial.adapters.web.pages.base import Page, SignedIn, form_of, render
from oligotrial.adapters.web.pages.participant import Pid
from oligotrial.adapters.web.pages.session import ABSOLUTE_S, SessionEnded
from oligotrial.adapters.web.pages.views import router
from oligotrial.errors import BlindingError, OligotrialError
from oligotrial.service import enrolment, unblinding, users
from oligotrial.service.access import authorize


def _unblind_page(
    page: Page,
    trial: str,
    pid: str,
    status: int = 200,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    result: dict[str, Any] | None = None,
) -> Response:
    protocol = page.ctx.load_protocol(trial)
    authorize(page.actor, protocol.id, "unblind")  # another role: 403, before anything about the participant
    view = enrolment.get_participant(page.ctx, page.actor, protocol.id, pid)
    return render(
        page,
        page.request,
        "unblind.html",
        status,
        trial=protocol,
        p=view,
        values=values or {},
        errors=errors or {},
        result=result,
    )


@router.get("/trials/{trial}/participants/{pid}/unblind")
def unblind_form(page: SignedIn, trial: str, pid: Pid) -> Response:
    return _unblind_page(page, trial, pid)


@router.post("/trials/{trial}/participants/{pid}/unblind")
async def unblind(page: SignedIn, trial: str, pid: Pid) -> Response:
    form = await form_of(page)
    reason = form.get("reason") if isinstance(form.get("reason"), str) else ""
    password = form.get("password") if isinstance(form.get("password"), str) else ""
    values = {"reason": reason[:5000]}  # the password is never shown again
    protocol = page.ctx.load_protocol(trial)
    throttle = page.request.app.state.login_throttle
    address = page.request.client.host if page.request.client else None
    try:
        result = unblinding.emergency_unblind(page.ctx, page.actor, protocol.id, pid, reason=reason, password=password)
    except OligotrialError as exc:
        if isinstance(exc, BlindingError) and exc.code == "forbidden":
            raise  # the error page (403), as for the form itself
        if (
            exc.code == "reauthentication_failed"
            and throttle.reauth_failed(page.actor.username, address) >= throttle.per_account
        ):
            # too many wrong passwords in this session: it ends (sign in again, which backs off)
            users.end_session(page.ctx, page.session.uid, page.session.sid, dt.timedelta(seconds=ABSOLUTE_S))
            raise SessionEnded("signin") from None
        status = page.request.app.state.page_status_for(exc)
        field = exc.field or "form"  # shown as "<field>: <message>" beside the field
        return _unblind_page(
            page, protocol.id, pid, status, values=values, errors={field: exc.message.removeprefix(f"{field}: ")}
        )
    return _unblind_page(page, protocol.id, pid, values=values, result=result)

"""What every page shares: the templates, the signed-in user, the page-rendering helper and the
route class that turns errors into pages (an error on a page is a page, never the API's JSON).

A page calls the same service functions as the REST API and shows what they return; the
service's role check decides what a role may see, the template never re-derives it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from oligotrial.adapters.web.pages import session as sess
from oligotrial.errors import OligotrialError
from oligotrial.service import users
from oligotrial.service.access import PERMISSIONS
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor

log = logging.getLogger("oligotrial.web")

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


def entity_label(entity_id: str | None, names: dict[str, str]) -> str:
    """An audit row's entity, ``<participant id>/<rest>``, with the participant's own (external)
    id in place of the internal one where ``names`` has it."""
    if not entity_id:
        return ""
    head, sep, rest = str(entity_id).partition("/")
    return f"{names[head]}{sep}{rest}" if head in names else str(entity_id)


templates.env.filters["entity"] = entity_label


def changed_fields(old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """The top-level fields an audit row's change altered, as (field, old, new), in the new
    record's order (a field removed comes last, its new value None): what a reviewer reads
    first, before the whole records."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    keys = list(new) + [k for k in old if k not in new]
    return [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


templates.env.filters["changed_fields"] = changed_fields


def _idle_s(request: Request) -> int:
    return int(getattr(request.app.state, "page_idle_s", sess.IDLE_S))


@dataclass
class Page:
    """The request of a signed-in user: their actor (roles read anew from storage) and session."""

    request: Request
    ctx: ServiceContext
    actor: Actor
    session: sess.Session

    def role(self, trial: str) -> str | None:
        return self.actor.role_in(trial)


def signed_in(request: Request) -> Page:
    """The signed-in user, or :class:`~.session.SessionEnded` (the route class answers with the
    sign-in page)."""
    container = request.app.state.container
    s = sess.decode(container.settings.secret_key, request.cookies.get(sess.COOKIE), idle_s=_idle_s(request))
    try:
        actor = users.actor_for(container.ctx, s.uid, s.pwd, session_id=s.sid)
    except users.AuthenticationError:
        raise sess.SessionEnded("signin") from None
    return Page(request, container.ctx, actor, sess.touch(s))


SignedIn = Annotated[Page, Depends(signed_in)]


async def form_of(page: Page) -> dict[str, Any]:
    """The posted form, after its CSRF token is checked against the session."""
    form = await page.request.form()
    sess.check_csrf(page.session.csrf, form.get("csrf"))
    return {k: v for k, v in form.multi_items() if k != "csrf"}


def trials_of(page: Page) -> list[dict[str, Any]]:
    """The trials the user has a role in, each with the role (and site), for the navigation."""
    out = []
    for p in page.ctx.list_protocols():
        role = page.actor.role_in(p.id)
        if role is not None:
            out.append(
                {
                    "id": p.id,
                    "short_name": p.short_name,
                    "title": p.title,
                    "role": role,
                    "site": page.actor.site_in(p.id),
                    "may": {a: role in PERMISSIONS[a] for a in ("view", "audit_view", "report", "query_view")},
                }
            )
    return out


def render(page: Page | None, request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A template rendered for the request; a signed-in user's session cookie is re-issued with
    the time of this request (the idle timeout counts from it)."""
    context.setdefault("user", None if page is None else page.actor.username)
    context.setdefault("csrf", None if page is None else page.session.csrf)
    context.setdefault("nav_trials", [] if page is None else trials_of(page))
    context.setdefault("may_admin", page is not None and page.actor.role_in("*") in PERMISSIONS["manage_users"])
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if page is not None:
        secret = request.app.state.container.settings.secret_key
        sess.set_cookie(response, request, sess.COOKIE, sess.encode(secret, page.session), sess.ABSOLUTE_S)
    response.headers.update(SECURITY_HEADERS)
    return response


#: every page: not cached (it holds trial data), not framed, scripts and styles only from this
#: server (OWASP Secure Headers Project; CSP Level 3)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _page_for_error(request: Request) -> Page | None:
    try:
        return signed_in(request)
    except Exception:  # noqa: BLE001 - an error page for someone whose session is also gone
        return None


class PageRoute(APIRoute):
    """A page route: a domain error becomes an error page with the API's status code and the
    error's own message (which names the field and what was expected, and never an arm); an
    ended session leads to the sign-in page; a bad CSRF token is 403."""

    def get_route_handler(self):
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            status_for = request.app.state.page_status_for  # the API's error -> status map (pages.mount)
            try:
                return await original(request)
            except sess.SessionEnded as exc:
                target = "/login" + ("?expired=1" if exc.why == "expired" else "")
                # an htmx request would swap the sign-in page into the fragment: ask htmx to
                # load it as the whole page instead
                hx = request.headers.get("HX-Request") == "true"
                response = Response(status_code=204, headers={"HX-Redirect": target}) if hx else redirect(target)
                if exc.why == "expired":
                    sess.clear_cookie(response, request, sess.COOKIE)
                return response
            except sess.CsrfRejected as exc:
                return render(
                    _page_for_error(request),
                    request,
                    "error.html",
                    403,
                    title="Form refused",
                    message=str(exc),
                    field="csrf",
                )
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()))
                return render(
                    _page_for_error(request),
                    request,
                    "error.html",
                    422,
                    title="Request refused",
                    message=f"{where}: {first.get('msg', 'not valid')}",
                    field=where,
                )
            except OligotrialError as exc:
                return render(
                    _page_for_error(request),
                    request,
                    "error.html",
                    status_for(exc),
                    title="Not done",
                    message=exc.message,
                    field=exc.field,
                )

        return handler

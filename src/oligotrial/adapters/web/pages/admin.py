"""The administrator's account pages: the list of accounts with their roles per trial, and the
forms to add a user, grant or revoke a role, deactivate or reactivate an account and reset a
password.

Every form posts to a route that calls :mod:`oligotrial.service.users`, the service that checks
the administrator's role (``manage_users``), refuses a self lock-out and writes the audit
entry; a refusal comes back as the page with the service's message beside the field it names
(nothing stored), a success as the page with a confirmation (post/redirect/get). Another role
gets the service's refusal (403) on every route. No password is ever put back into a form.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query
from starlette.responses import Response

from oligotrial.adapters.web.pages.base import Page, SignedIn, form_of, redirect, render
from oligotrial.adapters.web.pages.views import router
from oligotrial.domain.trial.blinding import ROLES
from oligotrial.errors import BlindingError, OligotrialError
from oligotrial.service import users

#: what each form does, as the confirmation says it (``?done=<form>&username=<name>``)
DONE = {
    "add": "added",
    "grant": "granted the role to",
    "revoke": "revoked the role of",
    "deactivate": "deactivated",
    "activate": "reactivated",
    "password": "reset the password of",
}
#: form fields never put back into a re-shown form
SECRET = frozenset({"password"})
Done = Annotated[str, Query(max_length=16, pattern="^(" + "|".join(DONE) + ")?$")]


def _admin_page(
    page: Page,
    status: int = 200,
    *,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str = "",
    username: str = "",
) -> Response:
    accounts = users.list_users(page.ctx, page.actor)  # the role check: another role gets 403
    history = users.account_history(page.ctx, page.actor)
    trials = [{"id": p.id, "short_name": p.short_name} for p in page.ctx.list_protocols()]
    names = {t["id"]: t["short_name"] for t in trials} | {"*": "all trials"}
    return render(
        page,
        page.request,
        "admin_users.html",
        status,
        accounts=accounts,
        history=history,
        trials=trials,
        names=names,
        roles=ROLES,
        form=form,
        values=values or {},
        errors=errors or {},
        done=DONE.get(done),
        done_user=username,
        me=page.actor.username,
    )


@router.get("/admin/users")
def admin_users(page: SignedIn, done: Done = "", username: Annotated[str, Query(max_length=64)] = "") -> Response:
    return _admin_page(page, done=done, username=username)


def _text(form: dict[str, Any], name: str, limit: int = 200) -> str:
    v = form.get(name)
    return v.strip()[:limit] if isinstance(v, str) else ""


def _site(form: dict[str, Any]) -> str | None:
    return _text(form, "site") or None


async def _submit(page: Page, name: str, action) -> Response:
    """Read the form (CSRF checked), run ``action(values)`` (a service call that returns the
    confirmation key), and answer with the redirect to the confirmation or the page with the
    error beside its field. The administrator's own refusal (403) is the error page."""
    form = await form_of(page)
    values = {k: v.strip()[:1024] for k, v in form.items() if isinstance(v, str) and k not in SECRET}
    try:
        done = action(form)
    except OligotrialError as exc:
        if isinstance(exc, BlindingError) and exc.code == "forbidden":
            raise
        status = page.request.app.state.page_status_for(exc)
        field = exc.field or "form"  # shown as "<field>: <message>" beside the field
        return _admin_page(
            page, status, form=name, values=values, errors={field: exc.message.removeprefix(f"{field}: ")}
        )
    return redirect("/admin/users?" + urlencode({"done": done, "username": values.get("username", "")}))


@router.post("/admin/users/add")
async def add_user(page: SignedIn) -> Response:
    def act(f: dict[str, Any]) -> str:
        users.add_user(
            page.ctx,
            _text(f, "username", 100),
            f.get("password") if isinstance(f.get("password"), str) else "",
            _text(f, "role"),
            _text(f, "trial"),
            actor=page.actor,
            site=_site(f),
        )
        return "add"

    return await _submit(page, "add", act)


@router.post("/admin/users/grant")
async def grant(page: SignedIn) -> Response:
    def act(f: dict[str, Any]) -> str:
        users.grant(page.ctx, page.actor, _text(f, "username", 100), _text(f, "trial"), _text(f, "role"), _site(f))
        return "grant"

    return await _submit(page, "grant", act)


@router.post("/admin/users/revoke")
async def revoke(page: SignedIn) -> Response:
    def act(f: dict[str, Any]) -> str:
        users.revoke(page.ctx, page.actor, _text(f, "username", 100), _text(f, "trial"))
        return "revoke"

    return await _submit(page, "revoke", act)


@router.post("/admin/users/active")
async def set_active(page: SignedIn) -> Response:
    def act(f: dict[str, Any]) -> str:
        given = _text(f, "active")
        active: Any = {"true": True, "false": False}.get(given, given)
        users.set_active(page.ctx, page.actor, _text(f, "username", 100), active)
        return "activate" if active else "deactivate"

    return await _submit(page, "active", act)


@router.post("/admin/users/password")
async def reset_password(page: SignedIn) -> Response:
    def act(f: dict[str, Any]) -> str:
        new = f.get("password")  # the new password
        users.reset_password(page.ctx, page.actor, _text(f, "username", 100), new if isinstance(new, str) else "")
        return "password"

    return await _submit(page, "password", act)

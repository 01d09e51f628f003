"""The FastAPI app factory: routes under ``/api/v1``, OpenAPI at ``/openapi.json``.

Domain errors are translated here, once: the status code comes from the error's family and
code, the body is ``{"code", "message", "field", "errors"?}``. Nothing else escapes: any other
exception is a 500 with a fixed message, never a traceback or a value. Every response, an error
echoing a hostile value included, is rendered by :mod:`.responses`, which cannot fail; request
bodies over ``Settings.max_request_bytes`` are answered 413 (:mod:`.inputs`); failed logins
are throttled (:mod:`.throttle`).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from oligotrial.adapters.web.inputs import BodySizeLimit
from oligotrial.adapters.web.responses import SafeJSONResponse
from oligotrial.adapters.web.throttle import LoginThrottle, LoginThrottled
from oligotrial.domain.kernel.bounds import bound_expectation, shown
from oligotrial.errors import (
    AuditError,
    BlindingError,
    OligotrialError,
    ProtocolError,
    RandomizationError,
    RecordError,
    StorageError,
    WorkflowError,
)

log = logging.getLogger("oligotrial.web")

_BY_CODE = {
    "not_found": 404,
    "protocol_not_found": 404,
    "forbidden": 403,
    "authentication_failed": 401,
    "reauthentication_failed": 403,
    "unavailable": 503,
    "conflict": 409,
    "slot_conflict": 409,
    "value_rejected": 422,
    "too_many_attempts": 429,
}


def status_for(exc: OligotrialError) -> int:
    if exc.code in _BY_CODE:
        return _BY_CODE[exc.code]
    if isinstance(exc, RecordError | AuditError | ProtocolError):
        return 422
    if isinstance(exc, RandomizationError):
        return 422 if (exc.field or "").startswith("strata") else 409
    if isinstance(exc, WorkflowError):
        return 422 if exc.code == "override_required" else 409
    if isinstance(exc, BlindingError):
        return 422 if exc.field == "reason" else 403
    if isinstance(exc, StorageError):
        return 503
    return 422


def create_app(container) -> FastAPI:
    from oligotrial.adapters.web.routes import router

    # the API docs are served by pages.mount from vendored files (no CDN): FastAPI's own are off
    app = FastAPI(
        title="oligotrial",
        version="0.1.0",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        description="Trial operations: participants, screening, concealed randomization, "
        "blinding, follow-up and an append-only audit trail.",
        default_response_class=SafeJSONResponse,
    )
    settings = container.settings
    app.state.container = container
    app.state.login_throttle = LoginThrottle(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window_s=settings.login_window_s,
        backoff_base_s=settings.login_backoff_base_s,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.include_router(router)
    from oligotrial.adapters.web.report_routes import router as report_router

    app.include_router(report_router)
    from oligotrial.adapters.web.query_routes import router as query_router

    app.include_router(query_router)
    from oligotrial.adapters.web.pages import mount as mount_pages

    mount_pages(app, status_for)  # the web interface under /, its files under /static, the API docs at /docs

    @app.exception_handler(OligotrialError)
    async def _domain_error(_request: Request, exc: OligotrialError) -> SafeJSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, LoginThrottled):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return SafeJSONResponse(exc.to_dict(), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> SafeJSONResponse:
        errors = [_request_issue(e) for e in exc.errors()]
        first = errors[0] if errors else {"path": "request", "expected": "a valid request"}
        return SafeJSONResponse(
            {
                "code": "request_invalid",
                "message": f"{first['path']}: {first['expected']}",
                "field": first["path"],
                "errors": errors,
            },
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> SafeJSONResponse:  # pragma: no cover
        log.exception("unexpected error")
        return SafeJSONResponse(
            {"code": "internal_error", "message": "internal error; nothing was saved"}, status_code=500
        )

    return app


def _request_issue(err: dict) -> dict:
    """One request validation error as ``{path, value, expected}``; the record models' marker
    ``@sub.path|value|expected`` (:mod:`oligotrial.domain.kernel.bounds`) extends the path. The
    echoed value is shown escaped and cut (:func:`~oligotrial.domain.kernel.bounds.shown`)."""
    loc = [str(p) for p in err.get("loc", ()) if not str(p).startswith("function-")]
    msg = bound_expectation(err) or str(err.get("msg", ""))
    msg = msg.removeprefix("Value error, ")
    value = shown(err.get("input"))
    if msg.startswith("@") and msg.count("|") >= 2:
        sub, value, msg = msg[1:].split("|", 2)
        loc.append(sub)
    if len(loc) > 1 and loc[0] == "body":  # a body field is named as the record's fields are
        loc = loc[1:]
    return {"path": ".".join(loc) or "request", "value": value, "expected": msg}

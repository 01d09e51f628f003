"""The FastAPI app factory: routes under ``/api/v1``, OpenAPI at ``/openapi.json``.

Domain errors are translated here, once: the status code comes from the error's family and
code, the body is ``{"code", "message", "field", "errors"?}``. Nothing else escapes: any other
exception is a 500 with a fixed message, never a traceback or a value.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from oligotrial.errors import (AuditError, BlindingError, OligotrialError, ProtocolError, RandomizationError,
                               RecordError, StorageError, WorkflowError)

log = logging.getLogger("oligotrial.web")

_BY_CODE = {"not_found": 404, "protocol_not_found": 404, "forbidden": 403, "authentication_failed": 401,
            "reauthentication_failed": 403, "unavailable": 503, "conflict": 409, "slot_conflict": 409,
            "value_rejected": 422}


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

    app = FastAPI(title="oligotrial", version="0.1.0", openapi_url="/openapi.json",
                  description="Trial operations: participants, screening, concealed randomization, "
                              "blinding, follow-up and an append-only audit trail.")
    app.state.container = container
    app.include_router(router)

    @app.exception_handler(OligotrialError)
    async def _domain_error(_request: Request, exc: OligotrialError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(exc.to_dict(), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"path": ".".join(str(p) for p in e["loc"]), "expected": e["msg"]} for e in exc.errors()]
        first = errors[0]["path"] if errors else "request"
        return JSONResponse({"code": "request_invalid", "message": f"{first}: {errors[0]['expected'] if errors else ''}",
                             "field": first, "errors": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover
        log.exception("unexpected error")
        return JSONResponse({"code": "internal_error", "message": "internal error; nothing was saved"},
                            status_code=500)

    return app

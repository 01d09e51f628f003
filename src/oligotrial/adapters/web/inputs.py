"""Input rules every route shares, checked once before any service runs.

- The request body is at most ``Settings.max_request_bytes`` (1 MB by default): a larger one is
  answered 413 before it is read further (:class:`BodySizeLimit`, an ASGI middleware that also
  counts a body sent without ``Content-Length``).
- Every text (path and query parameters, form fields, every string and key of a JSON body) is
  valid, storable Unicode: no lone UTF-16 surrogate and no NUL character (U+0000; PostgreSQL
  cannot store one in a text column, so without this check the same request would be saved on
  SQLite and refused by the database, a 5xx, on PostgreSQL); every JSON number is finite
  (Python's parser reads ``NaN`` and ``Infinity``, which JSON does not have, SQLite stores and
  PostgreSQL refuses); a JSON body nests at most 32 levels. The rules are the record models'
  own (:mod:`oligotrial.domain.kernel.bounds`), applied here to the untyped parts of a body as
  well; the answer is a 422 naming where the value is.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from oligotrial.domain.kernel.bounds import first_problem, text_problem
from oligotrial.errors import RecordError

NUL = "\x00"


def _refuse(where: str, value: str, expected: str) -> RecordError:
    code = "nul_character" if "NUL" in expected else "value_rejected"
    return RecordError(
        f"{where}: {value}: expected {expected}",
        code=code,
        field=where,
        errors=[{"path": where, "value": value, "expected": expected}],
    )


async def check_request_input(request: Request) -> None:
    """Router dependency: refuse (422) any request carrying text that cannot be stored, a
    non-finite number or a too deeply nested body."""
    for source in (request.path_params, request.query_params):
        for name, value in source.items():
            for text in (name, value):
                why = text_problem(text)
                if why:
                    raise _refuse(name if text is value else "query", text.encode("unicode_escape").decode(), why)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/")):
        form = await request.form()  # already parsed and cached by FastAPI for form routes
        for name, value in form.multi_items():
            for text in (name, value if isinstance(value, str) else ""):
                why = text_problem(text)
                if why:
                    raise _refuse(name, "...", why)
        return
    body = await request.body()  # cached: the route parses the same bytes
    if not body:
        return
    try:
        data: Any = await request.json()  # cached by Starlette when the route parsed it
    except Exception:  # noqa: BLE001 - not JSON: the route's own validation answers
        return
    found = first_problem(data, "")
    if found is not None:
        where, value, expected = found
        raise _refuse(where or "body", value, expected)


#: the name the routes used before the rules grew beyond U+0000
reject_nul_characters = check_request_input


class BodySizeLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 (``request_too_large``)
    without reaching a route; the body is read here (at most ``max_bytes`` of it) and replayed."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                chunks = []
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any, size: int) -> None:
        from oligotrial.adapters.web.responses import render_json

        body = render_json(
            {
                "code": "request_too_large",
                "field": "body",
                "message": f"request body: {size} bytes or more; expected at most {self.max_bytes} bytes",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

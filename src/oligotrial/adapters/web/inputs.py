"""Input rules every route shares, checked once before any service runs.

Text never holds a NUL character (U+0000): PostgreSQL cannot store one in a text column, so
without this check the same request would be saved on SQLite and refused by the database
(a 5xx) on PostgreSQL. Path and query parameters, form fields and every string (and key) in a
JSON body are checked; the error names where the character is.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from oligotrial.errors import RecordError

NUL = "\x00"


def _find_nul(obj: Any, path: str) -> str | None:
    if isinstance(obj, str):
        return path if NUL in obj else None
    if isinstance(obj, dict):
        for k, v in obj.items():
            where = f"{path}.{k}" if path else str(k)
            if NUL in str(k):
                return where
            found = _find_nul(v, where)
            if found:
                return found
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _find_nul(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _refuse(where: str) -> RecordError:
    return RecordError(f"{where}: text contains the NUL character U+0000; expected text without it",
                       code="nul_character", field=where,
                       errors=[{"path": where, "expected": "text without the NUL character U+0000"}])


async def reject_nul_characters(request: Request) -> None:
    """Router dependency: refuse (422) any request carrying U+0000 in its text."""
    for source in (request.path_params, request.query_params):
        for name, value in source.items():
            if NUL in name or NUL in value:
                raise _refuse(name)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded") or content_type.startswith("multipart/"):
        form = await request.form()  # already parsed and cached by FastAPI for form routes
        for name, value in form.multi_items():
            if NUL in name or (isinstance(value, str) and NUL in value):
                raise _refuse(name)
        return
    body = await request.body()  # cached: the route parses the same bytes
    if not body or (b"\\u0000" not in body.lower() and b"\x00" not in body):
        return
    try:
        data = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own validation answers
    where = _find_nul(data, "")
    if where is not None:
        raise _refuse(where or "body")

"""The one JSON renderer of every response: it cannot fail on any value.

A response is rendered after its service has committed, so a renderer that fails (a stored or
echoed lone surrogate has no UTF-8 encoding; ``json.dumps`` refuses NaN with ``allow_nan``
off and writes a token that is not JSON with it on; a deep value exhausts the stack) answers
500 for a write that was saved, and answers 500 again to everyone who reads that value later.
This renderer writes valid JSON (RFC 8259) for anything: text is escaped to ASCII when it
cannot be encoded (a lone surrogate becomes the escape ``\\udXXX``, which JSON allows, section
7), a non-finite number becomes the string that names it (``"NaN"``, ``"Infinity"``), a value
nested deeper than :data:`MAX_RENDER_DEPTH` is cut (``"..."``), and anything else that is not
JSON becomes its ``str``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse

MAX_RENDER_DEPTH = 64


def _plain(value: Any, depth: int = 0) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if depth >= MAX_RENDER_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def render_json(content: Any) -> bytes:
    """``content`` as UTF-8 JSON bytes; never raises."""
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        return json.dumps(_plain(content), ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class SafeJSONResponse(JSONResponse):
    """A JSON response rendered by :func:`render_json`."""

    def render(self, content: Any) -> bytes:
        return render_json(content)

"""Helpers shared by CLI modules: JSON output, error exits, today and the protocol library."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import orjson
import typer
from rich.console import Console

from oligotrial.clock import utc_today
from oligotrial.errors import OligotrialError

if TYPE_CHECKING:
    from oligotrial.protocols.library_port import FileProtocolLibrary

console = Console()
err_console = Console(stderr=True)


_ORJSON = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


def json_text(data: Any) -> str:
    """``data`` as JSON indented by 2, UTF-8 characters as they are, other types by ``str``.

    Written by orjson: the standard library's encoder falls back to pure Python whenever
    ``indent`` is set, and that was most of the time of ``oligotrial screen --json`` on a
    directory. For the types our documents hold the text is the same as
    ``json.dumps(data, indent=2, ensure_ascii=False, default=str)`` plus a newline; it differs
    only where the standard library wrote something that is not a JSON number: a value that is
    not finite is ``null`` (RFC 8259 has no ``NaN``), a numpy integer a number, not a string.
    What orjson cannot write (an integer over 64 bits) goes through the standard library."""
    try:
        return orjson.dumps(data, default=str, option=_ORJSON).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data))


def fail(exc: OligotrialError | str, code: int = 2) -> NoReturn:
    message = exc.message if isinstance(exc, OligotrialError) else str(exc)
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    if isinstance(exc, OligotrialError) and getattr(exc, "errors", None):
        for e in getattr(exc, "errors", None) or []:
            err_console.print(
                f"  - {e['path'] or 'record'} = {e['value']!r}: expected {e['expected']}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    raise typer.Exit(code)


def today() -> dt.date:
    """The command line's today: the one clock's date (UTC, :mod:`oligotrial.clock`), as the server's."""
    return utc_today()


def protocol_library(extra_dirs: list[Any] | None = None) -> FileProtocolLibrary:
    """The protocol library (and ``extra_dirs``): a command asks it for the version in force on
    :func:`today`, as the service asks for the version in force on its clock's date."""
    from oligotrial.protocols.library_port import FileProtocolLibrary

    return FileProtocolLibrary(extra_dirs)

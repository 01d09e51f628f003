"""Helpers shared by CLI modules: JSON output, error exits."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from oligotrial.errors import OligotrialError

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(exc: OligotrialError | str, code: int = 2) -> NoReturn:
    message = exc.message if isinstance(exc, OligotrialError) else str(exc)
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    if isinstance(exc, OligotrialError) and getattr(exc, "errors", None):
        for e in exc.errors:
            err_console.print(f"  - {e['path'] or 'record'} = {e['value']!r}: expected {e['expected']}",
                              highlight=False, soft_wrap=True, markup=False)
    raise typer.Exit(code)

"""Shared by the operations CLI modules: build the container, map errors to exit codes."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from oligotrial.errors import OligotrialError


def container_or_exit(migrate: bool | None = None):
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings

    try:
        return bootstrap(Settings(), migrate=migrate)
    except ValidationError as exc:
        first = exc.errors()[0]
        typer.echo(f"error: settings: {'.'.join(str(x) for x in first['loc']) or 'settings'}: {first['msg']}", err=True)
        raise typer.Exit(2) from None
    except OligotrialError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None


def fail(exc: OligotrialError, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(code)

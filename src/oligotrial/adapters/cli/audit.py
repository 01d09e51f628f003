"""``oligotrial audit``: verify the hash-chained, append-only audit trail."""

from __future__ import annotations

import json

import typer

NAME = "audit"
HELP = "Audit trail: verify the hash chain."
app = typer.Typer(no_args_is_help=True)


@app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Recompute the chain; exit 1 and list any altered, removed or inserted entry."""
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import audit

    c = container_or_exit()
    try:
        rep = audit.verify(c.ctx)
    finally:
        c.dispose()
    if as_json:
        typer.echo(json.dumps(rep.to_dict()))
    elif rep.ok:
        typer.echo(f"audit chain intact: {rep.checked} entries, last seq {rep.last_seq}")
    else:
        typer.echo(f"audit chain BROKEN: altered {rep.altered}, removed {rep.removed}, inserted {rep.inserted}")
    raise typer.Exit(0 if rep.ok else 1)

"""``oligotrial audit``: verify the keyed, hash-chained, append-only audit trail against its
signed checkpoints, and write a checkpoint."""

from __future__ import annotations

import json

import typer

from oligotrial.errors import OligotrialError

NAME = "audit"
HELP = "Audit trail: verify the chain against its signed checkpoints; checkpoint it."
app = typer.Typer(no_args_is_help=True)


@app.command("verify")
def verify(as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Recompute the chain (keyed digests), hold it against every signed checkpoint and every
    allocation against its entry; exit 1 and list what differs."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import audit

    c = container_or_exit()
    try:
        rep = audit.verify(c.ctx)
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    if as_json:
        typer.echo(json.dumps(rep.to_dict()))
    elif rep.ok:
        cp = "no checkpoint yet" if rep.checkpoint_seq is None else f"checkpoint at seq {rep.checkpoint_seq} matches"
        typer.echo(f"audit chain intact: {rep.checked} entries, last seq {rep.last_seq}; {cp}")
        for line in rep.notes:
            typer.echo(f"  {line}")
    else:
        typer.echo(
            f"audit chain BROKEN: altered {rep.altered}, removed {rep.removed}, inserted {rep.inserted}, "
            f"replayed {rep.replayed}"
        )
        for line in rep.checkpoint_problems + rep.format_problems + rep.allocation_problems:
            typer.echo(f"  {line}")
        if rep.altered and rep.keyed_from is not None:
            where = getattr(c.ctx.anchor, "dir", None)
            typer.echo(
                f"  (keyed entries verify only with the key that wrote them; the key used: "
                f"{where or 'the configured anchor'}, OLIGOTRIAL_AUDIT_KEY_DIR)"
            )
    raise typer.Exit(0 if rep.ok else 1)


@app.command("checkpoint")
def checkpoint() -> None:
    """Verify the entries since the last checkpoint and sign the chain's head (seq, hash) into
    the checkpoint log outside the database."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import audit

    c = container_or_exit()
    try:
        cp = audit.checkpoint(c.ctx)
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    typer.echo(f"checkpoint: seq {cp['seq']} hash {cp['hash']} ({cp['at']})")

"""``oligotrial randomization``: generate and verify a trial's concealed list."""

from __future__ import annotations

import typer

from oligotrial.errors import OligotrialError

NAME = "randomization"
HELP = "Concealed randomization lists: generate (commit) and verify."
app = typer.Typer(no_args_is_help=True)


@app.command("generate")
def generate(trial: str = typer.Option(..., "--trial", help="NCT id or short name"),
             method: str = typer.Option("permuted_blocks", help="permuted_blocks or minimization"),
             size: int = typer.Option(None, help="slots per stratum (default: planned enrolment)"),
             seed: int = typer.Option(None, help="seed (default: 63 random bits); stored encrypted"),
             sites: str = typer.Option(None, help="stratify by site too: the trial's site codes, comma-separated")) -> None:
    """Generate the list for every stratum, encrypt it, store it and print its SHA-256
    commitment (publish it: the trial is live from now on)."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import randomization

    c = container_or_exit()
    try:
        out = randomization.generate_list(c.ctx, trial, method=method, size_per_stratum=size, seed=seed,
                                          sites=[s for s in sites.split(",") if s.strip()] if sites else None)
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    typer.echo(f"{out['trial']}: {out['method']}, {out['slots']} slots in {out['strata']} strata; "
               f"commitment sha256:{out['commitment']}")


@app.command("verify")
def verify(trial: str = typer.Option(..., "--trial")) -> None:
    """Decrypt the stored list, check it against its commitment, and check every allocation
    against the list (its slot, the slot's participant and arm); exit 1 on any difference."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import randomization

    c = container_or_exit()
    try:
        rep = randomization.verify_list(c.ctx, trial)
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    typer.echo("commitment matches" if rep["commitment_matches"]
               else "commitment MISMATCH: the stored list was changed")
    if rep["problems"]:
        typer.echo(f"allocations DO NOT MATCH the list ({len(rep['problems'])}):")
        for line in rep["problems"]:
            typer.echo(f"  {line}")
    else:
        typer.echo(f"{rep['allocations_checked']} allocations match the list")
    raise typer.Exit(0 if rep["ok"] else 1)

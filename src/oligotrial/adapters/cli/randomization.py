"""``oligotrial randomization``: generate and verify a trial's concealed list."""

from __future__ import annotations

import typer

from oligotrial.errors import OligotrialError

NAME = "randomization"
HELP = "Concealed randomization lists: generate (commit) and verify."
app = typer.Typer(no_args_is_help=True)


@app.command("generate")
def generate(
    trial: str = typer.Option(..., "--trial", help="NCT id or short name"),
    method: str = typer.Option("permuted_blocks", help="permuted_blocks or minimization"),
    size: int = typer.Option(None, help="slots per stratum (default: planned enrolment)"),
    seed: int = typer.Option(None, help="seed (default: 63 random bits); stored encrypted"),
    sites: str = typer.Option(None, help="stratify by site too: the trial's site codes, comma-separated"),
) -> None:
    """Generate the list for every stratum, encrypt it, store it and print its SHA-256
    commitment (publish it: the trial is live from now on)."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import randomization

    c = container_or_exit()
    try:
        out = randomization.generate_list(
            c.ctx,
            trial,
            method=method,
            size_per_stratum=size,
            seed=seed,
            sites=[s for s in sites.split(",") if s.strip()] if sites else None,
        )
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    typer.echo(
        f"{out['trial']}: {out['method']}, {out['slots']} slots in {out['strata']} strata; "
        f"commitment {out['commitment']} (HMAC-SHA256 under a secret salt, opened at unblinding by "
        "`randomization reveal`)"
    )


@app.command("reveal")
def reveal(
    trial: str = typer.Option(..., "--trial"),
    out: str = typer.Option(..., "--out", help="file to write the opened list to (JSON)"),
) -> None:
    """Open the list for verification at the trial's unblinding: write its seed, the commitment's
    salt and every slot (oligotrial.randomization-reveal/1), from which anyone can recompute the
    published commitment with `randomization verify --revealed FILE`. Needs the allocation key;
    audited. Never hand this file to anyone the trial still blinds."""
    import json
    from pathlib import Path

    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import randomization

    c = container_or_exit()
    try:
        doc = randomization.reveal(c.ctx, trial)
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")
    typer.echo(f"{doc['trial']}: {len(doc['slots'])} slots, seed and salt written to {out}")


@app.command("verify")
def verify(
    trial: str = typer.Option(None, "--trial"),
    revealed: str = typer.Option(
        None, "--revealed", help="a revealed list (randomization reveal): recompute its commitment without any key"
    ),
) -> None:
    """Decrypt the stored list, check it against its commitment, and check every allocation
    against the list (its slot, the slot's participant and arm); exit 1 on any difference.
    With --revealed FILE, check a revealed list against the commitment it names (no database,
    no key: anyone's check once the list is revealed)."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import randomization

    if revealed is not None:
        import json
        from pathlib import Path

        try:
            ok = randomization.verify_revealed(json.loads(Path(revealed).read_text()))
        except (OSError, ValueError) as exc:
            typer.echo(f"--revealed {revealed}: {exc}", err=True)
            raise typer.Exit(1) from None
        except OligotrialError as exc:
            fail(exc, 1)
        typer.echo(
            "commitment matches the revealed list"
            if ok
            else "commitment MISMATCH: the revealed list is not the committed one"
        )
        raise typer.Exit(0 if ok else 1)
    if trial is None:
        typer.echo("--trial: expected a trial (or --revealed FILE)", err=True)
        raise typer.Exit(2)
    c = container_or_exit()
    try:
        rep = randomization.verify_list(c.ctx, trial)
    except OligotrialError as exc:
        fail(exc, 1)
    finally:
        c.dispose()
    typer.echo(
        "commitment matches" if rep["commitment_matches"] else "commitment MISMATCH: the stored list was changed"
    )
    if rep["problems"]:
        typer.echo(f"allocations DO NOT MATCH the list ({len(rep['problems'])}):")
        for line in rep["problems"]:
            typer.echo(f"  {line}")
    else:
        typer.echo(f"{rep['allocations_checked']} allocations match the list")
    raise typer.Exit(0 if rep["ok"] else 1)

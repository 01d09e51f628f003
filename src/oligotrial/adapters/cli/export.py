"""``oligotrial export``: the analysis datasets (CDISC ADaM ADTTE, ADRS-style) of a trial, from the
database in ``OLIGOTRIAL_DATABASE_URL``. Run by whoever operates the server: unblinded (blinded
roles get the datasets through the API, without the arm)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

NAME = "export"
HELP = "Analysis datasets: ADTTE (time-to-event) and ADRS (response) as CSV."
app = typer.Typer(no_args_is_help=True)


def _write(dataset: str, trial: str, out: Path) -> None:
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.errors import OligotrialError
    from oligotrial.service import endpoints

    c = container_or_exit()
    rows = 0
    try:
        lines, _with_arm = endpoints.export(c.ctx, None, trial, dataset)
        tmp = out.with_name(out.name + ".part")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line)
                rows += 1
        tmp.replace(out)  # a reader never sees half a dataset
    except OligotrialError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        c.dispose()
    typer.echo(f"{dataset}: {rows - 1} rows written to {out}")


@app.command("adtte")
def adtte(
    trial: Annotated[str, typer.Option(help="NCT id or short name")],
    out: Annotated[Path, typer.Option(help="CSV file to write")],
) -> None:
    """One row per participant and time-to-event endpoint (STUDYID, USUBJID, ARM, PARAMCD, STARTDT,
    ADT, AVAL, CNSR, EVNTDESC), ordered by USUBJID then PARAMCD."""
    _write("adtte", trial, out)


@app.command("adrs")
def adrs(
    trial: Annotated[str, typer.Option(help="NCT id or short name")],
    out: Annotated[Path, typer.Option(help="CSV file to write")],
) -> None:
    """The overall response at each time point (OVRLRESP) and the best overall response (BOR) per
    participant, by the protocol's response criteria."""
    _write("adrs", trial, out)

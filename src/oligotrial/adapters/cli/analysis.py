"""``oligotrial analysis``: analyses of trial data files.

``analysis survival`` reads a CSV file, calls :func:`oligotrial.stats.analyse_survival` and prints
the ``oligotrial.survival-analysis/1`` document (``--json``) or a readable table; ``--plot`` draws
the Kaplan-Meier curves (:func:`oligotrial.adapters.io.km_plot.plot_kaplan_meier`). A bad row,
column or option exits 2 with the error's message (which names the data row and column) and
prints no result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oligotrial.errors import OligotrialError

NAME = "analysis"
HELP = "Analyses of trial data: survival (Kaplan-Meier, log-rank, Cox) as R's survival package computes them."

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _group() -> None:
    """Analyses of trial data files."""


def _fail(message: str, code: str = "analysis_invalid") -> None:
    typer.echo(f"error [{code}]: {message}", err=True)
    raise typer.Exit(code=2)


def _times(text: str | None) -> list[float]:
    if not text:
        return []
    out = []
    for part in text.split(","):
        try:
            out.append(float(part))
        except ValueError:
            _fail(f"--at {text!r}: {part.strip()!r} is not a number; expected times separated by commas, e.g. 6,12,24")
    return out


def _num(x: float | None, digits: int = 4, none: str = "NR") -> str:
    return none if x is None else f"{x:.{digits}g}"


def _p2(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _show(doc: dict, at: list[float], time_unit: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        title="Survival by group (Kaplan-Meier; 95% CI, log transform)"
        if doc["conf_type"] == "log"
        else f"Survival by group (Kaplan-Meier; 95% CI, {doc['conf_type']} transform)"
    )
    for col in ("group", "n", "events", "median (95% CI)"):
        table.add_column(col, justify="left" if col == "group" else "right", overflow="fold")
    for t in sorted(at):
        table.add_column(f"S({t:g})", justify="right", overflow="fold")
    rmst = any(g["rmst"] for g in doc["groups"])
    if rmst:
        table.add_column(f"RMST to {doc['groups'][0]['rmst']['tau']:g} (SE)", justify="right")
    for g in doc["groups"]:
        m = g["median"]
        row = [
            g["group"],
            str(g["n"]),
            str(g["events"]),
            f"{_num(m['estimate'])}\n({_num(m['lower'])}-{_num(m['upper'])})",
        ]
        row += [
            f"{s['estimate']:.3f}\n"
            + ("(-)" if s["lower"] is None and s["upper"] is None else f"({_p2(s['lower'])}-{_p2(s['upper'])})")
            for s in g["survival_at"]
        ]
        if rmst:
            row.append(f"{g['rmst']['estimate']:.4g}\n({g['rmst']['se']:.3g})")
        table.add_row(*row)
    console.print(table)
    console.print(f"Times in {time_unit}. NR: not reached; -: undefined (S = 0).", style="dim")
    for key, label in (("logrank", "Log-rank"), ("stratified_logrank", "Stratified log-rank")):
        lr = doc[key]
        if lr is not None and lr["chisq"] is None:
            console.print(f"{label}: {lr.get('note') or 'not defined'}", style="yellow")
        elif lr is not None:
            console.print(f"{label}: chi-square {lr['chisq']:.4f} on {lr['df']} df, p = {lr['p']:.4g}")
    fu = doc.get("median_follow_up")
    if fu is not None:
        console.print(
            f"Median follow-up (reverse Kaplan-Meier, all rows): {_num(fu['estimate'])} "
            f"({_num(fu['lower'])}-{_num(fu['upper'])}) {time_unit}"
        )
    cox = doc["cox"]
    if cox is not None:
        strat = f", stratified by {cox['stratified_by']}" if cox["stratified_by"] else ""
        ct = Table(title=f"Cox model (Efron ties{strat}): hazard ratio against {cox['reference']}")
        for col in ("group", "hazard ratio", "95% CI", "p (Wald)"):
            ct.add_column(col, justify="left" if col == "group" else "right")
        for t in cox["terms"]:
            if t["hazard_ratio"] is None:
                ct.add_row(t["group"], "-", "-", "-")
            else:
                ct.add_row(
                    t["group"], f"{t['hazard_ratio']:.4g}", f"{t['lower']:.4g}-{t['upper']:.4g}", f"{t['p']:.4g}"
                )
        console.print(ct)
        if cox.get("note"):
            console.print(cox["note"], style="yellow")


@app.command("survival")
def survival(
    data: Annotated[Path, typer.Argument(help="CSV file with a header row, one row per participant.")],
    time: Annotated[str, typer.Option("--time", help="Column of follow-up times (numbers >= 0, one unit).")],
    event: Annotated[str, typer.Option("--event", help="Column: 1 event, 0 censored.")],
    group: Annotated[str, typer.Option("--group", help="Column of group labels (strings).")],
    strata: Annotated[
        str | None, typer.Option("--strata", help="Column of strata: stratified log-rank and stratified Cox.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Times at which survival is reported, separated by commas (e.g. 6,12,24)."),
    ] = None,
    tau: Annotated[float | None, typer.Option("--tau", help="Horizon of the restricted mean survival time.")] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Comparator group (default: the first label in sorted order).")
    ] = None,
    conf_type: Annotated[str, typer.Option("--conf-type", help="CI transform: log (R's default) or log-log.")] = "log",
    as_json: Annotated[bool, typer.Option("--json", help="Print the oligotrial.survival-analysis/1 document.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Draw Kaplan-Meier curves to this PNG file.")] = None,
    time_unit: Annotated[
        str, typer.Option("--time-unit", help="Unit of the times, for the table and the plot.")
    ] = "months",
) -> None:
    """Kaplan-Meier medians, survival at times, RMST, log-rank and Cox (equal to R survival)."""
    from oligotrial.stats.survival import analyse_survival, read_survival_csv

    at_list = _times(at)
    try:
        rows = read_survival_csv(data, time=time, event=event, group=group, strata=strata)
        doc = analyse_survival(
            rows.time,
            rows.event,
            rows.group,
            strata=rows.strata,
            at=at_list,
            tau=tau,
            reference=reference,
            conf_type=conf_type,
            strata_name=strata or "strata",
        )
    except OligotrialError as err:
        _fail(err.message, err.code)
        return
    if plot is not None:
        from oligotrial.adapters.io.km_plot import plot_kaplan_meier

        plot_kaplan_meier(rows.time, rows.event, rows.group, plot, reference=reference, time_unit=time_unit)
    if as_json:
        from oligotrial.adapters.cli._common import print_json

        print_json(doc)
        return
    _show(doc, at_list, time_unit)
    if plot is not None:
        typer.echo(f"Kaplan-Meier plot: {plot}")

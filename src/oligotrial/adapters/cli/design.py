"""``oligotrial design``: sample size, Simon two-stage designs, trial simulation, design reports.

Thin entry points: each command parses options, calls one function in
:mod:`oligotrial.stats`, and maps :class:`~oligotrial.errors.DesignError` to exit code 2 with
the error's message (which names the field, the value and what was expected).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oligotrial.errors import DesignError, OligotrialError

NAME = "design"
HELP = (
    "Trial design: sample size (rpact-equivalent), Simon two-stage designs, Monte-Carlo "
    "trial simulation and per-trial design reports."
)

app = typer.Typer(name=NAME, help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(err: OligotrialError) -> None:
    typer.echo(f"error [{err.code}]: {err.message}", err=True)
    raise typer.Exit(code=2)


def _emit(payload: dict, as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=float))
        return
    table = Table(title=title, show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in payload.items():
        if isinstance(value, dict):
            continue
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(key, shown)
    Console().print(table)


@app.command("sample-size")
def sample_size(
    hazard_ratio: Annotated[float, typer.Option("--hazard-ratio", help="Experimental:control HR.")],
    alpha: Annotated[float, typer.Option("--alpha", help="Total type I error.")] = 0.025,
    sided: Annotated[int, typer.Option("--sided", help="1 or 2.")] = 1,
    power: Annotated[float, typer.Option("--power")] = 0.8,
    median_control_months: Annotated[float, typer.Option("--median-control-months")] = 6.0,
    accrual_months: Annotated[float, typer.Option("--accrual-months")] = 24.0,
    follow_up_months: Annotated[float, typer.Option("--follow-up-months")] = 12.0,
    dropout_rate: Annotated[
        float, typer.Option("--dropout-rate", help="Probability of dropout by --dropout-time-months (both arms).")
    ] = 0.0,
    dropout_time_months: Annotated[float, typer.Option("--dropout-time-months")] = 12.0,
    allocation_ratio: Annotated[
        float, typer.Option("--allocation-ratio", help="Experimental:control allocation.")
    ] = 1.0,
    method: Annotated[str, typer.Option("--method", help="schoenfeld or freedman.")] = "schoenfeld",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Events and subjects for a fixed two-arm log-rank design (equals rpact getSampleSizeSurvival)."""
    from oligotrial.stats.sample_size import SurvivalDesign, sample_size_survival

    try:
        design = SurvivalDesign(
            hazard_ratio=hazard_ratio,
            alpha=alpha,
            sided=sided,
            power=power,
            median_control_months=median_control_months,
            accrual_months=accrual_months,
            follow_up_months=follow_up_months,
            dropout_rate_experimental=dropout_rate,
            dropout_rate_control=dropout_rate,
            dropout_time_months=dropout_time_months,
            allocation_ratio=allocation_ratio,
            method=method.lower(),
        )
        result = sample_size_survival(design)
    except DesignError as err:
        _fail(err)
        return
    payload = {
        "events": result.events,
        "subjects": result.subjects,
        "events_ceil": result.events_ceil,
        "subjects_ceil": result.subjects_ceil,
        "subjects_experimental": result.subjects_experimental,
        "subjects_control": result.subjects_control,
        "event_probability_experimental": result.event_probability_experimental,
        "event_probability_control": result.event_probability_control,
        "analysis_time_months": result.analysis_time_months,
        "method": design.method,
    }
    _emit(payload, as_json, "Survival sample size")


@app.command("simon")
def simon(
    p0: Annotated[float, typer.Option("--p0", help="Uninteresting response rate (H0).")],
    p1: Annotated[float, typer.Option("--p1", help="Target response rate (H1).")],
    alpha: Annotated[float, typer.Option("--alpha", help="One-sided type I error.")] = 0.05,
    power: Annotated[float, typer.Option("--power")] = 0.8,
    kind: Annotated[str, typer.Option("--kind", help="optimal, minimax or single-stage.")] = "optimal",
    n_max: Annotated[int | None, typer.Option("--n-max")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Simon's optimal/minimax two-stage design, or the exact single-stage design."""
    from oligotrial.stats.simon import simon_two_stage, single_stage_binomial

    try:
        if kind == "single-stage":
            payload = single_stage_binomial(p0, p1, alpha, power).to_dict()
        else:
            payload = simon_two_stage(p0, p1, alpha, power, kind=kind, n_max=n_max).to_dict()
    except DesignError as err:
        _fail(err)
        return
    _emit(payload, as_json, f"Single-arm design ({kind})")


@app.command("simulate")
def simulate(
    n_subjects: Annotated[int, typer.Option("--n-subjects")],
    hazard_ratio: Annotated[float, typer.Option("--hazard-ratio")],
    median_control_months: Annotated[float, typer.Option("--median-control-months")],
    accrual_months: Annotated[float, typer.Option("--accrual-months")],
    events: Annotated[int | None, typer.Option("--events", help="Analyse at this many events.")] = None,
    analysis_time_months: Annotated[
        float | None, typer.Option("--analysis-time-months", help="Analyse at this calendar time instead.")
    ] = None,
    weibull_shape: Annotated[float, typer.Option("--weibull-shape", help="1 = exponential.")] = 1.0,
    allocation_ratio: Annotated[float, typer.Option("--allocation-ratio")] = 1.0,
    dropout_rate: Annotated[float, typer.Option("--dropout-rate")] = 0.0,
    dropout_time_months: Annotated[float, typer.Option("--dropout-time-months")] = 12.0,
    alpha: Annotated[float, typer.Option("--alpha")] = 0.025,
    sided: Annotated[int, typer.Option("--sided")] = 1,
    trials: Annotated[int, typer.Option("--trials")] = 10000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    backend: Annotated[str, typer.Option("--backend", help="auto, numba, numpy or cupy.")] = "auto",
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Monte-Carlo power (or type I error at HR 1) with its Monte-Carlo standard error."""
    import numpy as np

    from oligotrial.stats.simulate import TrialScenario, simulate_trials

    try:
        scenario = TrialScenario.proportional_hazards(
            n_subjects=n_subjects,
            median_control_months=median_control_months,
            hazard_ratio=hazard_ratio,
            accrual_months=accrual_months,
            shape=weibull_shape,
            events_target=events,
            analysis_time_months=analysis_time_months,
            allocation_ratio=allocation_ratio,
            dropout_rate_experimental=dropout_rate,
            dropout_rate_control=dropout_rate,
            dropout_time_months=dropout_time_months,
            alpha=alpha,
            sided=sided,
        )
        result = simulate_trials(
            scenario, trials, rng=np.random.default_rng(seed), backend=backend, progress=progress and not as_json
        )
    except DesignError as err:
        _fail(err)
        return
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    flat = {k: v for k, v in summary.items() if not isinstance(v, dict)}
    for key in ("duration_months", "events"):
        for stat in ("mean", "q05", "q50", "q95"):
            flat[f"{key}_{stat}"] = summary[key][stat]
    _emit(flat, False, "Simulated trials")


@app.command("report")
def report(
    trial: Annotated[str, typer.Option("--trial", help="NCT id of a seed trial, or 'all'.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for report.md/json and PNGs.")] = Path("design-report"),
    simulate_trials_per_point: Annotated[
        int, typer.Option("--sim-trials", help="Simulated trials per HR on the power curve (0: analytic only).")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 20240101,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Assumptions, implied sample size vs registered enrolment, and power curves (PNG)."""
    from oligotrial.stats.report import build_reports, known_trials

    try:
        ids = known_trials() if trial == "all" else [trial]
        reports = build_reports(ids, out, sim_trials=simulate_trials_per_point, seed=seed)
    except DesignError as err:
        _fail(err)
        return
    if as_json:
        typer.echo(json.dumps([r["summary"] for r in reports], indent=2))
        return
    console = Console()
    for r in reports:
        s = r["summary"]
        table = Table(title=f"{s['trial_id']} {s['short_name']}")
        table.add_column("quantity")
        table.add_column("value", justify="right")
        table.add_column("source")
        for row in s["rows"]:
            table.add_row(row["label"], str(row["value"]), row["source"])
        console.print(table)
    console.print(f"written to {out}")

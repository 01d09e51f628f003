"""``oligotrial assess``, ``classify`` and ``endpoints``: parse, call one service, print.

Exit codes: 0 success; 2 bad input (unreadable file, invalid record, data that cannot be
assessed, unknown trial).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oligotrial.errors import OligotrialError

console = Console()
err_console = Console(stderr=True)


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def _load(path: Path):
    from oligotrial.adapters.cli._common import today
    from oligotrial.domain.record.patient import parse_patient

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"{path}: cannot be read ({exc.strerror})")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any decode failure is bad input
        _fail(f"{path}: not valid JSON/YAML ({exc})")
    return parse_patient(data, today=today())


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"--{name} {value!r}: expected a date YYYY-MM-DD")
    return None


def _run(fn):
    try:
        return fn()
    except OligotrialError as exc:
        details = getattr(exc, "errors", None) or []
        msg = exc.message + "".join(f"\n  {e['path']}: {e['value']!r}: expected {e['expected']}" for e in details[1:])
        _fail(msg)


def _print_json(doc: dict[str, Any]) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def assess(
    patient: Annotated[Path, typer.Argument(help="patient record (oligotrial.patient/1, JSON or YAML)")],
    criteria: Annotated[str, typer.Option(help="recist1.1 or irecist")] = "recist1.1",
    baseline: Annotated[str | None, typer.Option(help="baseline assessment date (default: the first)")] = None,
    start: Annotated[str | None, typer.Option(help="treatment/randomization start (SD minimum, confirmation)")] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="confirmed best response (RECIST 1.1 s.4.6)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print oligotrial.assessment/1 JSON")] = False,
    plot: Annotated[Path | None, typer.Option(help="write a spider plot PNG here")] = None,
) -> None:
    """Tumour response at every imaging time point and the best overall response."""
    from oligotrial.service.assessment import assess_patient

    if criteria not in ("recist1.1", "irecist"):
        _fail(f"--criteria {criteria!r}: expected recist1.1 or irecist")
    b, s = _date(baseline, "baseline"), _date(start, "start")
    record = _run(lambda: _load(patient))
    out = _run(lambda: assess_patient(record, criteria=criteria, baseline=b, start=s, confirm=confirm))
    doc = out.document
    if plot is not None:
        from oligotrial.adapters.io.plots import lesion_series, spider_plot

        spider_plot(doc, plot, series=_run(lambda: lesion_series(record, doc)))
    if as_json:
        _print_json(doc)
        return
    console.print(
        f"[bold]{doc['patient']}[/] {doc['criteria']}  baseline {doc['baseline']}  "
        f"targets {', '.join(doc['targets']) or '-'}  non-targets {', '.join(doc['non_targets']) or '-'}"
    )
    table = Table(show_lines=False)
    for col in ("date", "sum mm", "vs baseline %", "vs nadir mm", "target", "non-target", "new", "overall"):
        table.add_column(col)
    for tp in doc["timepoints"]:
        table.add_row(
            tp["date"],
            _f(tp["target_sum_mm"]),
            _f(tp["change_from_baseline_pct"]),
            _f(tp["change_from_nadir_mm"]),
            tp["target"] or "-",
            tp["non_target"] or "-",
            "yes" if tp["new_lesions"] else "no",
            f"[bold]{tp['overall']}[/]",
        )
    console.print(table)
    console.print(
        f"best overall response: [bold]{doc['best_overall_response']}[/]"
        f"{' (confirmed)' if confirm else ''}; first progression: {doc['first_progression'] or '-'}"
    )
    for note in doc["notes"]:
        console.print(f"  note: {note}", highlight=False)
    if plot is not None:
        console.print(f"plot written to {plot}")


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:g}"


def classify(
    patient: Annotated[Path, typer.Argument(help="patient record")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """ESTRO-EORTC oligometastatic state (Guckenberger 2020) from the record's history."""
    from oligotrial.service.assessment import classify_patient

    doc = _run(lambda: classify_patient(_load(patient)))
    if as_json:
        _print_json(doc)
        return
    console.print(f"[bold]{doc['patient']}[/]: [bold]{doc['state']}[/] (branch {doc['branch'] or '-'})")
    for r in doc["reasons"]:
        console.print(f"  - {r}", highlight=False)
    if doc["missing"]:
        console.print("  missing: " + ", ".join(doc["missing"]), highlight=False)
    console.print("  inputs: " + ", ".join(f"{k}={v}" for k, v in doc["inputs_used"].items()), highlight=False)
    for n in doc["notes"]:
        console.print(f"  note: {n}", highlight=False)


def endpoints(
    patient: Annotated[Path, typer.Argument(help="patient record")],
    trial: Annotated[str, typer.Option(help="protocol id or short name")],
    start: Annotated[
        str | None, typer.Option(help="origin: randomization date (enrolment in a single-arm trial)")
    ] = None,
    arm: Annotated[
        str | None,
        typer.Option(
            help="the allocated arm: decides which therapy is protocol-directed "
            "(without it, therapy an arm directs is treated as protocol therapy)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every endpoint of a trial derived for one patient, with the reason for each event or censoring."""
    from oligotrial.adapters.cli._common import protocol_library, today
    from oligotrial.service.assessment import derive_endpoints

    s = _date(start, "start")
    doc = _run(lambda: derive_endpoints(_load(patient), protocol_library().get(trial, on=today()), start=s, arm=arm))
    if as_json:
        _print_json(doc)
        return
    console.print(
        f"[bold]{doc['patient']}[/] on {doc['trial']}: origin {doc['origin']} ({doc['origin_kind']}), "
        f"response baseline {doc['response_baseline'] or 'none'}"
    )
    table = Table()
    for col in ("endpoint", "result", "date / value", "days", "reason"):
        table.add_column(col)
    for e in doc["endpoints"]:
        if e["kind"] == "time_to_event":
            table.add_row(e["endpoint"], "event" if e["event"] else "censored", e["date"], str(e["days"]), e["reason"])
        elif e["kind"] == "proportion":
            table.add_row(
                e["endpoint"],
                {True: "yes", False: "no", None: "unknown"}[e["value"]],
                e["best_overall_response"] or "-",
                "",
                e["reason"],
            )
        else:
            for les in e["lesions"]:
                table.add_row(
                    f"{e['endpoint']} {les['lesion']}",
                    "event" if les["event"] else "censored",
                    les["date"],
                    str(les["days"]),
                    les["reason"],
                )
            if not e["lesions"]:
                table.add_row(e["endpoint"], "-", "", "", e["reason"])
    console.print(table)
    for n in doc["notes"]:
        console.print(f"  note: {n}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``assess``, ``classify`` and ``endpoints`` as top-level commands."""
    app.command("assess")(assess)
    app.command("classify")(classify)
    app.command("endpoints")(endpoints)

"""``oligotrial screen``: which of my patients can enter which trial, and why not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oligotrial.adapters.cli._common import console, err_console, fail, print_json
from oligotrial.adapters.io.records import example_paths, expand_paths, read_record
from oligotrial.errors import OligotrialError, ProtocolError
from oligotrial.protocols import list_protocols, load_protocol
from oligotrial.service.batch import batch_gc
from oligotrial.service.screening import screen_record

_STYLE = {"eligible": "bold green", "ineligible": "bold red", "needs_review": "bold yellow"}


def _disease_summary(ds: dict) -> str:
    parts = [ds["definition"]]
    key = "residual_lesions" if "residual_lesions" in ds else ("lesions_present" if "lesions_present" in ds else "progressing_lesions")
    lesions = ds.get(key) or []
    parts.append(f"{key.replace('_', ' ')}: {', '.join(lesions) or 'none'}")
    if ds.get("sites") is not None:
        s = ds["sites"] if ds["sites"] == ds.get("sites_max") else f"{ds['sites']}-{ds['sites_max']}"
        o = ds["organs"] if ds["organs"] == ds.get("organs_max") else f"{ds['organs']}-{ds['organs_max']}"
        parts.append(f"sites {s}, organs {o}")
    if ds.get("uncertain_lesions"):
        parts.append(f"uncertain: {', '.join(ds['uncertain_lesions'])}")
    return "\n".join(parts)


def _reasons(result: dict) -> str:
    lines = []
    for c in result["criteria"]:
        failing = (c["kind"] == "inclusion" and c["verdict"] == "not_met") or (c["kind"] == "exclusion" and c["verdict"] == "met")
        if failing:
            lines.append(f"[red]✗ {c['id']}[/]: {c['reason']}")
    for c in result["criteria"]:
        if c["verdict"] == "unknown":
            lines.append(f"[yellow]? {c['id']}[/]: {c['reason']} [dim](missing: {'; '.join(c['missing'])})[/]")
    return "\n".join(lines) or "[green]all criteria met[/]"


def _print_table(doc: dict) -> None:
    title = f"Patient {doc['patient']}, screened on {doc['as_of']}"
    if doc.get("assumed_attested"):
        title += " [assuming every attestation in the trial's favour: NOT a signed-off screen]"
    table = Table(title=title, show_lines=True, expand=True)
    table.add_column("Trial", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Disease state", ratio=1)
    table.add_column("Why not / what is missing", ratio=3)
    for r in doc["results"]:
        table.add_row(f"{r['short_name']}\n{r['trial']}", f"[{_STYLE[r['verdict']]}]{r['verdict']}[/]",
                      _disease_summary(r["disease_state"]), _reasons(r))
    console.print(table)


def screen(
    paths: Annotated[list[Path] | None, typer.Argument(help="Patient record files (JSON/YAML) or directories of them.",
                                                        show_default=False)] = None,
    trial: Annotated[list[str] | None, typer.Option("--trial", "-t", help="Screen against this trial only (NCT id or short name); repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print oligotrial.screening/1 JSON.")] = False,
    assume_attested: Annotated[bool, typer.Option("--assume-attested", help="Count every clinician attestation as given in the trial's favour (the 'eligible pending sign-off' list).")] = False,
    examples: Annotated[bool, typer.Option("--examples", help="Screen the example patients shipped with oligotrial.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Screening date for records without as_of (default: today).")] = None,
) -> None:
    """Screen patient records against the trials: a verdict per trial and per criterion.

    Exit code 0 when every file was screened, 1 when any file could not be (its error is
    reported and the others are still screened), 2 for bad usage.
    """
    try:
        protocols = [load_protocol(t) for t in trial] if trial else list_protocols()
    except ProtocolError as exc:
        fail(exc)
    try:
        today = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        fail(f"--as-of {as_of!r}: expected a date YYYY-MM-DD")
    files = list(expand_paths(list(paths or []))) + (example_paths() if examples else [])
    if not files:
        fail("no patient records given: name files or directories, or use --examples")
    docs, failures = [], 0
    show_progress = len(files) > 1
    with batch_gc(), Progress(TextColumn("screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                              console=err_console, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("screen", total=len(files))
        for f in files:
            try:
                doc = screen_record(read_record(f), protocols, assume_attested=assume_attested, today=today)
                doc["file"] = str(f)
                docs.append(doc)
            except OligotrialError as exc:
                failures += 1
                docs.append({"format": "oligotrial.screening-error/1", "file": str(f), "error": exc.to_dict()})
            progress.advance(task)
    if as_json:
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for doc in docs:
            if "error" in doc:
                err = doc["error"]
                err_console.print(f"[bold red]{doc['file']}: not screened[/]: {err['message']}", highlight=False, soft_wrap=True)
                for e in err.get("errors", [])[1:]:
                    err_console.print(f"  - {e['path']} = {e['value']!r}: expected {e['expected']}", highlight=False, markup=False, soft_wrap=True)
            else:
                _print_table(doc)
        screened = [d for d in docs if "results" in d]
        if len(screened) > 1:
            summary = Table(title="Summary: verdict per patient and trial", show_lines=False)
            summary.add_column("Patient", no_wrap=True, min_width=17)
            for r in screened[0]["results"]:
                summary.add_column(r["short_name"], no_wrap=True)
            for d in screened:
                summary.add_row(d["patient"], *(f"[{_STYLE[r['verdict']]}]{r['verdict']}[/]" for r in d["results"]))
            console.print(summary)
        ok = len(docs) - failures
        console.print(f"{ok} record(s) screened against {len(protocols)} trial(s); {failures} could not be screened.")
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("screen")(screen)

"""``oligotrial screen``: which of my patients can enter which trial, and why not."""

from __future__ import annotations

import datetime as dt
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oligotrial.adapters.cli._common import console, err_console, fail, json_text, protocol_library
from oligotrial.adapters.cli._common import today as cli_today
from oligotrial.errors import OligotrialError, ProtocolError

# The screening engine, the protocol library and the record reader are imported by the commands
# that use them, so that every other command starts without them.

_STYLE = {"eligible": "bold green", "ineligible": "bold red", "needs_review": "bold yellow"}


def _disease_summary(ds: dict) -> str:
    parts = [ds["definition"]]
    key = (
        "residual_lesions"
        if "residual_lesions" in ds
        else ("lesions_present" if "lesions_present" in ds else "progressing_lesions")
    )
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
        failing = (c["kind"] == "inclusion" and c["verdict"] == "not_met") or (
            c["kind"] == "exclusion" and c["verdict"] == "met"
        )
        if failing:
            lines.append(f"[red]✗ {c['id']}[/]: {c['reason']}")
    for c in result["criteria"]:
        if c["verdict"] == "unknown":
            lines.append(f"[yellow]? {c['id']}[/]: {c['reason']} [dim](missing: {'; '.join(c['missing'])})[/]")
    return "\n".join(lines) or "[green]all criteria met[/]"


def _print_table(doc: dict) -> None:
    title = f"Patient {doc['patient']}, screened on {doc['as_of']}"
    if doc.get("assumed_attested"):
        # "\[": a bare "[...]" is Rich markup and was swallowed, so the notice never printed
        title += " \\[assuming every attestation not yet answered in the trial's favour: NOT a signed-off screen]"
    table = Table(title=title, show_lines=True, expand=True)
    table.add_column("Trial", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Disease state", ratio=1)
    table.add_column("Why not / what is missing", ratio=3)
    for r in doc["results"]:
        table.add_row(
            f"{r['short_name']}\n{r['trial']}",
            f"[{_STYLE[r['verdict']]}]{r['verdict']}[/]",
            _disease_summary(r["disease_state"]),
            _reasons(r),
        )
    console.print(table)


def _screen_file(
    f: Path, protocols: list, assume_attested: bool, today: dt.date | None, compact: bool = False
) -> dict[str, Any]:
    """One file's screening document (or summary), or its error document
    (``oligotrial.screening-error/1``): a record that cannot be read, is not a valid record, or
    dates something after today (the machine's date) is not screened."""
    try:
        from oligotrial.adapters.io.records import read_record
        from oligotrial.service.screening import screen_record

        doc = screen_record(
            read_record(f),
            protocols,
            assume_attested=assume_attested,
            today=today,
            compact=compact,
            not_after=cli_today(),
        )
        doc["file"] = str(f)
        return doc
    except OligotrialError as exc:
        return {"format": "oligotrial.screening-error/1", "file": str(f), "error": exc.to_dict()}


def _screened(
    f: Path, protocols: list, assume_attested: bool, today: dt.date | None, as_json: bool, compact: bool = False
) -> tuple[bool, dict[str, Any] | str]:
    """(whether the file failed, its document): as JSON text already when ``--json``, so that
    a worker process hands back a string, not a document to pickle and rebuild."""
    doc = _screen_file(f, protocols, assume_attested, today, compact)
    return "error" in doc, (json_text(doc)[:-1] if as_json else doc)


def _json_list(texts: list[str], always_list: bool = False) -> str:
    """The indented JSON of a list, from the indented JSON of its items (a JSON text holds no
    raw newline inside a string, so indenting every line by two is exact); one item alone is
    printed as itself unless ``always_list``."""
    if len(texts) == 1 and not always_list:
        return texts[0] + "\n"
    return "[\n" + ",\n".join("  " + t.replace("\n", "\n  ") for t in texts) + "\n]\n"


def _protocols(trials: list[str] | None) -> list:
    """The protocols named (NCT id or short name), or all of them."""
    library, on = protocol_library(), cli_today()
    return [library.get(t, on=on) for t in trials] if trials else library.in_force(on)


_WORKER: dict[str, Any] = {}


def _worker_init(
    trial_ids: list[str] | None, assume_attested: bool, today: dt.date | None, as_json: bool, compact: bool = False
) -> None:
    """A worker process loads the protocols once (the same ids the parent resolved)."""
    _WORKER["protocols"] = _protocols(trial_ids)
    _WORKER["options"] = (assume_attested, today, as_json, compact)


def _worker_chunk(files: list[str]) -> list[tuple[bool, dict[str, Any] | str]]:
    from oligotrial.service.batch import batch_gc

    with batch_gc():
        return [_screened(Path(f), _WORKER["protocols"], *_WORKER["options"]) for f in files]


def _chunks(files: list[Path], workers: int) -> list[list[str]]:
    """Contiguous chunks, in order: about four per worker so that the bar moves and the last
    worker is not left alone with a long tail, at most 256 files each."""
    size = max(1, min(256, -(-len(files) // (workers * 4))))
    return [[str(f) for f in files[i : i + size]] for i in range(0, len(files), size)]


def screen(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Patient record files (JSON/YAML) or directories of them.", show_default=False),
    ] = None,
    trial: Annotated[
        list[str] | None,
        typer.Option("--trial", "-t", help="Screen against this trial only (NCT id or short name); repeatable."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print oligotrial.screening/1 JSON.")] = False,
    assume_attested: Annotated[
        bool,
        typer.Option(
            "--assume-attested",
            help="Count every clinician attestation no one has answered yet as given in the trial's favour; recorded answers stand (the 'eligible pending sign-off' list).",
        ),
    ] = False,
    examples: Annotated[
        bool, typer.Option("--examples", help="Screen the example patients shipped with oligotrial.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Screening date for records without as_of (default: today).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            help="Worker processes for many files (0: one per CPU core). "
            "The output and its order are the same for any number.",
        ),
    ] = 1,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="With --json: the summary format oligotrial.screening-summary/1 "
            "(verdicts, disease-state counts, failing and unknown criteria with "
            "reasons; no registry text), always a JSON list.",
        ),
    ] = False,
) -> None:
    """Screen patient records against the trials: a verdict per trial and per criterion.

    Exit code 0 when every file was screened, 1 when any file could not be (its error is
    reported and the others are still screened), 2 for bad usage.
    """
    from oligotrial.adapters.io.records import example_paths, expand_paths
    from oligotrial.service.batch import batch_gc

    if compact and not as_json:
        fail("--compact: expected together with --json (the summary is a JSON format)")
    try:
        protocols = _protocols(trial)
    except ProtocolError as exc:
        fail(exc)
    try:
        today = dt.date.fromisoformat(as_of) if as_of else cli_today()
    except ValueError:
        fail(f"--as-of {as_of!r}: expected a date YYYY-MM-DD")
    if workers < 0:
        fail(f"--workers {workers}: expected 0 (one per CPU core) or a positive number of processes")
    workers = workers or os.cpu_count() or 1
    files = list(expand_paths(list(paths or []))) + (example_paths() if examples else [])
    if not files:
        fail("no patient records given: name files or directories, or use --examples")
    screened: list[tuple[bool, Any]] = []
    show_progress = len(files) > 1
    with Progress(
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("screen", total=len(files))
        if workers > 1 and len(files) > 1:
            ids = [p.id for p in protocols] if trial else None
            with ProcessPoolExecutor(
                min(workers, len(files)),
                mp_context=get_context("spawn"),
                initializer=_worker_init,
                initargs=(ids, assume_attested, today, as_json, compact),
            ) as pool:
                for part in pool.map(_worker_chunk, _chunks(files, workers)):  # in submission order
                    screened.extend(part)
                    progress.advance(task, len(part))
        else:
            with batch_gc():
                for f in files:
                    screened.append(_screened(f, protocols, assume_attested, today, as_json, compact))
                    progress.advance(task)
    failures = sum(failed for failed, _ in screened)
    if as_json:
        sys.stdout.write(_json_list([text for _, text in screened], always_list=compact))
    else:
        docs = [doc for _, doc in screened]
        for doc in docs:
            if "error" in doc:
                err = doc["error"]
                err_console.print(
                    f"[bold red]{doc['file']}: not screened[/]: {err['message']}", highlight=False, soft_wrap=True
                )
                for e in err.get("errors", [])[1:]:
                    err_console.print(
                        f"  - {e['path']} = {e['value']!r}: expected {e['expected']}",
                        highlight=False,
                        markup=False,
                        soft_wrap=True,
                    )
            else:
                _print_table(doc)
        screened_docs = [d for d in docs if "results" in d]
        if len(screened_docs) > 1:
            summary = Table(title="Summary: verdict per patient and trial", show_lines=False)
            summary.add_column("Patient", no_wrap=True, min_width=17)
            for r in screened_docs[0]["results"]:
                summary.add_column(r["short_name"], no_wrap=True)
            for d in screened_docs:
                summary.add_row(d["patient"], *(f"[{_STYLE[r['verdict']]}]{r['verdict']}[/]" for r in d["results"]))
            console.print(summary)
        ok = len(docs) - failures
        console.print(f"{ok} record(s) screened against {len(protocols)} trial(s); {failures} could not be screened.")
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("screen")(screen)

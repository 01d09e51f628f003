"""``oligotrial report``: the trial report at a data cut, from the database in
``OLIGOTRIAL_DATABASE_URL`` (format ``oligotrial.trial-report/1``, shared/formats/trial-report.md).

Run by whoever operates the server: the full, unblinded report. Each report is kept: its files are
archived under ``OUT/archive/<report id>/`` (never overwritten) and recorded in the audit trail with
their SHA-256 and the database state they were made from; ``report sign`` records a sign-off,
``report list`` shows every stored report with its sign-offs. ``OUT/report.json`` and
``OUT/report.html`` are the latest report.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated

import typer

NAME = "report"
HELP = "The trial report (report.json, report.html) at a data cut; sign-offs; stored reports."
app = typer.Typer(invoke_without_command=True)

OPERATOR = "operator"


def make_report(ctx, trial: str, out: Path, data_cut: dt.date, *, actor=None) -> dict:
    """Build, write, archive and record the report; returns ``{"id", "paths", "archive"}``."""
    from oligotrial.adapters.io.report_html import write_report
    from oligotrial.service import report as svc
    from oligotrial.service.ports import Actor

    doc = svc.build_report(ctx, trial, data_cut=data_cut)
    paths = write_report(doc, out)
    digests = {
        name: svc.digest(p.read_bytes()) for name, p in (("report.json", paths["json"]), ("report.html", paths["html"]))
    }
    report_id = f"{doc['trial']}-{doc['data_cut']}-{digests['report.json'][:12]}"
    archive = out / "archive" / report_id
    if not archive.exists():  # the same content under the same id: already archived, never overwritten
        tmp = archive.with_name(archive.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        shutil.copy2(paths["json"], tmp / "report.json")
        shutil.copy2(paths["html"], tmp / "report.html")
        tmp.rename(archive)
    actor = actor or Actor(OPERATOR, {doc["trial"]: "admin"})
    svc.record_report(
        ctx,
        actor,
        doc["trial"],
        report_id=report_id,
        data_cut=doc["data_cut"],
        sha256=digests,
        state=doc["database_state"],
        where=str(archive),
    )
    return {"id": report_id, "paths": paths, "archive": archive, "report": doc}


@app.callback()
def report(
    ctx_: typer.Context,
    trial: Annotated[str | None, typer.Option(help="NCT id or short name")] = None,
    out: Annotated[Path, typer.Option(help="directory to write report.json, report.html and figures")] = Path("."),
    data_cut: Annotated[str | None, typer.Option("--data-cut", help="ISO date (default: today)")] = None,
) -> None:
    """Write the full report of TRIAL at the data cut into OUT."""
    if ctx_.invoked_subcommand is not None:
        return
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.errors import OligotrialError

    if trial is None:
        fail("--trial: expected an NCT id or short name", 2)
    try:
        cut = dt.date.fromisoformat(data_cut) if data_cut else None
    except ValueError:
        fail(f"--data-cut {data_cut!r}: expected an ISO date YYYY-MM-DD", 2)
    c = container_or_exit()
    try:
        made = make_report(c.ctx, trial, out, c.ctx.today() if cut is None else cut)  # default: the service's today
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    typer.echo(f"report id: {made['id']}")
    typer.echo(f"report: {made['paths']['html']}")
    typer.echo(f"json: {made['paths']['json']}")
    typer.echo(f"archived: {made['archive']}")


@app.command("sign")
def sign(
    trial: Annotated[str, typer.Option(help="NCT id or short name")],
    report_id: Annotated[str, typer.Option("--report", help="the report id `oligotrial report` printed")],
    by: Annotated[str, typer.Option(help="the signer's name")],
    role: Annotated[str, typer.Option(help="the signer's role, e.g. trial statistician")] = "trial statistician",
    statement: Annotated[str, typer.Option(help="what the signer states")] = "reviewed and approved",
) -> None:
    """Record a sign-off of a stored report in the audit trail."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.errors import OligotrialError
    from oligotrial.service import report as svc
    from oligotrial.service.ports import Actor

    c = container_or_exit()
    try:
        t = c.ctx.load_protocol(trial).id
        out = svc.sign_report(c.ctx, Actor(OPERATOR, {t: "admin"}), t, report_id, by=by, role=role, statement=statement)
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    typer.echo(f"signed: {out['report_id']} by {out['signed_by']} ({out['role']})")


@app.command("unblind")
def unblind(
    trial: Annotated[str, typer.Option(help="NCT id or short name")],
    reason: Annotated[str, typer.Option(help="why (e.g. final analysis database locked on DATE)")],
) -> None:
    """Record that the whole trial is unblinded: from then on the report through the API shows the
    arms to every role allowed to read it (blinded roles saw them pooled until now)."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.errors import OligotrialError
    from oligotrial.service import report as svc
    from oligotrial.service.ports import Actor

    c = container_or_exit()
    try:
        t = c.ctx.load_protocol(trial).id
        svc.unblind_trial(c.ctx, Actor(OPERATOR, {t: "admin"}), t, reason=reason)
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    typer.echo(f"trial {t} unblinded for its reports; recorded in the audit trail")


@app.command("list")
def list_(
    trial: Annotated[str, typer.Option(help="NCT id or short name")],
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every stored report of TRIAL with its data cut, database state and sign-offs."""
    from oligotrial.adapters.cli._common import fail, print_json
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.errors import OligotrialError
    from oligotrial.service import report as svc

    c = container_or_exit()
    try:
        rows = svc.stored_reports(c.ctx, trial)
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    if json_:
        print_json(rows)
        return
    for r in rows:
        signed = "; ".join(f"{s['by']} ({s['role']}) {s['at'][:10]}" for s in r["signatures"]) or "not signed"
        typer.echo(f"{r['report_id']}  data cut {r['data_cut']}  made {r['made_at'][:19]}  {signed}")

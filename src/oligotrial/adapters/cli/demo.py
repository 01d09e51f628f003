"""``oligotrial demo --trial ID``: run a whole trial end to end on a fresh database and write its
report (shared/formats/trial-report.md).

A seeded synthetic cohort made from the protocol's examples goes through the service layer, and
so through every rule and the audit trail: screened, consented (a few decline), enrolled,
randomized from a generated list, radiotherapy checked against the arm, visits, scans, adverse
events, quality of life, next-line therapies, deaths and losses to follow-up, up to a fixed data
cut; then ``report`` writes ``OUT/report.json`` and ``OUT/report.html``. The settings it used are
written to ``OUT/oligotrial.env`` so that ``oligotrial serve``, ``report``, ``export`` and
``audit verify`` work on the trial afterwards; demo accounts (one per role) and their passwords
are in ``OUT/demo-users.txt``.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

DEMO_ROLES = ("coordinator", "data_manager", "treating_oncologist", "statistician", "dsmb", "outcome_assessor")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    trial: Annotated[str, typer.Option(help="NCT id or short name")],
    patients: Annotated[int, typer.Option(help="candidates assessed for eligibility", min=2, max=100_000)] = 200,
    seed: Annotated[
        int, typer.Option(help="the cohort's seed: same seed and --list-seed, same trial, same numbers")
    ] = 1,
    list_seed: Annotated[
        int | None,
        typer.Option(
            help="the randomization list's seed (default: a secret "
            "random one, as in a real trial: nobody can rebuild the "
            "concealed list from the public --seed)"
        ),
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="database URL (default sqlite:///OUT/trial.db); it must be empty")
    ] = None,
    out: Annotated[Path, typer.Option(help="directory for the report and the settings")] = Path("oligotrial-demo"),
) -> None:
    """Run TRIAL end to end on a fresh database and write its report."""
    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.report import make_report
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.errors import OligotrialError
    from oligotrial.service import users
    from oligotrial.service.demo import DATA_CUT, Demo, DemoClock, calendar

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    url = database or f"sqlite:///{out / 'trial.db'}"
    env = {
        "OLIGOTRIAL_DATABASE_URL": url,
        "OLIGOTRIAL_SECRET_KEY": secrets.token_urlsafe(32),
        "OLIGOTRIAL_ALLOCATION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "OLIGOTRIAL_AUDIT_KEY_DIR": str(out / "keys"),
    }
    try:
        settings = Settings(
            database_url=url,
            secret_key=env["OLIGOTRIAL_SECRET_KEY"],
            allocation_key=env["OLIGOTRIAL_ALLOCATION_KEY"],
            audit_key_dir=env["OLIGOTRIAL_AUDIT_KEY_DIR"],
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"settings: {'.'.join(str(x) for x in first['loc'])}: {first['msg']}", 2)
    if settings.database_schema:
        env["OLIGOTRIAL_DATABASE_SCHEMA"] = settings.database_schema
    try:
        clock = DemoClock(dt.date(2000, 1, 1))
        c = bootstrap(settings, clock=clock, migrate=True)
    except OligotrialError as exc:
        fail(exc, 2)
    try:
        with c.ctx.uow() as uow:
            used = uow.session.count("participants") + uow.session.count("audit_log")
        if used:
            fail(f"--database {url}: holds data ({used} participants and audit events); expected an empty database", 2)
        # the version in force at the demo's data cut: the calendar (and the demo clock) start from it
        protocol = c.ctx.load_protocol(trial, on=DATA_CUT)
        protocol_id = protocol.id
        first, _accrual = calendar(protocol)
        clock.set(first - dt.timedelta(days=1))
        passwords = {}
        for role in DEMO_ROLES:
            pw = secrets.token_urlsafe(12)
            users.add_user(c.ctx, f"demo-{role.replace('_', '-')}", pw, role, protocol.id)
            passwords[f"demo-{role.replace('_', '-')}"] = (role, pw)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task(f"{protocol.short_name}: candidates through the trial", total=patients)
            result = Demo(
                c.ctx,
                clock,
                protocol.id,
                patients=patients,
                seed=seed,
                list_seed=secrets.randbits(63) if list_seed is None else list_seed,
                progress=lambda n: bar.update(task, completed=n),
            ).run()
            bar.update(task, completed=patients)
        made = make_report(c.ctx, protocol.id, out, DATA_CUT)
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    (out / "oligotrial.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    (out / "oligotrial.env").chmod(0o600)
    users_file = out / "demo-users.txt"
    users_file.write_text(
        "# demo accounts of this trial (username role password)\n"
        + "".join(f"{u} {r} {p}\n" for u, (r, p) in passwords.items()),
        encoding="utf-8",
    )
    users_file.chmod(0o600)
    if result.refusals:
        typer.echo(f"warning: {len(result.refusals)} steps were refused by the service: {result.refusals[0]}", err=True)
    arms = ", ".join(f"{a} {n}" for a, n in sorted(result.by_arm.items()))
    typer.echo(
        f"{protocol_id}: {result.candidates} candidates, {result.randomized} "
        f"{'enrolled' if len(result.by_arm) == 1 else 'randomized'} ({arms}); data cut {DATA_CUT}"
    )
    typer.echo(f"report: {made['paths']['html']}")
    typer.echo(f"report id: {made['id']}")
    typer.echo(f"database: {url}")
    typer.echo(f"settings: {out / 'oligotrial.env'} (demo accounts: {users_file})")
    typer.echo(
        f"next: set -a; . {out / 'oligotrial.env'}; set +a; then oligotrial serve | oligotrial report "
        f"--trial {protocol_id} --data-cut {DATA_CUT} --out DIR | oligotrial export adtte --trial "
        f"{protocol_id} --out adtte.csv | oligotrial audit verify"
    )

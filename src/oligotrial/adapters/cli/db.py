"""``oligotrial db``: database schema management, backup and restore."""

from __future__ import annotations

import typer

NAME = "db"
HELP = "Database: apply migrations, back up, restore."
app = typer.Typer(no_args_is_help=True)


def container_or_exit(migrate: bool | None = None):
    """The composition root for operations commands; bad settings exit 2 naming the setting."""
    from pydantic import ValidationError

    from oligotrial.adapters.cli._common import fail
    from oligotrial.bootstrap import bootstrap
    from oligotrial.config import Settings
    from oligotrial.errors import OligotrialError

    try:
        return bootstrap(Settings(), migrate=migrate)
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"settings: {'.'.join(str(x) for x in first['loc']) or 'settings'}: {first['msg']}", 2)
    except OligotrialError as exc:
        fail(exc, 2)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply the packaged migrations up to REVISION (head by default)."""
    from oligotrial.adapters.db.migrate import upgrade

    c = container_or_exit(migrate=False)
    try:
        rev = upgrade(c.engine, revision)
    finally:
        c.dispose()
    typer.echo(f"database at revision {rev}")


def _chain_line(rep) -> str:
    if rep.ok:
        return f"audit chain intact: {rep.checked} entries, last seq {rep.last_seq}"
    line = f"audit chain BROKEN: altered {rep.altered}, removed {rep.removed}, inserted {rep.inserted}"
    if getattr(rep, "replayed", None):
        line += f", replayed {rep.replayed}"
    for problem in [
        *getattr(rep, "checkpoint_problems", []),
        *getattr(rep, "format_problems", []),
        *getattr(rep, "allocation_problems", []),
    ][:5]:
        line += f"; {problem}"
    if rep.checked and len(rep.altered) == rep.checked:
        line += (
            "; every entry fails: are OLIGOTRIAL_AUDIT_KEY_DIR and OLIGOTRIAL_ALLOCATION_KEY those of the "
            "database that was backed up? (the keys live outside the database and its backups)"
        )
    return line


@app.command("backup")
def backup_cmd(path: str = typer.Argument(..., help="the backup file to write (must not exist)")) -> None:
    """Back up the live database to PATH: SQLite's online backup API, or pg_dump (custom format)
    for PostgreSQL, while writes go on. The audit chain of the copied data is verified; exit 1
    (and no file) when it does not. Copying a live SQLite file is not a backup."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.db.backup import backup
    from oligotrial.errors import OligotrialError

    c = container_or_exit(migrate=False)
    try:
        rep = backup(c.settings, c.ctx, path)
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    if not rep.ok:
        typer.echo(f"backup NOT written: {_chain_line(rep)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"backup written to {path}; {_chain_line(rep)}")


@app.command("restore")
def restore_cmd(path: str = typer.Argument(..., help="a backup written by `oligotrial db backup`")) -> None:
    """Restore PATH into the configured database, which must be empty (no table); then verify
    the audit chain of the restored data (exit 1 when it does not verify)."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.db.backup import restore
    from oligotrial.errors import OligotrialError

    c = container_or_exit(migrate=False)
    try:
        rep = restore(c.settings, c.ctx, path)
    except OligotrialError as exc:
        fail(exc, 2)
    finally:
        c.dispose()
    if not rep.ok:
        typer.echo(f"restore: {_chain_line(rep)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"restored {path}; {_chain_line(rep)}")
    for note in getattr(rep, "notes", []):
        typer.echo(f"  {note}")

"""``oligotrial db``: database schema management."""

from __future__ import annotations

import typer

NAME = "db"
HELP = "Database schema: apply migrations."
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

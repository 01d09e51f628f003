"""``oligotrial db``: database schema management."""

from __future__ import annotations

import typer

NAME = "db"
HELP = "Database schema: apply migrations."
app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply the packaged migrations up to REVISION (head by default)."""
    from oligotrial.adapters.cli._common import container_or_exit
    from oligotrial.adapters.db.migrate import upgrade

    c = container_or_exit(migrate=False)
    try:
        rev = upgrade(c.engine, revision)
    finally:
        c.dispose()
    typer.echo(f"database at revision {rev}")

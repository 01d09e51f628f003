"""``oligotrial users``: accounts and their role per trial."""

from __future__ import annotations

import sys

import typer

from oligotrial.domain.trial.blinding import ROLES
from oligotrial.errors import OligotrialError

NAME = "users"
HELP = "User accounts and roles per trial."
app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add(
    username: str = typer.Option(..., "--username", help="login name"),
    role: str = typer.Option(..., "--role", help=f"one of {', '.join(ROLES)}"),
    trial: str = typer.Option(..., "--trial", help="NCT id or short name, or '*' for every trial"),
    site: str = typer.Option(None, "--site", help="limit the role to one site of a multi-centre trial"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
) -> None:
    """Add a user (or grant an existing one a role in another trial). The password is read
    from a prompt, or from stdin with --password-stdin (or when stdin is not a terminal)."""
    from oligotrial.adapters.cli._common import fail
    from oligotrial.adapters.cli.db import container_or_exit
    from oligotrial.service import users

    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    c = container_or_exit()
    try:
        user = users.add_user(c.ctx, username, password, role, trial, site=site)
    except OligotrialError as exc:
        fail(exc)
    finally:
        c.dispose()
    typer.echo(f"user {user.username}: role {role} in {trial if trial == '*' else c.ctx.load_protocol(trial).id}")

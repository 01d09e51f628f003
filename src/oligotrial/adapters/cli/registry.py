"""Where each CLI noun module is attached to the root application.

Each entry is ``(module path, how)``: ``how`` is ``"group"`` for a typer sub-app exported as
``app`` (e.g. ``oligotrial protocols list``) or ``"commands"`` for a module exposing
``register(app)`` that adds top-level commands (e.g. ``oligotrial screen``).
"""

from __future__ import annotations

import importlib

import typer

MODULES: list[tuple[str, str]] = [
    # (module, kind) -- add yours here, alphabetically
    ("oligotrial.adapters.cli.analysis", "group"),
    ("oligotrial.adapters.cli.assess", "commands"),
    ("oligotrial.adapters.cli.demo", "commands"),
    ("oligotrial.adapters.cli.design", "group"),
    ("oligotrial.adapters.cli.export", "group"),
    ("oligotrial.adapters.cli.protocols", "group"),
    ("oligotrial.adapters.cli.schema", "group"),
    ("oligotrial.adapters.cli.screen", "commands"),
    ("oligotrial.adapters.cli.audit", "group"),
    ("oligotrial.adapters.cli.db", "group"),
    ("oligotrial.adapters.cli.randomization", "group"),
    ("oligotrial.adapters.cli.report", "group"),
    ("oligotrial.adapters.cli.rt", "group"),
    ("oligotrial.adapters.cli.serve", "commands"),
    ("oligotrial.adapters.cli.users", "group"),
]

_done: set[int] = set()


def register_all(app: typer.Typer) -> None:
    if id(app) in _done:
        return
    _done.add(id(app))
    for module_name, kind in MODULES:
        module = importlib.import_module(module_name)
        if kind == "group":
            app.add_typer(module.app, name=module.NAME, help=module.HELP)
        else:
            module.register(app)

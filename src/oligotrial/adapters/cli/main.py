"""The ``oligotrial`` command line: one module per noun, wired here.

Each command parses its input, calls one service, and maps domain errors to exit codes
(0 success, 1 a screened/checked file failed or was refused, 2 bad usage or bad input).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="oligotrial",
    help=(
        "oligotrial runs metastasis-directed radiotherapy trials (SBRT/SABR for oligoprogressive, "
        "oligoresidual and oligometastatic cancer): protocols as data, eligibility screening with "
        "a verdict per criterion, RECIST/iRECIST assessment, radiotherapy dose checks, concealed "
        "randomization and trial design statistics."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach each noun's sub-application. One import per noun; keep alphabetical."""
    from oligotrial.adapters.cli import registry

    registry.register_all(app)


def main() -> None:  # pragma: no cover - thin entry point
    _register()
    app()


_register()

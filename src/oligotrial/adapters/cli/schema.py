"""``oligotrial schema``: JSON Schemas of the formats oligotrial reads."""

from __future__ import annotations

import typer

from oligotrial.adapters.cli._common import print_json

NAME = "schema"
HELP = "Print the JSON Schema of a format oligotrial reads (patient record, protocol)."
app = typer.Typer(help=HELP, no_args_is_help=True)


@app.command("patient")
def patient_cmd() -> None:
    """The JSON Schema of the patient record, oligotrial.patient/1."""
    from oligotrial.domain.record.patient import patient_json_schema

    print_json(patient_json_schema())


@app.command("protocol")
def protocol_cmd() -> None:
    """The JSON Schema of a protocol file."""
    from oligotrial.domain.protocol.schema import Protocol

    print_json(Protocol.model_json_schema())

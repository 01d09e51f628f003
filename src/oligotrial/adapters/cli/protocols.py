"""``oligotrial protocols``: the shipped protocol library."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from oligotrial.adapters.cli._common import console, fail, print_json
from oligotrial.errors import ProtocolError
from oligotrial.protocols import list_protocols, load_protocol

NAME = "protocols"
HELP = "List and show the trial protocols shipped with oligotrial (the five seed trials)."
app = typer.Typer(help=HELP, no_args_is_help=True)


def _summary(p) -> dict:
    return {
        "id": p.id,
        "short_name": p.short_name,
        "title": p.title,
        "version": p.version,
        "phase": p.phase,
        "design": p.design.allocation,
        "planned_enrolment": p.planned_enrolment,
        "arms": [{"id": a.id, "label": a.label, "type": a.type} for a in p.arms],
        "allocation_ratio": p.allocation_ratio,
        "masking": p.masking.level,
        "blinded_roles": list(p.masking.blinded_roles),
        "criteria": {"inclusion": sum(c.kind == "inclusion" for c in p.criteria),
                     "exclusion": sum(c.kind == "exclusion" for c in p.criteria)},
    }


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """List every protocol: registry id, short name, phase, enrolment, arms and masking."""
    protocols = list_protocols()
    if as_json:
        print_json([_summary(p) for p in protocols])
        return
    table = Table(title="oligotrial protocol library", show_lines=True)
    for col in ("ID", "Short name", "Phase", "Design", "Enrolment", "Arms", "Masking", "Criteria (in/ex)"):
        table.add_column(col)
    for p in protocols:
        s = _summary(p)
        table.add_row(p.id, p.short_name, p.phase, p.design.allocation,
                      str(p.planned_enrolment) if p.planned_enrolment else "not registered",
                      "\n".join(f"{a['id']}: {a['label']}" for a in s["arms"]), p.masking.level,
                      f"{s['criteria']['inclusion']}/{s['criteria']['exclusion']}")
    console.print(table)


@app.command("show")
def show_cmd(trial: Annotated[str, typer.Argument(help="NCT id or short name, e.g. NCT06918951 or STOP-2.")],
             as_json: Annotated[bool, typer.Option("--json", help="Print the whole protocol as JSON.")] = False) -> None:
    """Show one protocol: design, arms, masking, endpoints and every criterion with its source text."""
    try:
        p = load_protocol(trial)
    except ProtocolError as exc:
        fail(exc)
    if as_json:
        print_json(p.model_dump(mode="json"))
        return
    console.print(f"[bold]{p.id} {p.short_name}[/] (version {p.version})\n{p.title}")
    console.print(f"Phase {p.phase}; {p.design.allocation}; planned enrolment "
                  f"{p.planned_enrolment or 'not registered'}; masking {p.masking.level}"
                  f"{' (blinded: ' + ', '.join(p.masking.blinded_roles) + ')' if p.masking.blinded_roles else ''}")
    arms = Table(title="Arms")
    for col in ("id", "label", "type", "allocation"):
        arms.add_column(col)
    for a in p.arms:
        arms.add_row(a.id, a.label, a.type, str(p.allocation_ratio[a.id]))
    console.print(arms)
    crit = Table(title="Criteria", show_lines=True)
    for col in ("id", "kind", "registry text", "decided by"):
        crit.add_column(col)
    for c in p.criteria:
        crit.add_row(c.id, c.kind, c.source_text, f"attestation {c.attestation}" if c.attestation else "rule")
    console.print(crit)

"""``oligotrial protocols``: the shipped protocol library."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from oligotrial.adapters.cli._common import console, fail, print_json
from oligotrial.errors import ProtocolError

if TYPE_CHECKING:  # the protocol library loads when a command needs it, not at every start
    from oligotrial.domain.protocol.endpoint_schema import EndpointRule
    from oligotrial.domain.protocol.rt_schema import Regimen

NAME = "protocols"
HELP = (
    "List and show the trial protocols shipped with oligotrial (the five seed trials), and compare "
    "two versions of one (an amendment)."
)
app = typer.Typer(help=HELP, no_args_is_help=True)


def _summary(p) -> dict:
    return {
        "id": p.id,
        "short_name": p.short_name,
        "title": p.title,
        "version": p.version,
        "effective_date": p.effective_date.isoformat(),
        "phase": p.phase,
        "design": p.design.allocation,
        "planned_enrolment": p.planned_enrolment,
        "arms": [{"id": a.id, "label": a.label, "type": a.type} for a in p.arms],
        "allocation_ratio": p.allocation_ratio,
        "masking": p.masking.level,
        "blinded_roles": list(p.masking.blinded_roles),
        "criteria": {
            "inclusion": sum(c.kind == "inclusion" for c in p.criteria),
            "exclusion": sum(c.kind == "exclusion" for c in p.criteria),
        },
    }


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False) -> None:
    """List every protocol: registry id, short name, phase, enrolment, arms and masking."""
    from oligotrial.adapters.cli._common import protocol_library, today

    protocols = protocol_library().in_force(today())
    if as_json:
        print_json([_summary(p) for p in protocols])
        return
    table = Table(title="oligotrial protocol library", show_lines=True)
    for col in (
        "ID",
        "Short name",
        "Version (effective)",
        "Phase",
        "Design",
        "Enrolment",
        "Arms",
        "Masking",
        "Criteria (in/ex)",
    ):
        table.add_column(col)
    for p in protocols:
        s = _summary(p)
        table.add_row(
            p.id,
            p.short_name,
            f"{p.version}\n({p.effective_date.isoformat()})",
            p.phase,
            p.design.allocation,
            str(p.planned_enrolment) if p.planned_enrolment else "not registered",
            "\n".join(f"{a['id']}: {a['label']}" for a in s["arms"]),
            p.masking.level,
            f"{s['criteria']['inclusion']}/{s['criteria']['exclusion']}",
        )
    console.print(table)


# ---- what decides a criterion ------------------------------------------------------------------

_ATTESTED = "attested"


def _leaves(expr: Any) -> Iterator[tuple[str, Any]]:
    """(operator, argument) of every leaf of a rule expression, through all/any/not,
    at_least/at_most (``{n, of}``) and applies_if (``{if, then}``)."""
    if isinstance(expr, list):
        for e in expr:
            yield from _leaves(e)
        return
    if not isinstance(expr, dict):
        return
    for op, arg in expr.items():
        if op in ("all", "any", "not"):
            yield from _leaves(arg)
        elif op in ("at_least", "at_most"):
            yield from _leaves(arg.get("of") if isinstance(arg, dict) else arg)
        elif op == "applies_if":
            if isinstance(arg, dict):
                yield from _leaves(arg.get("if"))
                yield from _leaves(arg.get("then"))
        else:
            yield op, arg


def decided_by(expression: Any) -> str:
    """What decides a criterion whose rule expression is ``expression``: ``"rule"`` (no
    ``attested`` leaf), ``"attestation"`` (every leaf is ``attested``, e.g. ``{not: {attested: k}}``)
    or ``"rule + attestation"`` (both kinds of leaf)."""
    ops = [op for op, _ in _leaves(expression)]
    attested = _ATTESTED in ops
    computed = any(op != _ATTESTED for op in ops)
    if attested and computed:
        return "rule + attestation"
    return "attestation" if attested else "rule"


def _attestation_keys(expression: Any) -> list[str]:
    keys: list[str] = []
    for op, arg in _leaves(expression):
        if op == _ATTESTED:
            key = arg if isinstance(arg, str) else arg.get("key") if isinstance(arg, dict) else None
            if key and key not in keys:
                keys.append(str(key))
    return keys


# ---- show ----------------------------------------------------------------------------------------

_LABEL = "bold yellow"


def _labelled(label: str, text: str | None) -> Text:
    """``label: text`` with the file's text verbatim (never read as rich markup)."""
    out = Text()
    out.append(f"{label}: ", style=_LABEL)
    out.append(text or "")
    return out


def _indented(label: str, text: str | None) -> Padding:
    """A labelled line indented by two, its wrapped lines too."""
    return Padding(_labelled(label, text), (0, 0, 0, 2))


def _line(*parts: str | tuple[str, str]) -> Text:
    return Text.assemble(*parts)


def _json_doc(p) -> dict[str, Any]:
    doc = p.model_dump(mode="json")
    for c, row in zip(p.criteria, doc["criteria"], strict=True):
        row["decided_by"] = decided_by(c.expression)
    return doc


def _header(p) -> list[RenderableType]:
    out: list[RenderableType] = [
        _line(
            (f"{p.id} {p.short_name}", "bold"),
            f" (version {p.version}, effective {p.effective_date.isoformat()}"
            + (f", amends {p.amends}" if p.amends else "")
            + ")",
        ),
        Text(p.title),
    ]
    blinded = f" (blinded: {', '.join(p.masking.blinded_roles)})" if p.masking.blinded_roles else ""
    out.append(
        Text(
            f"Phase {p.phase}; {p.design.allocation}; planned enrolment "
            f"{p.planned_enrolment or 'not registered'}; masking {p.masking.level}{blinded}"
        )
    )
    if p.planned_enrolment_note:
        out.append(_indented("enrolment note", p.planned_enrolment_note))
    ratio = " : ".join(f"{arm} {n}" for arm, n in p.allocation_ratio.items())
    out.append(Text(f"Allocation ratio: {ratio}" + ("" if p.allocation_ratio_registered else " (not registered)")))
    if p.allocation_ratio_note:
        out.append(
            _indented(
                "allocation ratio not registered" if not p.allocation_ratio_registered else "allocation note",
                p.allocation_ratio_note,
            )
        )
    s = p.stratification
    if s.factors:
        out.append(Text("Stratification: " + "; ".join(f"{f.label} ({', '.join(f.levels)})" for f in s.factors)))
    else:
        out.append(Text("Stratification: none" + (" (registry names none)" if s.registry_names_none else "")))
    out.append(_indented("stratification note", s.note))
    return out


def _regimen_table(regimens: list[Regimen]) -> Table:
    t = Table(show_lines=True, expand=True, padding=(0, 1))
    t.add_column("regimen", ratio=3)
    t.add_column("total dose", no_wrap=True)
    t.add_column("fractions", no_wrap=True)
    t.add_column("Gy/fraction", no_wrap=True)
    t.add_column("techniques", ratio=1)
    for r in regimens:
        cell = Text(r.label, style="bold")
        extra = [
            w
            for w in (
                ("typical" if r.typical else ""),
                ("" if r.role == "any" else f"role {r.role}"),
                (f"lesions {r.lesions.describe()}" if r.lesions else ""),
                (f"{r.fractions_per_week.describe()} fraction(s)/week" if r.fractions_per_week else ""),
                (f"schedule {r.schedule}" if r.schedule else ""),
            )
            if w
        ]
        if extra:
            cell.append("\n" + "; ".join(extra))
        if r.lesion_selection:
            cell.append("\n")
            cell.append_text(_labelled("lesion selection", r.lesion_selection))
        if r.reference_schedules:
            cell.append("\nreference schedules: " + ", ".join(r.reference_schedules))
        if r.assumption:
            cell.append("\n")
            cell.append_text(_labelled("assumption", r.assumption))
        t.add_row(
            cell,
            r.total_dose_gy.describe("Gy"),
            r.fractions.describe(),
            r.dose_per_fraction_gy.describe("Gy") if r.dose_per_fraction_gy else "-",
            ", ".join(r.techniques) if r.techniques else "not stated",
        )
    return t


def _arm_panel(p, a) -> Panel:
    body: list[RenderableType] = [
        _line((a.label, "bold"), (f" ({a.type}; allocation {p.allocation_ratio[a.id]})", "dim")),
        Text(a.description),
    ]
    rt = a.radiotherapy
    if rt is None:
        body.append(_line(("Radiotherapy: ", "bold"), "none in this arm"))
    else:
        limits = [f"targets {rt.targets}"]
        if rt.max_lesions is not None:
            limits.append(f"at most {rt.max_lesions} lesions")
        if rt.observation_lesions_min is not None:
            limits.append(f"at least {rt.observation_lesions_min} observation lesion(s) left untreated")
        if rt.max_overall_days is not None:
            limits.append(f"completed within {rt.max_overall_days} days")
        if rt.start_within_days_of_systemic_line is not None:
            w = rt.start_within_days_of_systemic_line
            limits.append(f"starts within {w.days} days after the start of line {w.line} systemic therapy")
        body.append(_line(("Radiotherapy: ", "bold"), f"{rt.name} ({'; '.join(limits)})"))
        if rt.notes:
            body.append(_labelled("radiotherapy note", rt.notes))
        body.append(_regimen_table(rt.regimens))
        if rt.reference_schedules:
            body.append(Text("reference schedules: " + ", ".join(rt.reference_schedules)))
    sy = a.systemic
    if sy is None:
        body.append(_line(("Systemic therapy: ", "bold"), "none named for this arm"))
    else:
        body.append(_line(("Systemic therapy: ", "bold"), sy.description))
        body.append(
            Text(f"  agents: {', '.join(sy.agents) or 'none named'}; classes: {', '.join(sy.classes) or 'none named'}")
        )
    return Panel(Group(*body), title=Text(f"Arm {a.id}"), title_align="left")


def _endpoints_table(p) -> Table:
    t = Table(title="Endpoints", expand=True)
    t.add_column("level", no_wrap=True)
    t.add_column("id", no_wrap=True)
    t.add_column("name", ratio=3)
    t.add_column("kind", no_wrap=True)
    t.add_column("time frame", ratio=2)
    primary = "primary" if p.endpoints.registry_names_primary else "primary (project's reading: not registered)"
    if p.endpoints.note:
        t.caption = p.endpoints.note
    for level, eps in ((primary, p.endpoints.primary), ("secondary", p.endpoints.secondary)):
        for e in eps:
            t.add_row(
                level,
                e.id,
                Text(e.name),
                e.kind,
                Text(e.time_frame) if e.time_frame else Text("not stated", style="dim"),
            )
    return t


def _rule_events(r: EndpointRule) -> str:
    crit = "iRECIST" if r.criteria == "irecist" else "RECIST 1.1"
    death = ["death"] if r.death_is_event else []
    recorded = ["recorded progression"] if r.recorded_progression_is_event else []
    if r.kind == "os":
        return "death from any cause"
    if r.kind == "pfs":
        return "; ".join([f"{crit} progression", *recorded, *death])
    if r.kind == "pfs_next_line":
        return "; ".join([f"progression on the next systemic line ({crit})", *death])
    if r.kind == "polymetastatic_pfs":
        return "; ".join([f"more than {r.polymetastatic_threshold_lesions} lesions present", *death])
    if r.kind == "ttnt":
        return "; ".join(["start of the next systemic line", *death])
    if r.kind == "local_control":
        which = "each residual lesion at the origin, every arm" if r.lesions == "residual" else "the treated lesion"
        return (
            f"progression of {which} (>= {r.lesion_progression_pct:g}% and "
            f">= {r.lesion_progression_mm:g} mm over its nadir)"
        )
    good = "CR or PR" if r.kind == "orr" else "CR, PR or SD"
    return f"best overall response {good} ({crit}{', confirmed' if r.confirm_response else ', unconfirmed'})"


def _rule_censors(r: EndpointRule) -> str:
    if r.kind in ("orr", "dcr"):
        return (
            "not time to event; responses after new anticancer therapy are not counted"
            if r.censor_at_new_anticancer_therapy and r.criteria != "irecist"
            else "not time to event"
        )
    if r.kind == "local_control":
        return f"per {'residual' if r.lesions == 'residual' else 'treated'} lesion: its last assessment"
    if r.kind in ("os", "ttnt"):
        out = ["last contact"]
        if r.kind == "ttnt" and not r.death_is_event:
            out.append("death (not an event)")
        return "; ".join(out)
    out = ["last adequate assessment"]
    if r.censor_at_new_anticancer_therapy:
        out.append("a further systemic line after the next" if r.kind == "pfs_next_line" else "new anticancer therapy")
    if r.kind != "pfs_next_line":
        out.append(
            "metastasis-directed therapy"
            if r.metastasis_directed_therapy_censors
            else "not metastasis-directed therapy"
        )
    if r.missed_visit is not None:
        out.append(
            f"an event after >= {r.missed_visit.min_missed_visits} missed visits "
            f"(every {r.missed_visit.visit_interval_days} d)"
        )
    return "; ".join(out)


def _endpoint_rules(p) -> list[RenderableType]:
    try:
        from oligotrial.domain.protocol.endpoint_schema import parse_endpoint_rules

        rules = parse_endpoint_rules(p.endpoint_rules, trial=p.id)
    except ProtocolError as exc:
        return [_labelled("Endpoint derivation rules", exc.message)]
    out: list[RenderableType] = [
        _line(("Endpoint derivation rules", "bold"), f" (origin: {rules.origin})"),
        _indented("origin", rules.origin_source_text),
    ]
    if rules.origin_note:
        out.append(_indented("origin note", rules.origin_note))
    if rules.note:
        out.append(_indented("derivation note", rules.note))
    t = Table(show_lines=True, expand=True)
    t.add_column("rule", no_wrap=True)
    t.add_column("event", ratio=3, overflow="fold")
    t.add_column("censored at", ratio=3, overflow="fold")
    t.add_column("note", ratio=4, overflow="fold")
    for r in rules.endpoints:
        t.add_row(
            Text(f"{r.id}\n{r.kind}"),
            Text(_rule_events(r)),
            Text(_rule_censors(r)),
            Text(r.note) if r.note else Text("-", style="dim"),
        )
    out.append(t)
    return out


def _windows_table(p) -> Table | None:
    if not p.windows:
        return None
    t = Table(title="Windows (days, or calendar months)", show_lines=True, expand=True)
    t.add_column("window")
    t.add_column("length", no_wrap=True)
    t.add_column("registry text", ratio=1)
    t.add_column("note", ratio=1)

    def bound(d, m) -> str:
        return f"{d} d" if d is not None else (f"{m} mo" if m is not None else "?")

    for name, w in p.windows.items():
        if w.days is not None or w.months is not None:
            days = bound(w.days, w.months)
        else:
            days = f"{bound(w.min_days, w.min_months)} to {bound(w.max_days, w.max_months)}"
        t.add_row(name, days, Text(w.source_text), Text(w.note) if w.note else Text("-", style="dim"))
    return t


def _schedule(p) -> list[RenderableType]:
    sched = p.schedule  # parsed and checked against the masking when the file was loaded
    if sched is None:
        return [_line(("Visit schedule: ", "bold"), "none in the protocol file")]
    out: list[RenderableType] = [
        _line(
            ("Visit schedule", "bold"),
            ": from the registry"
            if sched.registry_gives_schedule
            else ": the registry gives no schedule (registry_gives_schedule: false)",
        ),
    ]
    if sched.note:
        out.append(_indented("schedule note", sched.note))
    t = Table(show_lines=True, expand=True)
    t.add_column("visit", ratio=3)
    t.add_column("anchor", no_wrap=True)
    t.add_column("day", no_wrap=True, justify="right")
    t.add_column("window (d)", no_wrap=True)
    t.add_column("forms", no_wrap=True)
    t.add_column("status", no_wrap=True)
    for v in sched.visits:
        t.add_row(
            Text(f"{v.code}\n{v.label}"),
            v.anchor,
            str(v.day),
            f"-{v.window_before_days}/+{v.window_after_days}",
            "\n".join(v.forms) or "-",
            Text("site default", style=_LABEL) if v.site_default else "protocol",
        )
    out.append(t)
    return out


def _criteria_table(p) -> Table:
    crit = Table(title="Criteria", show_lines=True, expand=True)
    crit.add_column("id", no_wrap=True)
    crit.add_column("kind", no_wrap=True)
    crit.add_column("registry text", ratio=2)
    crit.add_column("decided by", ratio=1, min_width=18, overflow="fold")
    for c in p.criteria:
        text = Text(c.source_text)
        if c.note:
            text.append("\n")
            text.append_text(_labelled("note", c.note))
        how = decided_by(c.expression)
        keys = _attestation_keys(c.expression)
        crit.add_row(c.id, c.kind, text, Text(how + (f"\n({', '.join(keys)})" if keys else "")))
    return crit


@app.command("show")
def show_cmd(
    trial: Annotated[str, typer.Argument(help="NCT id or short name, e.g. NCT06918951 or STOP-2.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole protocol as JSON.")] = False,
) -> None:
    """Show one protocol: design, arms with their regimens, endpoints and their derivation rules,
    windows (days or calendar months), the visit schedule and every criterion with its source text and what decides it.
    Every label the file carries (not registered, assumption, site default, notes) is shown verbatim."""
    try:
        from oligotrial.protocols import load_protocol

        p = load_protocol(trial)  # in force on the loader's today: the one clock's (oligotrial.clock)
    except ProtocolError as exc:
        fail(exc)
    if as_json:
        print_json(_json_doc(p))
        return
    for r in _header(p):
        console.print(r)
    for a in p.arms:
        console.print(_arm_panel(p, a))
    console.print(_endpoints_table(p))
    for r in _endpoint_rules(p):
        console.print(r)
    windows = _windows_table(p)
    if windows is not None:
        console.print(windows)
    for r in _schedule(p):
        console.print(r)
    console.print(_criteria_table(p))


# ---- diff ----------------------------------------------------------------------------------------


def _version_line(label: str, v: dict) -> str:
    return (
        f"{label}: {v['version']} (effective {v['effective_date']}"
        + (f", amends {v['amends']}" if v.get("amends") else "")
        + ")"
    )


@app.command("diff")
def diff_cmd(
    trial: Annotated[str, typer.Argument(help="NCT id or short name, e.g. NCT06918951 or STOP-2.")],
    v1: Annotated[str, typer.Argument(help="The earlier version, e.g. 2025-12-15.r1.")],
    v2: Annotated[str, typer.Argument(help="The later version, e.g. 2026-06-01.r2.")],
    protocol_dir: Annotated[
        list[str] | None,
        typer.Option(
            "--dir", help="An extra protocol directory to read (repeatable; OLIGOTRIAL_PROTOCOL_DIRS is read too)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
) -> None:
    """Compare two versions of a protocol: criteria (source text or rule), windows, arms and their
    regimens, endpoints and endpoint derivation rules added, removed or changed."""
    try:
        from oligotrial.adapters.cli._common import protocol_library

        library = protocol_library(protocol_dir)
        before, after = library.get(trial, v1), library.get(trial, v2)
    except ProtocolError as exc:
        fail(exc)
    from oligotrial.protocols.diff import diff_document, diff_protocols

    doc = diff_document(before, after)
    if as_json:
        print_json(doc)
        return
    changes = diff_protocols(before, after)
    console.print(Text(f"{after.id} {after.short_name}", style="bold"), soft_wrap=True)
    console.print(Text(_version_line("from", doc["from"])), soft_wrap=True)
    console.print(Text(_version_line("to", doc["to"])), soft_wrap=True)
    if not changes:
        console.print(Text("No changes."), soft_wrap=True)
        return
    n = doc["summary"]
    console.print(
        Text(f"{len(changes)} change(s): {n['added']} added, {n['removed']} removed, {n['changed']} changed"),
        soft_wrap=True,
    )
    for c in changes:
        console.print(Text(f"- {c.describe()}"), soft_wrap=True)

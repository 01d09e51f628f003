"""Endpoints derived from what is stored, and the analysis datasets built from them.

Each participant's endpoints come from their record as stored (the registered record, the
follow-up entries in force, the protocol's radiotherapy course), by the protocol's
``endpoint_rules`` and the same engines as ``oligotrial endpoints PATIENT.json``
(:func:`oligotrial.domain.response.derivation.derive_endpoints`, joined to the participant's
milestones by :func:`oligotrial.domain.trial.outcomes.participant_endpoints`): origin =
randomization (enrolment in a single-arm trial), response against the last scan on or before the
origin, and the participant's own arm deciding which therapy is protocol-directed. This module
reads the rows and writes the datasets; the rules are the domain's.

The analysis datasets follow CDISC ADaM conventions (ADTTE as shared/formats/trial-report.md
specifies; an ADRS-style response dataset). They are generated one participant at a time from a
paged read, so an export never holds the whole trial in memory. A blinded role's dataset has no
ARM column and no arm in any value.

References
----------
CDISC ADaM Basic Data Structure for Time-to-Event Analyses (ADTTE) v1.0, 2012.
CDISC ADaM Implementation Guide v1.1 (ADRS, response parameter OVRLRESP); admiralonco (pharmaverse)
"Creating a Basic ADRS": BOR, CBOR and the analysis flag ANL01FL. docs/endpoints.md has the rules.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

from oligotrial.domain.protocol.endpoint_schema import parse_endpoint_rules
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record.patient import Patient
from oligotrial.domain.trial import outcomes
from oligotrial.domain.trial.blinding import sees_arms
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import AssessmentError, WorkflowError
from oligotrial.service import followup, freetext
from oligotrial.service.access import authorize, site_visible, visible_participant
from oligotrial.service.assessment import (
    Criteria,
    assess_patient,
    best_response,
    new_anticancer_therapy,
    response_options,
)
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, UnitOfWork

ADTTE_COLUMNS = ("STUDYID", "USUBJID", "ARM", "PARAMCD", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC")
ADRS_COLUMNS = ("STUDYID", "USUBJID", "ARM", "PARAMCD", "PARAM", "CRIT", "BASEDT", "ADT", "AVALC", "ANL01FL")
#: endpoint kinds that give one time-to-event row per participant
TIME_TO_EVENT = frozenset({"pfs", "os", "pfs_next_line", "polymetastatic_pfs", "ttnt"})


def paramcd(endpoint_id: str) -> str:
    """The ADTTE parameter code of an endpoint rule id: upper case without separators."""
    return "".join(ch for ch in endpoint_id.upper() if ch.isalnum())


def _arm(ctx: ServiceContext, uow: UnitOfWork, protocol: Protocol, pid: str) -> str | None:
    from oligotrial.service.randomization import allocation_arm

    if followup.single_group(protocol):
        return protocol.arms[0].id
    a = uow.allocation.get_allocation(pid)
    return None if a is None else allocation_arm(ctx, a)


def _derive(
    ctx: ServiceContext,
    uow: UnitOfWork,
    protocol: Protocol,
    p: Participant,
    *,
    reveal_arm: bool,
    arm: str | None = None,
) -> tuple[dict[str, Any], Patient] | None:
    """One participant's endpoints and their parsed record, or None before follow-up has an origin:
    the rows read here, the derivation the domain's (:func:`outcomes.participant_endpoints`)."""
    if outcomes.follow_up_origin(protocol, p)[0] is None:
        return None
    arm = arm or _arm(ctx, uow, protocol, p.id)
    entries = uow.participants.entries(p.id)
    if not reveal_arm and protocol.masking.blinded_roles:  # a blinded reader: what unblinded roles wrote is withheld
        entries = freetext.withhold_entries(protocol, entries, uow.audit.audit_of(protocol.id, p.id), p.id)
    return outcomes.participant_endpoints(
        protocol, p, entries, uow.participants.visits(p.id), arm=arm, reveal_arm=reveal_arm, today=ctx.today()
    )


def participant_endpoints(ctx: ServiceContext, actor: Actor, trial: str, pid: str) -> dict[str, Any]:
    """Every endpoint of the protocol for one participant, from the stored data, each with its
    reason; the arm only for roles allowed to see it."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "view")
    blinded = not sees_arms(protocol, role)
    with ctx.uow() as uow:
        p = visible_participant(uow, actor, protocol.id, pid)
        derived = _derive(ctx, uow, protocol, p, reveal_arm=not blinded)
    if derived is None:
        raise WorkflowError(
            f"participant {pid}: no origin yet (not randomized or enrolled); endpoints start there",
            code="no_origin",
            field="participant",
        )
    return derived[0]


def _participants(
    ctx: ServiceContext, protocol: Protocol, actor: Actor | None = None, site: str | None = None
) -> Iterator[tuple[UnitOfWork, Participant]]:
    """The participants an export covers: those ``actor`` may see (all for the operator), of one
    ``site`` when given."""
    with ctx.uow() as uow:
        for p in uow.participants.iter_participants(protocol.id):
            if (site is None or p.site == site) and (actor is None or site_visible(actor, protocol.id, p.site)):
                yield uow, p


def adtte_rows(
    ctx: ServiceContext,
    protocol: Protocol,
    *,
    with_arm: bool = True,
    actor: Actor | None = None,
    site: str | None = None,
) -> Iterator[dict[str, Any]]:
    """ADTTE rows: one per participant with an origin and time-to-event endpoint, ordered by
    USUBJID then PARAMCD; AVAL = ADT - STARTDT in days; CNSR 0 event, 1 censored."""
    rules = [
        r for r in parse_endpoint_rules(protocol.endpoint_rules, trial=protocol.id).endpoints if r.kind in TIME_TO_EVENT
    ]
    for uow, p in _participants(ctx, protocol, actor, site):
        arm = _arm(ctx, uow, protocol, p.id)
        derived = _derive(ctx, uow, protocol, p, reveal_arm=with_arm, arm=arm)
        if derived is None:
            continue
        doc = derived[0]
        by_id = {e["endpoint"]: e for e in doc["endpoints"]}
        rows = []
        for r in rules:
            e = by_id[r.id]
            row = {
                "STUDYID": protocol.id,
                "USUBJID": p.id,
                "ARM": arm,
                "PARAMCD": paramcd(r.id),
                "STARTDT": doc["origin"],
                "ADT": e["date"],
                "AVAL": e["days"],
                "CNSR": 0 if e["event"] else 1,
                "EVNTDESC": e["reason"],
            }
            if not with_arm:
                del row["ARM"]
            rows.append(row)
        yield from sorted(rows, key=lambda x: x["PARAMCD"])


#: ADRS parameters (admiralonco's codes; OVRLRESP is CDISC's overall response at a time point)
ADRS_PARAMS = {
    "OVRLRESP": "Overall response at the time point",
    "BOR": "Best overall response (unconfirmed)",
    "CBOR": "Best confirmed overall response",
}


def participant_adrs(
    patient: Patient,
    protocol: Protocol,
    *,
    origin: dt.date,
    baseline: dt.date,
    arm: str | None,
    reveal_arm: bool = True,
) -> list[dict[str, Any]]:
    """One participant's ADRS records, without the study, subject and arm columns.

    - ``OVRLRESP``: the overall response at each time point after the response baseline, by the
      protocol's response criteria. ``ANL01FL`` is "Y" on the records the best response uses
      (admiralonco's analysis flag): on or after the origin, before the first new anticancer
      therapy (the line that censors PFS: protocol therapy of the participant's own arm is not
      one) and up to and including the first PD (iCPD under iRECIST; RECIST 1.1 s.4.4.3: best
      response "recorded from the start of the treatment until disease progression/recurrence");
      blank otherwise.
    - ``BOR``: the best overall response without confirmation, from the ANL01FL records.
    - ``CBOR``: the best overall response with confirmation (RECIST 1.1 s.4.4.3: CR or PR "met at
      a subsequent time point ... (generally 4 weeks later)"; an unconfirmed CR or PR is SD when
      the SD minimum from the origin is met, else PD or NE as Table 3 says), from the same records.
      The intervals are the protocol's ``response_confirmation`` (a labelled assumption where the
      registry is silent).

    A participant without a post-origin time point has BOR and CBOR "NE" (not evaluable)."""
    rules = parse_endpoint_rules(protocol.endpoint_rules, trial=protocol.id)
    endpoints_ = rules.endpoints
    criteria: Criteria = next(
        (r.criteria for r in endpoints_ if r.kind in ("orr", "dcr")),
        next((r.criteria for r in endpoints_ if r.kind == "pfs"), "recist1.1"),
    )
    options = response_options(rules)
    assessed = assess_patient(
        patient, criteria=criteria, baseline=baseline, start=origin, recist_options=options
    ).document
    nact = new_anticancer_therapy(patient, protocol, origin, arm, [], reveal_arm=reveal_arm)
    until = nact[0].date if nact else None
    progression = ("iCPD",) if criteria == "irecist" else ("PD",)
    resp = [(dt.date.fromisoformat(tp["date"]), tp["overall"]) for tp in assessed["timepoints"]]
    base = {"CRIT": assessed["criteria"], "BASEDT": assessed["baseline"]}
    rows, progressed = [], False
    for d, r in resp:
        used = d >= origin and (until is None or d < until) and not progressed
        progressed = progressed or (used and r in progression)
        rows.append(
            {
                **base,
                "PARAMCD": "OVRLRESP",
                "PARAM": ADRS_PARAMS["OVRLRESP"],
                "ADT": d.isoformat(),
                "AVALC": r,
                "ANL01FL": "Y" if used else "",
            }
        )
    for code, confirm in (("BOR", False), ("CBOR", True)):
        bor = best_response(resp, criteria=criteria, start=origin, confirm=confirm, until=until, options=options)
        rows.append(
            {
                **base,
                "PARAMCD": code,
                "PARAM": ADRS_PARAMS[code],
                "ADT": bor.date.isoformat() if bor.date else None,
                "AVALC": bor.response or "NE",
                "ANL01FL": "Y",
            }
        )
    return rows


def response_paramcd(protocol: Protocol) -> str:
    """The ADRS parameter a response rate counts: CBOR where the protocol's ORR/DCR rule asks for
    confirmation (the registry's response endpoint needs it), BOR otherwise."""
    rules = parse_endpoint_rules(protocol.endpoint_rules, trial=protocol.id).endpoints
    return "CBOR" if any(r.confirm_response for r in rules if r.kind in ("orr", "dcr")) else "BOR"


def adrs_rows(
    ctx: ServiceContext,
    protocol: Protocol,
    *,
    with_arm: bool = True,
    actor: Actor | None = None,
    site: str | None = None,
) -> Iterator[dict[str, Any]]:
    """ADRS rows (:func:`participant_adrs`) of every participant with an origin and a response
    baseline (the last scan on or before the origin), ordered by USUBJID, then OVRLRESP by date,
    BOR, CBOR."""
    for uow, p in _participants(ctx, protocol, actor, site):
        arm = _arm(ctx, uow, protocol, p.id)
        derived = _derive(ctx, uow, protocol, p, reveal_arm=with_arm, arm=arm)
        if derived is None or derived[0]["response_baseline"] is None:
            continue
        doc, patient = derived  # the record as the endpoints read it, not built and parsed again
        try:
            rows = participant_adrs(
                patient,
                protocol,
                origin=dt.date.fromisoformat(doc["origin"]),
                baseline=dt.date.fromisoformat(doc["response_baseline"]),
                arm=arm,
                reveal_arm=with_arm,
            )
        except AssessmentError:
            continue
        for row in rows:
            yield _row({"STUDYID": protocol.id, "USUBJID": p.id, "ARM": arm, **row}, with_arm)


def _row(row: dict[str, Any], with_arm: bool) -> dict[str, Any]:
    if not with_arm:
        row.pop("ARM", None)
    return row


def csv_lines(rows: Iterator[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    """CSV text (RFC 4180 quoting, header first), one line at a time."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\r\n", extrasaction="raise")
    w.writeheader()
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow(row)
        yield buf.getvalue()


def export(
    ctx: ServiceContext, actor: Actor | None, trial: str, dataset: str, site: str | None = None
) -> tuple[Iterator[str], bool]:
    """A dataset (``adtte`` or ``adrs``) as CSV lines for ``actor``, and whether it carries the arm.
    ``actor`` None is the operator at the command line (unblinded, as the format specifies)."""
    protocol = ctx.load_protocol(trial)
    with_arm = True
    if actor is not None:
        role = authorize(actor, protocol.id, "export")
        with_arm = sees_arms(protocol, role)
    if dataset == "adtte":
        cols = ADTTE_COLUMNS if with_arm else tuple(c for c in ADTTE_COLUMNS if c != "ARM")
        return csv_lines(adtte_rows(ctx, protocol, with_arm=with_arm, actor=actor, site=site), cols), with_arm
    if dataset == "adrs":
        cols = ADRS_COLUMNS if with_arm else tuple(c for c in ADRS_COLUMNS if c != "ARM")
        return csv_lines(adrs_rows(ctx, protocol, with_arm=with_arm, actor=actor, site=site), cols), with_arm
    raise WorkflowError(f"dataset {dataset!r}: expected adtte or adrs", code="not_found", field="dataset")

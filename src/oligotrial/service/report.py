"""The trial report (format ``oligotrial.trial-report/1``, shared/formats/trial-report.md): what
a trial statistician signs, computed from what is stored at a data cut.

Populations are explicit: efficacy on the intention-to-treat set (every allocated participant,
in the arm allocated), safety on the as-treated set (participants who received the allocated
intervention, by the arm received: in oligotrial radiotherapy is checked against the allocated
arm, so the arm received is the arm allocated unless a deviation was overridden, which the
deviation listing shows). Every figure comes from the same exports a statistician gets (ADTTE,
ADRS) and the same statistics functions (``oligotrial.stats``), so the report's PFS equals
``oligotrial analysis survival`` run on the ADTTE export.

A blinded role gets the report with arms pooled (:func:`blind`): one group, no comparison, no
count by arm, no arm label.

The data cut is a snapshot: the report reads the database through a view that hides every
participant registered, every entry dated and every audit event made after the cut (see
:class:`_CutUow`), with the service clock fixed at the cut.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.trial.workflow import Participant
from oligotrial.service import consort, endpoints, followup
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, AuditRepository, ParticipantRepository, UnitOfWork, UnitOfWorkFactory
from oligotrial.service.rows import AuditRow, EntryRow, VisitRow

FORMAT = "oligotrial.trial-report/1"
MONTH_DAYS = 30.4375
POOLED = "all arms"


# ---- a snapshot at the data cut --------------------------------------------------------------


def _entry_date(e: EntryRow) -> str:
    d = e.get("data") or {}
    return str(d.get("date") or d.get("start") or e.get("at") or "")[:10]


class _CutParticipants:
    """The participants as they stood at the end of the cut day (read-only use): those
    registered by then, with the entries and the visits dated by then."""

    def __init__(self, repo: ParticipantRepository, cut: str) -> None:
        self._repo, self._cut = repo, cut

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def iter_participants(self, trial: str, batch: int = 200) -> Iterator[Participant]:
        for p in self._repo.iter_participants(trial, batch):
            if (p.created_at or "")[:10] <= self._cut:
                if p.randomized_on and p.randomized_on[:10] > self._cut:
                    p = dataclasses.replace(p, randomized_on=None, state="enrolled")
                yield p

    def entries(self, participant_id: str) -> list[EntryRow]:
        return [
            e
            for e in self._repo.entries(participant_id)
            if _entry_date(e) <= self._cut and str(e.get("at") or "")[:10] <= self._cut
        ]

    def visits(self, participant_id: str) -> list[VisitRow]:
        return [v for v in self._repo.visits(participant_id) if (v.get("actual") or "") <= self._cut]


class _CutAudit:
    """The audit trail as it stood at the end of the cut day (read-only use)."""

    def __init__(self, repo: AuditRepository, cut: str) -> None:
        self._repo, self._cut = repo, cut

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def audit_entries(self, trial: str | None = None, *args: Any, **kw: Any) -> list[AuditRow]:
        return [e for e in self._repo.audit_entries(trial, *args, **kw) if e["at"][:10] <= self._cut]


class _CutUow:
    _uow: UnitOfWork  # the unit of work read through, once entered

    def __init__(self, factory: UnitOfWorkFactory, cut: str) -> None:
        self._factory, self._cut = factory, cut

    def __enter__(self):
        self._uow = uow = self._factory().__enter__()
        self.participants = _CutParticipants(uow.participants, self._cut)
        self.audit = _CutAudit(uow.audit, self._cut)
        self.allocation, self.users, self.queries = uow.allocation, uow.users, uow.queries
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._uow.__exit__(exc_type, exc, tb)

    def commit(self) -> None:  # a report never writes through the snapshot
        raise RuntimeError("the data-cut snapshot is read-only")

    def rollback(self) -> None:
        self._uow.rollback()


def at_cut(ctx: ServiceContext, cut: dt.date) -> ServiceContext:
    """``ctx`` reading the database as it stood on ``cut``, with today = ``cut``."""
    end = dt.datetime.combine(cut, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return dataclasses.replace(ctx, uow=lambda: _CutUow(ctx.uow, cut.isoformat()), clock=lambda: end)


# ---- the parts --------------------------------------------------------------------------------


def control_arm(protocol: Protocol) -> str | None:
    """The comparator arm of a randomized trial (None in a single-arm trial)."""
    if followup.single_group(protocol):
        return None
    return next(
        (
            a.id
            for a in protocol.arms
            if a.type in ("active_comparator", "placebo_comparator", "no_intervention", "sham_comparator")
        ),
        protocol.arms[-1].id,
    )


def _survival(rows: list[dict[str, Any]], reference: str | None, *, at: tuple[float, ...]) -> dict[str, Any]:
    from oligotrial.stats import analyse_survival

    time = [r["AVAL"] / MONTH_DAYS for r in rows]
    event = [1 - int(r["CNSR"]) for r in rows]
    group = [r["ARM"] for r in rows]
    groups = sorted(set(group))
    longest = min(max(t for t, g in zip(time, group, strict=True) if g == lv) for lv in groups) if rows else 0
    tau = 12.0 if longest >= 12 else (round(longest, 1) if longest > 0 else None)
    doc = analyse_survival(time, event, group, at=at, tau=tau, reference=reference if reference in groups else None)
    doc["time_unit"] = "months"
    return doc


def _baseline(patients: dict[str, Any], arm_of: dict[str, str], arms: list[str]) -> dict[str, Any]:
    """Baseline characteristics by arm (ITT): age, sex, ECOG, lesions."""
    out: dict[str, Any] = {}
    for arm in arms:
        recs = [patients[p] for p, a in arm_of.items() if a == arm and p in patients]
        ages = [r["age"] for r in recs if r["age"] is not None]
        lesions = [r["lesions"] for r in recs]
        q = statistics.quantiles(ages, n=4) if len(ages) >= 2 else [None, None, None]
        out[arm] = {
            "n": len(recs),
            "age_years": {"median": statistics.median(ages) if ages else None, "q1": q[0], "q3": q[2]},
            "sex": dict(sorted(Counter(r["sex"] for r in recs).items())),
            "ecog": dict(sorted(Counter(str(r["ecog"]) for r in recs).items())),
            "lesions": {
                "median": statistics.median(lesions) if lesions else None,
                "min": min(lesions) if lesions else None,
                "max": max(lesions) if lesions else None,
            },
        }
    return out


def _baseline_facts(p: Participant) -> dict[str, Any]:
    rec = p.record
    as_of_text = (p.screening or {}).get("as_of") or rec.get("as_of")
    assert as_of_text, f"participant {p.id}: registration stamps the record's as_of"
    as_of = dt.date.fromisoformat(as_of_text)
    age = None
    if rec.get("birth_date"):
        b = dt.date.fromisoformat(rec["birth_date"])
        age = as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day))
    elif rec.get("age_years") is not None:
        age = rec["age_years"]
    ecog = [x for x in rec.get("performance") or [] if x.get("scale") == "ECOG"]
    return {
        "age": age,
        "sex": rec.get("sex", "unknown"),
        "ecog": max(ecog, key=lambda x: x["date"])["score"] if ecog else "unknown",
        "lesions": len(rec.get("lesions") or []),
    }


def _qol_rows(
    p: Participant, arm: str, entries: list[EntryRow], visits: list[VisitRow], origin: dt.date
) -> list[dict[str, Any]]:
    by_date = {v["actual"]: v["code"] for v in visits if v.get("actual")}
    out = []
    for e in followup.active(entries):
        if e["kind"] != "qol":
            continue
        d = e["data"]
        visit = "baseline" if d["date"] <= origin.isoformat() else by_date.get(d["date"])
        if visit is None:
            continue
        out.append(
            {
                "participant": p.id,
                "arm": arm,
                "visit": visit,
                "instrument": d["instrument"],
                "responses": d["responses"],
            }
        )
    return out


def _deviations(uow: UnitOfWork, protocol: Protocol, participants: list[Participant], cut: str) -> list[dict[str, Any]]:
    """Protocol deviations: radiotherapy outside the allocated arm's regimen (overridden),
    enrolment against the screening verdict (overridden), visits out of window or missed."""
    out: list[dict[str, Any]] = []
    for n in uow.participants.notifications(protocol.id):
        if n["at"][:10] <= cut and n["kind"] == "radiotherapy_deviation":
            out.append(
                {
                    "participant": n["participant_id"],
                    "kind": "radiotherapy outside the arm's regimen",
                    "date": n["at"][:10],
                    "detail": n["message"],
                }
            )
    for p in participants:
        override = (p.enrolment or {}).get("override")
        if override:
            out.append(
                {
                    "participant": p.id,
                    "kind": "enrolled against the screening verdict",
                    "date": (p.enrolment or {}).get("at", "")[:10],
                    "detail": override.get("reason"),
                }
            )
        for v in uow.participants.visits(p.id):
            if v["status"] == "done_out_of_window":
                out.append(
                    {
                        "participant": p.id,
                        "kind": "visit out of window",
                        "date": v["actual"],
                        "detail": f"{v['code']}: window {v['earliest']}..{v['latest']}; {v.get('note') or ''}",
                    }
                )
            elif v["status"] == "missed":
                out.append(
                    {
                        "participant": p.id,
                        "kind": "visit missed",
                        "date": v["target"],
                        "detail": f"{v['code']}: {v.get('note') or ''}",
                    }
                )
    return sorted(out, key=lambda x: (x["date"] or "", x["participant"], x["kind"]))


def database_state(ctx: ServiceContext, trial: str) -> dict[str, Any]:
    """What the report was made from: the audit chain's head (sequence and hash: any later
    write moves it) and the trial's audit event count up to the cut."""
    with ctx.uow() as uow:
        head = uow.audit.audit_head()
        n = len(uow.audit.audit_entries(trial))
    return {
        "audit_head_seq": head[0] if head else 0,
        "audit_head_hash": head[1] if head else None,
        "trial_audit_events": n,
    }


# ---- the report --------------------------------------------------------------------------------


def build_report(ctx: ServiceContext, trial: str, *, data_cut: dt.date, pooled: bool = False) -> dict[str, Any]:
    """The report at ``data_cut``: full and unblinded (the operator's view: command line), or with
    ``pooled`` the view of a blinded role: every participant in one group (:data:`POOLED`), no
    comparison, no arm labels, no count by arm, deviations counted by kind without their detail
    (a radiotherapy deviation's message names the dose)."""
    from oligotrial.service.randomization import allocation_arm
    from oligotrial.stats import adverse_event_summary, qol_change_from_baseline, response_rates

    protocol = ctx.load_protocol(trial)
    live_state = database_state(ctx, protocol.id)
    ctx = at_cut(ctx, data_cut)
    cut = data_cut.isoformat()
    single = followup.single_group(protocol)
    arms = [a.id for a in protocol.arms]
    reference = control_arm(protocol)
    arm_of: dict[str, str] = {}
    with ctx.uow() as uow:
        # ordered by their own data, not by storage's order of random ids: the same data gives
        # the same report (QoL arms in order of first appearance, sums in participant order)
        participants = sorted(uow.participants.iter_participants(protocol.id), key=lambda p: (p.external_id, p.id))
        for p in participants:
            if single:
                if p.enrolment:
                    arm_of[p.id] = arms[0]
            else:
                a = uow.allocation.get_allocation(p.id)
                if a is not None and a.allocated_at[:10] <= cut:
                    arm_of[p.id] = allocation_arm(ctx, a)
    flow = consort.consort_flow(ctx, protocol, data_cut=data_cut, arm_of=arm_of)
    itt = {a: flow["participants"][a] for a in arms}
    if pooled:
        flow = consort.pooled(flow, POOLED)
        itt = {POOLED: sorted(p for ids in itt.values() for p in ids)}
    with ctx.uow() as uow:
        facts = {p.id: _baseline_facts(p) for p in participants if p.id in arm_of}
        treated: dict[str, list[str]] = {a: [] for a in arms}
        ae_events, qol_rows = [], []
        for p in participants:
            if p.id not in arm_of:
                continue
            arm = arm_of[p.id]
            entries = uow.participants.entries(p.id)
            if p.radiotherapy or not consort.arm_has_radiotherapy(protocol, arm):
                treated[arm].append(p.id)
            if pooled:
                arm = POOLED
            for e in followup.active(entries):
                if e["kind"] == "adverse_event":
                    d = e["data"]
                    ae_events.append(
                        {"participant": p.id, "term": d["term"], "grade": d["grade"], "serious": d.get("serious")}
                    )
            origin, _ = followup.origin_of(p, single_group=single)
            if origin is not None:
                qol_rows += _qol_rows(p, arm, entries, uow.participants.visits(p.id), origin)
        deviations = _deviations(uow, protocol, [p for p in participants if p.id in arm_of], cut)
    safety_set = {p for ids in treated.values() for p in ids}
    ae_events = [e for e in ae_events if e["participant"] in safety_set]
    if pooled:
        treated = {POOLED: sorted(safety_set)}
        arm_of = {p: POOLED for p in arm_of}
        arms, reference = [POOLED], None
        deviations = [{"kind": k, "count": n} for k, n in sorted(Counter(d["kind"] for d in deviations).items())]
    adtte = list(endpoints.adtte_rows(ctx, protocol, with_arm=True))
    # the analyses read the rows in participant order (by their data), as above
    rank = {p.id: i for i, p in enumerate(participants)}
    adtte.sort(key=lambda r: (rank.get(r["USUBJID"], len(rank)), r["USUBJID"], r["PARAMCD"]))
    if pooled:
        adtte = [dict(r, ARM=POOLED) for r in adtte]
    by_param: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in adtte:
        by_param[r["PARAMCD"]].append(r)
    surv = {k: _survival(v, reference, at=(6.0, 12.0)) for k, v in sorted(by_param.items())}
    bor_code = endpoints.response_paramcd(protocol)  # CBOR where the registry's response endpoint needs confirmation
    adrs = [r for r in endpoints.adrs_rows(ctx, protocol, with_arm=True) if r["PARAMCD"] == bor_code]
    bor = {r["USUBJID"]: r["AVALC"] for r in adrs}
    orr = response_rates(
        {a: (sum(bor.get(p) in ("CR", "PR", "iCR", "iPR") for p in itt[a]), len(itt[a])) for a in arms},
        reference=reference,
    )
    dcr = response_rates(
        {
            a: (
                sum(
                    bor.get(p) in ("CR", "PR", "SD", "NON-CR/NON-PD", "iCR", "iPR", "iSD", "NON-iCR/NON-iUPD")
                    for p in itt[a]
                ),
                len(itt[a]),
            )
            for a in arms
        },
        reference=reference,
    )
    visit_order = ["baseline"] + [v.code for v in _schedule(protocol)]
    qol = {}
    for name, instrument, scale in (
        ("EQ-5D-5L index (England value set)", "EQ-5D-5L", "index"),
        ("QLQ-C30 global health status", "EORTC QLQ-C30", "QL2"),
    ):
        rows = [r for r in qol_rows if r["instrument"] == instrument]
        present = {r["visit"] for r in rows}
        qol[name] = (
            qol_change_from_baseline(
                rows, instrument=instrument, scale=scale, visit_order=[v for v in visit_order if v in present]
            )
            if rows
            else []
        )
    report: dict[str, Any] = {
        "format": FORMAT,
        "trial": protocol.id,
        "short_name": protocol.short_name,
        "protocol_version": protocol.version,
        "data_cut": cut,
        "database_state": live_state,
        "blinded": pooled,
        "arms": [POOLED] if pooled else [{"id": a.id, "label": a.label, "type": a.type} for a in protocol.arms],
        "reference_arm": reference,
        "populations": {
            "intention_to_treat": {"definition": consort.DEFINITIONS["analysed"], "n": {a: len(itt[a]) for a in arms}},
            "as_treated": {
                "definition": "participants who received the allocated intervention, by the arm received (safety)",
                "n": {a: len(treated[a]) for a in arms},
            },
            "per_protocol": {"definition": "not named by the protocol: not analysed", "n": None},
        },
        "consort": {k: v for k, v in flow.items() if k != "participants"},
        "baseline": _baseline(facts, arm_of, arms),
        "endpoints": surv,
        "response": {
            "criteria": f"best overall response (ADRS {bor_code}) by the protocol's response criteria; "
            "denominator the intention-to-treat set, a participant without an evaluable "
            "response counting as a non-responder (RECIST 1.1, Eisenhauer et al. 2009: every "
            "participant included in the response rate)",
            "orr": orr,
            "dcr": dcr,
        },
        "safety": adverse_event_summary({a: treated[a] for a in arms}, ae_events),
        "quality_of_life": qol,
        "deviations": deviations,
    }
    if pooled:
        return _neutral(report) | {"_adtte": dict(by_param)}
    report["_adtte"] = dict(by_param)  # the rows each analysis used (for the plots; not part of report.json)
    primary = _primary_tte(protocol, by_param)
    # a comparison needs every arm in the data (degenerate data, e.g. one participant: no error)
    every_arm = {p: all(any(r["ARM"] == a for r in by_param[p]) for a in arms) for p in by_param}
    if primary and not single and not pooled and every_arm[primary]:
        report["forest"] = _forest(by_param[primary], facts, reference, primary)
    if _names_cost_effectiveness(protocol) and not single and not pooled and "PFS" in by_param and "OS" in by_param:
        if every_arm["PFS"] and every_arm["OS"]:
            report["cost_effectiveness"] = _cea(by_param, reference, arms)
        else:
            report["cost_effectiveness"] = {
                "not_estimated": "an arm has no participant with PFS and OS at the data cut: the model compares arms"
            }
    return report


def _schedule(protocol: Protocol) -> list[Any]:
    from oligotrial.domain.protocol.schedule_schema import parse_schedule

    spec = parse_schedule(protocol.schedule, blinded_roles=protocol.masking.blinded_roles)
    return list(spec.visits) if spec is not None else []


def _primary_tte(protocol: Protocol, by_param: dict[str, list]) -> str | None:
    for e in protocol.endpoints.primary:
        code = endpoints.paramcd(e.id)
        if code in by_param:
            return code
    return "PFS" if "PFS" in by_param else None


def _names_cost_effectiveness(protocol: Protocol) -> bool:
    return any("cost" in e.id for e in [*protocol.endpoints.primary, *protocol.endpoints.secondary])


def _forest(rows: list[dict[str, Any]], facts: dict[str, Any], reference: str | None, param: str) -> dict[str, Any]:
    from oligotrial.stats import subgroup_hazard_ratios

    use = [r for r in rows if r["USUBJID"] in facts]
    f = [facts[r["USUBJID"]] for r in use]
    subgroups = {
        "sex": [x["sex"] for x in f],
        "age": ["< 65" if (x["age"] or 0) < 65 else ">= 65" for x in f],
        "ECOG": ["0" if x["ecog"] == 0 else ">= 1" for x in f],
    }
    out = subgroup_hazard_ratios(
        [r["AVAL"] / MONTH_DAYS for r in use],
        [1 - int(r["CNSR"]) for r in use],
        [r["ARM"] for r in use],
        subgroups=subgroups,
        reference=reference,
    )
    return {"endpoint": param, "rows": out}


def _cea(by_param: dict[str, list], reference: str | None, arms: list[str]) -> dict[str, Any]:
    """STOP-2's economic evaluation: the partitioned-survival model (``oligotrial.stats.cea``) on
    the trial's own PFS and OS Kaplan-Meier curves, with the packaged reference scenario's
    utilities and costs (data/cea_stop2.yaml: assumptions, not registry values); the scenario's
    control ("SOC") and experimental ("SBRT") up-front costs go to this trial's control and other
    arm."""
    from oligotrial.stats.cea import CeaInputs, KaplanMeierCurve, cost_effectiveness, load_cea_scenario

    assert reference is not None  # a comparison: the trial has a control arm
    _curves, inputs, _ref, doc = load_cea_scenario("stop2")
    scenario_ref = doc["reference_arm"]
    other = next(k for k in inputs.upfront_cost if k != scenario_ref)
    names = {a: (scenario_ref if a == reference else other) for a in arms}
    mapped = CeaInputs(
        **{
            **{f.name: getattr(inputs, f.name) for f in dataclasses.fields(inputs)},
            "upfront_cost": {a: inputs.upfront_cost[names[a]] for a in arms},
            "upfront_cost_se": {
                a: inputs.upfront_cost_se[names[a]] for a in arms if names[a] in inputs.upfront_cost_se
            },
        }
    )

    # the PSA bootstraps participants, PFS and OS rows in the same participant order: an order made
    # from the data (OS then PFS time and censoring), not from the participants' random ids, so that
    # the same trial gives the same PSA (ADTTE's order, by id, differs between two runs of a demo)
    outcome = {(r["USUBJID"], r["PARAMCD"]): (r["AVAL"], int(r["CNSR"])) for p in ("PFS", "OS") for r in by_param[p]}

    def order(pid: str) -> tuple:
        return (outcome.get((pid, "OS"), (-1, -1)), outcome.get((pid, "PFS"), (-1, -1)), pid)

    def curve(param: str, arm: str) -> Any:
        rows = sorted((r for r in by_param[param] if r["ARM"] == arm), key=lambda r: order(r["USUBJID"]))
        return KaplanMeierCurve(tuple(r["AVAL"] / MONTH_DAYS for r in rows), tuple(1 - int(r["CNSR"]) for r in rows))

    curves = {a: {"pfs": curve("PFS", a), "os": curve("OS", a)} for a in arms}
    out = cost_effectiveness(curves, mapped, reference_arm=reference, psa_draws=1000, seed=1)
    out["scenario"] = {
        "source": "data/cea_stop2.yaml (reference scenario; utilities and costs are assumptions)",
        "arms": names,
    }
    out["currency"] = doc.get("currency")
    return out


#: keys of the statistics' documents renamed in a blinded report: "arm" names nothing there (every
#: participant is in one pooled group), and a blinded reader should not meet arm vocabulary at all
_NEUTRAL = {"arms": "groups", "arm": "group", "reference_arm": "reference_group"}


def _neutral(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {_NEUTRAL.get(k, k): _neutral(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_neutral(v) for v in obj]
    return obj


def public(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` without its working data (keys starting with ``_``): what report.json holds."""
    return {k: v for k, v in report.items() if not k.startswith("_")}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- storing and signing reports ---------------------------------------------------------------


def record_report(
    ctx: ServiceContext,
    actor: Actor,
    trial: str,
    *,
    report_id: str,
    data_cut: str,
    sha256: dict[str, str],
    state: dict[str, Any],
    where: str,
) -> dict[str, Any]:
    """Record a report in the audit trail: its id, data cut, the SHA-256 of each file written and
    the database state it was made from. A report is never overwritten: its files are archived
    under their id, and this entry pins their content."""
    from oligotrial.service import audit

    protocol = ctx.load_protocol(trial)
    new = {"report_id": report_id, "data_cut": data_cut, "sha256": sha256, "database_state": state, "stored_at": where}
    with ctx.uow() as uow:
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="report.create",
            entity_type="report",
            entity_id=report_id,
            new=new,
        )
        uow.commit()
    return new


def sign_report(
    ctx: ServiceContext,
    actor: Actor,
    trial: str,
    report_id: str,
    *,
    by: str,
    role: str,
    statement: str = "reviewed and approved",
) -> dict[str, Any]:
    """Record a sign-off of a stored report (who, in what role, what they state), in the audit
    trail; refused for a report id that was never recorded."""
    from oligotrial.errors import WorkflowError
    from oligotrial.service import audit

    protocol = ctx.load_protocol(trial)
    if not by.strip() or not role.strip():
        raise WorkflowError("sign-off: expected the signer's name and role", code="invalid", field="by")
    with ctx.uow() as uow:
        made = [
            e
            for e in uow.audit.audit_entries(protocol.id)
            if e["action"] == "report.create" and e["entity_id"] == report_id
        ]
        if not made:
            raise WorkflowError(
                f"report {report_id!r}: not recorded for trial {protocol.id}; expected the id "
                "`oligotrial report` printed",
                code="not_found",
                field="report",
            )
        new = {
            "report_id": report_id,
            "signed_by": by.strip(),
            "role": role.strip(),
            "statement": statement,
            "sha256": (made[-1].get("new") or {}).get("sha256"),
        }
        audit.record(
            uow, ctx, actor, trial=protocol.id, action="report.sign", entity_type="report", entity_id=report_id, new=new
        )
        uow.commit()
    return new


def stored_reports(ctx: ServiceContext, trial: str) -> list[dict[str, Any]]:
    """Every recorded report of ``trial`` with its sign-offs, oldest first."""
    protocol = ctx.load_protocol(trial)
    with ctx.uow() as uow:
        entries = uow.audit.audit_entries(protocol.id)
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        new = e.get("new") or {}
        if e["action"] == "report.create":
            out[e["entity_id"]] = {**new, "made_at": e["at"], "made_by": e["actor"], "signatures": []}
        elif e["action"] == "report.sign" and e["entity_id"] in out:
            out[e["entity_id"]]["signatures"].append(
                {"by": new.get("signed_by"), "role": new.get("role"), "statement": new.get("statement"), "at": e["at"]}
            )
    return list(out.values())


def report_for(ctx: ServiceContext, actor: Actor, trial: str, *, data_cut: dt.date | None = None) -> dict[str, Any]:
    """The report as ``actor``'s role may see it (the API): full for an unblinded role (the DSMB,
    the coordinator), arms pooled for a role the protocol blinds (STOP-2's statistician)."""
    from oligotrial.domain.trial.blinding import sees_arms
    from oligotrial.service.access import authorize

    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "report")
    # the system administrator is kept blind as on every other view of a blinded trial (the audit
    # trail, allocations): running the server is not a reason to see arms
    masked = not sees_arms(protocol, role)
    blinded = masked and trial_unblinding(ctx, protocol.id) is None
    from oligotrial.service.site_scope import scoped

    site = actor.site_in(protocol.id)  # a site-limited role: its site's participants only
    doc = build_report(scoped(ctx, actor, protocol.id), protocol.id, data_cut=data_cut or ctx.today(), pooled=blinded)
    if site is not None:
        doc["site"] = site
    return public(doc)


def trial_unblinding(ctx: ServiceContext, trial: str) -> dict[str, Any] | None:
    """The recorded unblinding of the whole trial (after the final analysis's database lock), or
    None while the trial is blinded."""
    with ctx.uow() as uow:
        done = [e for e in uow.audit.audit_entries(trial) if e["action"] == "trial.unblind"]
    return None if not done else {"at": done[-1]["at"], "by": done[-1]["actor"], **(done[-1].get("new") or {})}


def unblind_trial(ctx: ServiceContext, actor: Actor, trial: str, *, reason: str) -> dict[str, Any]:
    """Record that the trial is unblinded (the final analysis is locked): from then on the report
    shows the arms to every role allowed to read it. An administrator's act, with a reason, in
    the audit trail; it does not unblind participants' pages."""
    from oligotrial.errors import RecordError, WorkflowError
    from oligotrial.service import audit
    from oligotrial.service.access import authorize

    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "unblind_trial")
    if not protocol.masking.blinded_roles:
        raise WorkflowError(
            f"trial {protocol.id}: masking {protocol.masking.level!r} blinds no role; nothing to unblind",
            code="not_blinded",
            field="trial",
        )
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise RecordError(
            f"reason {reason!r}: expected why the trial is unblinded (10 characters or more)", field="reason"
        )
    if trial_unblinding(ctx, protocol.id) is not None:
        raise WorkflowError(f"trial {protocol.id}: already unblinded", code="already_recorded", field="trial")
    new = {"reason": reason}
    with ctx.uow() as uow:
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="trial.unblind",
            entity_type="trial",
            entity_id=protocol.id,
            new=new,
            reason=reason,
        )
        uow.commit()
    return new

"""The enrolment workflow: register -> screen -> consent -> enrol -> (randomize) -> radiotherapy
-> visits, assessments, adverse events, quality of life, events; corrections with a reason.

Each use case checks the role, loads the participant under a row lock, checks the step is
legal, writes, appends the audit entry and commits, all in one unit of work. Bad input raises
before anything is written.
"""

from __future__ import annotations

import datetime as dt
import inspect
import uuid
from typing import Any

from oligotrial.domain.trial import schedule, workflow
from oligotrial.domain.trial.blinding import is_blinded, radiotherapy_view
from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import BlindingError, ProtocolError, RecordError, WorkflowError
from oligotrial.protocols.schedule_schema import parse_schedule
from oligotrial.service import audit, followup
from oligotrial.service.followup import single_group
from oligotrial.service.access import authorize, site_visible, visible_participant
from oligotrial.service.context import ServiceContext
from oligotrial.service.ports import Actor, UnitOfWork

#: the longest record id a participant may carry (the storage column's width)
MAX_EXTERNAL_ID = 128


def _bad(field: str, value: Any, expected: str) -> RecordError:
    return RecordError(f"{field} {value!r}: expected {expected}", field=field,
                       errors=[{"path": field, "value": value, "expected": expected}])


def _date(data: dict, field: str, required: bool = True) -> str | None:
    v = data.get(field)
    if v is None:
        if required:
            raise _bad(field, v, "an ISO 8601 date (YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(str(v)).isoformat()
    except ValueError:
        raise _bad(field, v, "an ISO 8601 date (YYYY-MM-DD)") from None


def _text(data: dict, field: str, min_len: int = 1, max_len: int = 5000) -> str:
    v = data.get(field)
    if not isinstance(v, str) or not (min_len <= len(v.strip()) <= max_len):
        raise _bad(field, v, f"text of {min_len}-{max_len} characters")
    return v.strip()


def _load(uow: UnitOfWork, trial: str, pid: str, actor: Actor | None = None) -> Participant:
    return visible_participant(uow, actor, trial, pid, for_update=True)


def register(ctx: ServiceContext, actor: Actor, trial: str, record: Any, site: str | None = None) -> dict[str, Any]:
    """Register a candidate with their patient record, at ``site`` (a site-limited role registers at
    its own site; a multi-centre trial's participant belongs to one site)."""
    from oligotrial.service.users import check_site_code

    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "register")
    scope = actor.site_in(protocol.id)
    if site is not None:
        site = check_site_code(site)
        if scope is not None and site != scope:
            raise BlindingError(f"site {site!r}: your role in {protocol.id} covers site {scope!r} only",
                                code="forbidden", field="site")
    site = site or scope
    if not isinstance(record, dict):
        raise _bad("record", type(record).__name__, "a patient record object (oligotrial.patient/1)")
    patient = parse_patient(record, not_after=ctx.today())  # nothing the record says happened after today
    if len(patient.id) > MAX_EXTERNAL_ID:
        raise _bad("id", f"{patient.id[:20]}... ({len(patient.id)} characters)",
                   f"a record id of at most {MAX_EXTERNAL_ID} characters")
    now = ctx.now_iso()
    p = Participant(uuid.uuid4().hex, protocol.id, patient.id, dict(record), created_at=now, site=site)
    with ctx.uow() as uow:
        if uow.repo.find_participant(protocol.id, patient.id) is not None:
            raise WorkflowError(f"id {patient.id!r}: already registered in trial {protocol.id}",
                                code="duplicate", field="id")
        uow.repo.add_participant(p)
        audit.record(uow, ctx, actor, trial=protocol.id, action="participant.register",
                     entity_type="participant", entity_id=p.id, new={"record": p.record, "state": p.state,
                                                                     "site": p.site})
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def _loader_accepts(load: Any, name: str) -> bool:
    try:
        params = inspect.signature(load).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values())


def _protocol_at(ctx: ServiceContext, trial: str, *, version: str | None = None, on: dt.date | None = None) -> Any:
    """The protocol version named, or else the version current on ``on``, through
    ``ctx.load_protocol``. A loader that takes only the trial (a test's stand-in) gives its one
    protocol: the current one, and a named version only when it is that one."""
    load = ctx.load_protocol
    if version is not None:
        if _loader_accepts(load, "version"):
            return load(trial, version=version)
        p = load(trial)
        if p.version != version:
            raise ProtocolError(f"trial {p.id}: version {version!r}: expected one of {p.version!r}",
                                code="protocol_version_not_found", field="version")
        return p
    if on is not None and _loader_accepts(load, "on"):
        return load(trial, on=on)
    return load(trial)


def current_protocol(ctx: ServiceContext, trial: str) -> Any:
    """The version of ``trial``'s protocol in force today (by the service clock): the one a
    screening is judged under."""
    return _protocol_at(ctx, trial, on=ctx.today())


def _screening_date(ctx: ServiceContext, on: Any) -> dt.date:
    today = ctx.today()
    as_of = today if on is None else dt.date.fromisoformat(_date({"date": on}, "date"))
    if as_of > today:
        raise _bad("date", as_of.isoformat(), f"a screening date not after today ({today.isoformat()})")
    return as_of


def screen(ctx: ServiceContext, actor: Actor, trial: str, pid: str, *, assume_attested: bool = False,
           on: Any = None) -> dict:
    """Screen the participant's record as of ``on`` (the screening date: today unless the
    coordinator gives one), so that every window of the protocol counts back from that date and
    not from the date the record was written (its ``as_of``).

    The protocol is the version current today (by the service clock); the screening stores that
    version. A participant already screened under another version is not re-judged here: that
    is :func:`rescreen`, an explicit action with a reason."""
    protocol = current_protocol(ctx, trial)
    role = authorize(actor, protocol.id, "screen")
    as_of = _screening_date(ctx, on)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        screen_in(uow, ctx, actor, protocol, p, as_of=as_of, assume_attested=assume_attested)
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def screen_in(uow: UnitOfWork, ctx: ServiceContext, actor: Actor, protocol: Any, p: Participant, *,
              as_of: dt.date, assume_attested: bool = False) -> None:
    """:func:`screen`'s work inside the caller's unit of work, on ``p`` loaded under its row lock
    (the caller has checked the role and commits): a use case that changes the record and screens
    it again does both in one transaction."""
    workflow.check_step(p, "screen")
    old = p.screening
    judged_under = (old or {}).get("protocol_version")
    if judged_under is not None and judged_under != protocol.version:
        raise WorkflowError(
            f"participant {p.id}: screened under protocol version {judged_under!r}; the current version "
            f"is {protocol.version!r}. Re-screening under another version is an explicit action: "
            "expected a rescreen with the version and a reason", code="rescreen_required",
            field="protocol_version")
    patient = parse_patient({**p.record, "as_of": as_of.isoformat()})
    outcome = ctx.screener(patient, protocol, assume_attested=assume_attested)
    p.screening = {"verdict": outcome.verdict, "protocol_version": protocol.version, "as_of": as_of.isoformat(),
                   "assume_attested": assume_attested, "at": ctx.now_iso(), "result": outcome.to_dict()}
    workflow.advance(p, "screen")
    uow.repo.save_participant(p)
    audit.record(uow, ctx, actor, trial=protocol.id, action="participant.screen", entity_type="participant",
                 entity_id=p.id, old=None, new={"verdict": outcome.verdict,
                                                "protocol_version": protocol.version,
                                                "as_of": as_of.isoformat(),
                                                "previous_verdict": (old or {}).get("verdict")})


#: the shortest reason a re-screening accepts
RESCREEN_REASON_MIN = 10


def rescreen(ctx: ServiceContext, actor: Actor, trial: str, pid: str, *, version: str, reason: str,
             on: Any = None, assume_attested: bool = False) -> dict:
    """Re-screen a screened participant against protocol ``version`` (e.g. an amendment): an
    explicit, audited action, never a side effect of a new version.

    ``reason`` (at least 10 characters) is required; the version must exist and be in effect on
    the screening date ``on`` (today unless given). The new screening is stored with its
    version and the reason; the screenings it replaces are kept, newest last, in its
    ``previous_screenings``. The participant's state does not change, nor does an enrolment's
    ``protocol_version`` (the version the participant was enrolled under). The audit entry
    ``participant.rescreen`` holds the old and new verdict and version and the reason."""
    if not isinstance(reason, str) or len(reason.strip()) < RESCREEN_REASON_MIN:
        raise _bad("reason", reason, f"a reason for the re-screening of at least {RESCREEN_REASON_MIN} characters")
    if not isinstance(version, str) or not version.strip():
        raise _bad("version", version, "a protocol version of the trial, e.g. 2026-06-01.r2")
    reason, version = reason.strip(), version.strip()
    protocol = _protocol_at(ctx, trial, version=version)
    role = authorize(actor, protocol.id, "screen")
    as_of = _screening_date(ctx, on)
    effective = getattr(protocol, "effective_date", None)
    if effective is not None and effective > as_of:
        raise WorkflowError(
            f"version {protocol.version!r} of {protocol.id} takes effect on {effective.isoformat()}; "
            f"expected a version in effect on the screening date {as_of.isoformat()}",
            code="version_not_in_effect", field="version")
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        old = p.screening
        if not old:
            raise WorkflowError(f"participant {p.id}: not screened yet; expected a screening before a re-screening",
                                code="not_screened", field="screening")
        if p.state in workflow.TERMINAL:
            raise WorkflowError(f"participant {p.id}: cannot rescreen in state {p.state!r}",
                                code="illegal_step", field="state")
        patient = parse_patient({**p.record, "as_of": as_of.isoformat()})
        outcome = ctx.screener(patient, protocol, assume_attested=assume_attested)
        previous = [*old.get("previous_screenings", []),
                    {k: v for k, v in old.items() if k != "previous_screenings"}]
        p.screening = {"verdict": outcome.verdict, "protocol_version": protocol.version, "as_of": as_of.isoformat(),
                       "assume_attested": assume_attested, "at": ctx.now_iso(), "result": outcome.to_dict(),
                       "rescreen": {"reason": reason, "by": actor.username,
                                    "previous_protocol_version": old.get("protocol_version")},
                       "previous_screenings": previous}
        uow.repo.save_participant(p)
        audit.record(uow, ctx, actor, trial=protocol.id, action="participant.rescreen", entity_type="participant",
                     entity_id=p.id,
                     old={"verdict": old.get("verdict"), "protocol_version": old.get("protocol_version"),
                          "as_of": old.get("as_of")},
                     new={"verdict": outcome.verdict, "protocol_version": protocol.version,
                          "as_of": as_of.isoformat()},
                     reason=reason)
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def consent(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "consent")
    c = {"date": _date(data, "date"), "form_version": _text(data, "form_version", 1, 64),
         "obtained_by": actor.username}
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        workflow.advance(p, "consent")
        p.consent = c
        uow.repo.save_participant(p)
        audit.record(uow, ctx, actor, trial=protocol.id, action="participant.consent",
                     entity_type="participant", entity_id=p.id, new=c)
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


#: why a candidate assessed for eligibility is not enrolled (the CONSORT 2010 exclusion reasons)
NOT_ENROLLED_REASONS = ("not eligible", "declined", "other")


def close_screening(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Record that a registered or screened candidate will not be enrolled, and why: ``reason``
    one of :data:`NOT_ENROLLED_REASONS` (CONSORT 2010 item 13a, flow diagram: "Excluded: not
    meeting inclusion criteria, declined to participate, other reasons") and an optional
    ``note``. It changes no state (a candidate who changes their mind may still consent; the
    CONSORT flow counts who was randomized, whatever was recorded before); it is an audit event,
    from which the flow diagram counts the exclusions."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "screen")
    reason = data.get("reason") if isinstance(data, dict) else None
    if reason not in NOT_ENROLLED_REASONS:
        raise _bad("reason", reason, f"one of {', '.join(NOT_ENROLLED_REASONS)}")
    note = data.get("note")
    if note is not None:
        note = _text(data, "note", 1, 500)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        if p.state not in ("registered", "screened"):
            raise WorkflowError(f"participant {pid}: state {p.state!r}; closing a screening expected registered "
                                "or screened", code="invalid_transition", field="state")
        new = {"reason": reason, "note": note, "state": p.state,
               "verdict": (p.screening or {}).get("verdict"), "date": ctx.today().isoformat()}
        audit.record(uow, ctx, actor, trial=protocol.id, action="participant.not_enrolled",
                     entity_type="participant", entity_id=p.id, new=new, reason=note)
        uow.commit()
    return new


def enrol(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict | None = None) -> dict:
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "enrol")
    data = data or {}
    override = data.get("override")
    if override is not None and not isinstance(override, dict):
        raise _bad("override", override, "an object with a reason")
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        workflow.check_step(p, "enrol")
        decision = workflow.enrolment_decision((p.screening or {}).get("verdict"), override)
        if decision["override"]:
            decision["override"]["by"] = actor.username
        p.enrolment = {**decision, "protocol_version": (p.screening or {}).get("protocol_version"),
                       "at": ctx.now_iso()}
        workflow.advance(p, "enrol")
        uow.repo.save_participant(p)
        audit.record(uow, ctx, actor, trial=protocol.id, action="participant.enrol", entity_type="participant",
                     entity_id=p.id, new=p.enrolment,
                     reason=(decision["override"] or {}).get("reason"))
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def _schedule_anchors(p: Participant, *, single: bool = False,
                      entries: list[dict] | None = None) -> dict[str, dt.date | None]:
    """Visit anchors as they stand. In a single-group trial day 0 is enrolment, which stands in
    for the ``randomization`` anchor (there is none); ``progression`` is the first progression
    event in force."""
    rt = p.radiotherapy or {}
    enrolled = p.enrolment["at"][:10] if p.enrolment and p.enrolment.get("at") else None
    day0, _kind = followup.origin_of(p, single_group=single)  # the same day 0 as the endpoints
    progressions = sorted(e["data"]["date"] for e in followup.active(entries or [])
                          if e["kind"] == "event" and e["data"]["kind"] == "progression")

    def d(x: str | None) -> dt.date | None:
        return dt.date.fromisoformat(x[:10]) if x else None

    return {"randomization": day0, "enrolment": d(enrolled), "radiotherapy_start": d(rt.get("start")),
            "radiotherapy_end": d(rt.get("end")), "progression": d(progressions[0] if progressions else None)}


def visit_schedule(ctx: ServiceContext, protocol: Any, p: Participant, rows: list[dict],
                   entries: list[dict]) -> tuple[list[dict], list[dict]]:
    """The participant's visits dated from the anchors as they stand, with their status today,
    and the visits still waiting for their anchor (see :mod:`oligotrial.domain.trial.schedule`)."""
    spec = parse_schedule(protocol.schedule, blinded_roles=protocol.masking.blinded_roles)
    if spec is None:
        return [], []
    anchors = _schedule_anchors(p, single=single_group(protocol), entries=entries)
    visits, waiting = schedule.derive(spec.visits, anchors, {r["code"]: r for r in rows}, ctx.today())
    return [v.to_dict() for v in visits], waiting


#: the techniques a recorded radiotherapy course may name
RT_TECHNIQUES = ("SBRT", "SABR", "SRS", "IMRT", "VMAT", "3DCRT", "conventional")


def record_radiotherapy(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Record the radiotherapy delivered, checked against the participant's allocated arm (see
    :mod:`oligotrial.service.radiotherapy`); then plan the follow-up visits from the schedule."""
    from oligotrial.service import radiotherapy
    from oligotrial.service.randomization import arm_of

    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "radiotherapy")
    start, end = _date(data, "start"), _date(data, "end")
    if end < start:
        raise _bad("end", end, f"a date on or after start {start}")
    dose, fx = data.get("dose_gy"), data.get("fractions")
    if not isinstance(dose, int | float) or isinstance(dose, bool) or not 0 < dose <= 100:
        raise _bad("dose_gy", dose, "a total dose in Gy, 0 < dose_gy <= 100")
    if not isinstance(fx, int) or isinstance(fx, bool) or not 1 <= fx <= 40:
        raise _bad("fractions", fx, "an integer number of fractions 1..40")
    lesions = data.get("lesions", [])
    if not isinstance(lesions, list) or not all(isinstance(x, str) and x.strip() for x in lesions) \
            or len(set(lesions)) != len(lesions):
        raise _bad("lesions", lesions, "a list of distinct lesion ids")
    tech = data.get("technique")
    if tech is not None and tech not in RT_TECHNIQUES:
        raise _bad("technique", tech, f"one of {', '.join(RT_TECHNIQUES)}")
    fpw = data.get("fractions_per_week")
    if fpw is not None and (not isinstance(fpw, int | float) or isinstance(fpw, bool) or not 0 < fpw <= 14):
        raise _bad("fractions_per_week", fpw, "a number of fractions per week, 0 < fractions_per_week <= 14")
    override = data.get("override")
    if override is not None and not isinstance(override, dict):
        raise _bad("override", override, "an object with a reason")
    rt = {"start": start, "end": end, "dose_gy": float(dose), "fractions": fx, "technique": tech,
          "lesions": lesions}
    if fpw is not None:
        rt["fractions_per_week"] = float(fpw)
    plan = parse_schedule(protocol.schedule, blinded_roles=protocol.masking.blinded_roles)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        single = single_group(protocol)
        workflow.check_step(p, "radiotherapy", single_group=single)
        arm = protocol.arms[0].id if single else arm_of(ctx, protocol.id, p.id, uow)
        if arm is None:
            raise WorkflowError(f"participant {pid}: no allocated arm to check the radiotherapy against",
                                code="no_allocation", field="participant")
        report = radiotherapy.check(protocol, arm, rt, parse_patient(p.record))
        decision = workflow.radiotherapy_decision(report.status, override)
        if decision is None:
            raise radiotherapy.refusal(report, rt, blinded=is_blinded(protocol.masking.blinded_roles, role))
        if decision["override"]:
            decision["override"]["by"] = actor.username
        now = ctx.now_iso()
        workflow.advance(p, "radiotherapy", single_group=single)
        p.radiotherapy = {**rt, "check": radiotherapy.stored_result(report, decision, now)}
        uow.repo.save_participant(p)
        planned = []
        if plan is not None:
            planned = workflow.plan_visits(list(plan.visits), _schedule_anchors(p, single=single))
            uow.repo.add_visits(p.id, [
                {"code": v.code, "label": v.label, "anchor": v.anchor, "target": v.target.isoformat(),
                 "earliest": v.earliest.isoformat(), "latest": v.latest.isoformat(), "forms": list(v.forms),
                 "actual": None, "status": "planned", "note": None} for v in planned])
        codes = sorted({x["code"] for x in radiotherapy.problems(report)})
        if decision["deviation"]:
            uow.repo.add_notification(
                protocol.id, "radiotherapy_deviation", p.id,
                f"participant {p.id}: radiotherapy {rt['dose_gy']:g} Gy / {fx} fractions recorded outside the "
                f"allocated arm's regimen ({', '.join(codes)}); override by {actor.username}: "
                f"{decision['override']['reason']}", now)
        audit.record(uow, ctx, actor, trial=protocol.id, action="radiotherapy.record",
                     entity_type="participant", entity_id=p.id,
                     new={**rt, "check": {"status": report.status, "codes": codes,
                                          "deviation": decision["deviation"]}},
                     reason=(decision["override"] or {}).get("reason"))
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def record_visit(ctx: ServiceContext, actor: Actor, trial: str, pid: str, code: str, data: dict) -> dict:
    """Record a visit as done on ``date`` (outside its window only with ``out_of_window_reason``),
    or declare it missed (``missed: true`` with a ``reason``)."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "follow_up")
    missed = data.get("missed") is True
    on = None if missed else _date(data, "date")
    if missed:
        reason = _text(data, "reason", 3)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        workflow.check_step(p, "visit", single_group=single_group(protocol))
        rows = uow.repo.visits(p.id)
        visits, waiting = visit_schedule(ctx, protocol, p, rows, uow.repo.entries(p.id))
        visit = next((v for v in visits if v["code"] == code), None)
        if visit is None:
            pending = next((w for w in waiting if w["code"] == code), None)
            why = f"waits for its anchor ({pending['anchor']})" if pending else "is not in the protocol's schedule"
            raise WorkflowError(f"visit {code!r}: not scheduled for participant {pid}: it {why}", code="not_found",
                                field="visit")
        if visit["actual"] is not None or visit["status"] == "missed":
            raise WorkflowError(f"visit {code!r}: already recorded ({visit['status']}"
                                f"{' on ' + visit['actual'] if visit['actual'] else ''})", code="already_recorded",
                                field="visit")
        if on is not None and dt.date.fromisoformat(on) > ctx.today():
            raise _bad("date", on, f"a date not after today ({ctx.today().isoformat()})")
        row = next((r for r in rows if r["code"] == code), None)
        if row is None:  # scheduled from its anchor, not stored yet
            uow.repo.add_visits(p.id, [{k: visit[k] for k in ("code", "label", "anchor", "target", "earliest",
                                                                 "latest", "forms")} | {"actual": None, "status": "planned",
                                                                                        "note": None}])
            row = next(r for r in uow.repo.visits(p.id) if r["code"] == code)
        else:  # the window as it stands now (an anchor may have been corrected since it was stored)
            row.update({k: visit[k] for k in ("target", "earliest", "latest")})
        if missed:
            row.update(actual=None, status="missed", note=reason)
        else:
            ok = workflow.in_window(dt.date.fromisoformat(visit["earliest"]), dt.date.fromisoformat(visit["latest"]),
                                    dt.date.fromisoformat(on))
            note = data.get("out_of_window_reason")
            if not ok and not (isinstance(note, str) and note.strip()):
                raise _bad("out_of_window_reason", note,
                           f"a reason: {on} is outside the window {visit['earliest']}..{visit['latest']}")
            row.update(actual=on, status="done" if ok else "done_out_of_window", note=note if not ok else None)
        uow.repo.save_visit(row)
        audit.record(uow, ctx, actor, trial=protocol.id, action="visit.record", entity_type="visit",
                     entity_id=f"{p.id}/{code}", new={"actual": row["actual"], "status": row["status"],
                                                      "note": row["note"]})
        uow.commit()
    return {k: v for k, v in row.items() if k not in ("id", "participant_id")}


def visits_due(ctx: ServiceContext, actor: Actor, trial: str,
               statuses: tuple[str, ...] = ("due", "overdue"), site: str | None = None) -> list[dict]:
    """Every participant's visits with one of ``statuses`` today, for the coordinator's worklist;
    read a page of participants at a time."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "view")
    out = []
    with ctx.uow() as uow:
        for p in uow.repo.iter_participants(protocol.id):
            if p.state in workflow.TERMINAL or not site_visible(actor, protocol.id, p.site) \
                    or (site is not None and p.site != site):
                continue
            visits, _waiting = visit_schedule(ctx, protocol, p, uow.repo.visits(p.id), uow.repo.entries(p.id))
            out += [{"participant": p.id, "external_id": p.external_id, "site": p.site, **v}
                    for v in visits if v["status"] in statuses]
    return sorted(out, key=lambda v: (v["latest"], v["participant"]))


def add_entry(ctx: ServiceContext, actor: Actor, trial: str, pid: str, kind: str, data: Any) -> dict:
    """A follow-up entry: see :func:`oligotrial.service.followup.record_entry`."""
    return followup.record_entry(ctx, actor, trial, pid, kind, data)


def correct_record(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Replace the patient record of a participant; needs a reason, audited with old and new."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "correct_record")
    reason = _text(data, "reason", 3)
    record = data.get("record")
    if not isinstance(record, dict):
        raise _bad("record", record, "a patient record object")
    patient = parse_patient(record, not_after=ctx.today())
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        correct_record_in(uow, ctx, actor, protocol, p, record, patient, reason)
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def correct_record_in(uow: UnitOfWork, ctx: ServiceContext, actor: Actor, protocol: Any, p: Participant,
                      record: dict, patient: Any, reason: str) -> None:
    """:func:`correct_record`'s work inside the caller's unit of work, on ``p`` loaded under its
    row lock (the caller has checked the role and the reason, validated ``record`` as ``patient``
    with :func:`parse_patient`, and commits)."""
    workflow.check_step(p, "correct_record")
    if patient.id != p.external_id:
        raise _bad("record.id", patient.id, f"the participant's record id {p.external_id!r}")
    old = p.record
    p.record = dict(record)
    p.version += 1
    uow.repo.save_participant(p)
    audit.record(uow, ctx, actor, trial=protocol.id, action="participant.correct", entity_type="participant",
                 entity_id=p.id, old={"record": old}, new={"record": p.record}, reason=reason)


def participant_view(ctx: ServiceContext, protocol: Any, role: str, p: Participant,
                     visits: list[dict], entries: list[dict], allocation: dict | None = None,
                     waiting: list[dict] | None = None) -> dict:
    """The participant as ``role`` may see them: no arm, no radiotherapy detail for the blind."""
    blinded = is_blinded(protocol.masking.blinded_roles, role)
    view = {"id": p.id, "trial": p.trial, "external_id": p.external_id, "site": p.site, "state": p.state,
            "record": p.record, "screening": p.screening, "consent": p.consent, "enrolment": p.enrolment,
            "randomized_on": p.randomized_on, "radiotherapy": radiotherapy_view(p.radiotherapy, blinded),
            "visits": [{k: v[k] for k in ("code", "label", "anchor", "target", "earliest", "latest", "forms",
                                          "actual", "status", "note")} for v in visits],
            "visits_waiting": waiting or [],
            "entries": entries, "created_at": p.created_at, "version": p.version}
    if allocation is not None:
        view["allocation"] = allocation
    return view


def get_participant(ctx: ServiceContext, actor: Actor, trial: str, pid: str) -> dict:
    from oligotrial.service.randomization import allocation_arm, allocation_view
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "view")
    with ctx.uow() as uow:
        p = visible_participant(uow, actor, protocol.id, pid)
        stored = uow.repo.entries(p.id)
        visits, waiting = visit_schedule(ctx, protocol, p, uow.repo.visits(p.id), stored)
        entries = [followup.entry_view(e) for e in stored]
        a = uow.repo.get_allocation(p.id)
        alloc = None
        if a is not None:
            arm = allocation_arm(ctx, a)
            alloc = allocation_view(protocol, role, a.stratum, a.seq, a.strata, a.allocated_at, arm)
    return participant_view(ctx, protocol, role, p, visits, entries, alloc, waiting)


def list_participants(ctx: ServiceContext, actor: Actor, trial: str, site: str | None = None) -> list[dict]:
    """The trial's participants the actor may see (a site-limited role: its site's), optionally of
    one ``site``."""
    protocol = ctx.load_protocol(trial)
    authorize(actor, protocol.id, "view")
    with ctx.uow() as uow:
        rows = uow.repo.list_participants(protocol.id)
    return [{"id": p.id, "external_id": p.external_id, "site": p.site, "state": p.state, "created_at": p.created_at}
            for p in rows if site_visible(actor, protocol.id, p.site) and (site is None or p.site == site)]


def summary(ctx: ServiceContext, actor: Actor, trial: str) -> dict:
    """Accrual: totals by state; counts by arm only for roles that are not blinded."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "summary")
    from oligotrial.service.randomization import allocation_arm
    with ctx.uow() as uow:
        rows = uow.repo.list_participants(protocol.id)
        rl = uow.repo.get_list(protocol.id)
        allocs = uow.repo.allocations(protocol.id)
        arms = [allocation_arm(ctx, a) for a in allocs] \
            if role in ("coordinator", "dsmb") and not is_blinded(protocol.masking.blinded_roles, role) else None
    by_state: dict[str, int] = {}
    for p in rows:
        by_state[p.state] = by_state.get(p.state, 0) + 1
    out = {"trial": protocol.id, "short_name": protocol.short_name, "protocol_version": protocol.version,
           "participants": len(rows), "by_state": by_state, "randomized": len(allocs),
           "list": None if rl is None else {"method": rl.method, "commitment": rl.commitment,
                                            "created_at": rl.created_at}}
    sites = sorted({p.site for p in rows if p.site is not None})
    if sites:  # accrual per centre of a multi-centre trial (counts only)
        out["by_site"] = {s: sum(1 for p in rows if p.site == s) for s in sites}
    if arms is not None:
        out["by_arm"] = {a.id: arms.count(a.id) for a in protocol.arms}
    return out

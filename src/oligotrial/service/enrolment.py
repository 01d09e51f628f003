"""The enrolment workflow: register -> screen -> consent -> enrol -> (randomize) -> radiotherapy
-> visits, assessments, adverse events, quality of life, events; corrections with a reason.

Each use case checks the role, loads the participant under a row lock, checks the step is
legal, writes, appends the audit entry and commits, all in one unit of work. Bad input raises
before anything is written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal, cast, overload

from oligotrial.domain.protocol.schedule_schema import parse_schedule
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.record.patient import parse_patient
from oligotrial.domain.trial import schedule, workflow
from oligotrial.domain.trial.blinding import sees_arms
from oligotrial.domain.trial.workflow import Participant
from oligotrial.errors import BlindingError, RecordError, WorkflowError
from oligotrial.service import audit, followup, freetext
from oligotrial.service import radiotherapy as _rt_bounds
from oligotrial.service.access import authorize, site_visible, visible_participant
from oligotrial.service.context import ServiceContext
from oligotrial.service.followup import single_group
from oligotrial.service.masking import arm_neutral
from oligotrial.service.ports import Actor, UnitOfWork
from oligotrial.service.rows import EntryRow, NewVisit, VisitRow

#: the longest record id a participant may carry (the storage column's width)
MAX_EXTERNAL_ID = 128


def _bad(field: str, value: Any, expected: str) -> RecordError:
    return RecordError(
        f"{field} {value!r}: expected {expected}",
        field=field,
        errors=[{"path": field, "value": value, "expected": expected}],
    )


@overload
def _date(data: dict, field: str, required: Literal[True] = ...) -> str: ...
@overload
def _date(data: dict, field: str, required: bool) -> str | None: ...


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
            raise BlindingError(
                f"site {site!r}: your role in {protocol.id} covers site {scope!r} only", code="forbidden", field="site"
            )
    site = site or scope
    if not isinstance(record, dict):
        raise _bad("record", type(record).__name__, "a patient record object (oligotrial.patient/1)")
    today = ctx.today()  # the record's date when it has none; nothing it says happened after today
    patient = parse_patient(record, today=today, not_after=today)
    if len(patient.id) > MAX_EXTERNAL_ID:
        raise _bad(
            "id",
            f"{patient.id[:20]}... ({len(patient.id)} characters)",
            f"a record id of at most {MAX_EXTERNAL_ID} characters",
        )
    now = ctx.now_iso()
    p = Participant(uuid.uuid4().hex, protocol.id, patient.id, dict(record), created_at=now, site=site)
    with ctx.uow() as uow:
        if uow.participants.find_participant(protocol.id, patient.id) is not None:
            raise WorkflowError(
                f"id {patient.id!r}: already registered in trial {protocol.id}", code="duplicate", field="id"
            )
        uow.participants.add_participant(p)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.register",
            entity_type="participant",
            entity_id=p.id,
            new={"record": p.record, "state": p.state, "site": p.site},
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def current_protocol(ctx: ServiceContext, trial: str) -> Any:
    """The version of ``trial``'s protocol in force today (by the service clock): the one a
    screening is judged under, as every other look-up (:meth:`ServiceContext.load_protocol`)."""
    return ctx.load_protocol(trial)


def _screening_date(ctx: ServiceContext, on: Any) -> dt.date:
    today = ctx.today()
    as_of = today if on is None else dt.date.fromisoformat(_date({"date": on}, "date"))
    if as_of > today:
        raise _bad("date", as_of.isoformat(), f"a screening date not after today ({today.isoformat()})")
    return as_of


def screen(
    ctx: ServiceContext, actor: Actor, trial: str, pid: str, *, assume_attested: bool = False, on: Any = None
) -> dict:
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


def screen_in(
    uow: UnitOfWork,
    ctx: ServiceContext,
    actor: Actor,
    protocol: Protocol,
    p: Participant,
    *,
    as_of: dt.date,
    assume_attested: bool = False,
) -> None:
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
            "expected a rescreen with the version and a reason",
            code="rescreen_required",
            field="protocol_version",
        )
    patient = parse_patient({**p.record, "as_of": as_of.isoformat()}, today=ctx.today())
    outcome = ctx.screener(patient, protocol, assume_attested=assume_attested)
    p.screening = {
        "verdict": outcome.verdict,
        "protocol_version": protocol.version,
        "as_of": as_of.isoformat(),
        "assume_attested": assume_attested,
        "at": ctx.now_iso(),
        "result": outcome.to_dict(),
    }
    workflow.advance(p, "screen")
    uow.participants.save_participant(p)
    audit.record(
        uow,
        ctx,
        actor,
        trial=protocol.id,
        action="participant.screen",
        entity_type="participant",
        entity_id=p.id,
        old=None,
        new={
            "verdict": outcome.verdict,
            "protocol_version": protocol.version,
            "as_of": as_of.isoformat(),
            "previous_verdict": (old or {}).get("verdict"),
        },
    )


#: the shortest reason a re-screening accepts
RESCREEN_REASON_MIN = 10


def rescreen(
    ctx: ServiceContext,
    actor: Actor,
    trial: str,
    pid: str,
    *,
    version: str,
    reason: str,
    on: Any = None,
    assume_attested: bool = False,
) -> dict:
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
    protocol = ctx.load_protocol(trial, version)
    role = authorize(actor, protocol.id, "screen")
    as_of = _screening_date(ctx, on)
    effective = getattr(protocol, "effective_date", None)
    if effective is not None and effective > as_of:
        raise WorkflowError(
            f"version {protocol.version!r} of {protocol.id} takes effect on {effective.isoformat()}; "
            f"expected a version in effect on the screening date {as_of.isoformat()}",
            code="version_not_in_effect",
            field="version",
        )
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        old = p.screening
        if not old:
            raise WorkflowError(
                f"participant {p.id}: not screened yet; expected a screening before a re-screening",
                code="not_screened",
                field="screening",
            )
        if p.state in workflow.TERMINAL or p.state == "screening_closed":
            raise WorkflowError(
                f"participant {p.id}: cannot rescreen in state {p.state!r}", code="illegal_step", field="state"
            )
        patient = parse_patient({**p.record, "as_of": as_of.isoformat()}, today=ctx.today())
        outcome = ctx.screener(patient, protocol, assume_attested=assume_attested)
        previous = [*old.get("previous_screenings", []), {k: v for k, v in old.items() if k != "previous_screenings"}]
        p.screening = {
            "verdict": outcome.verdict,
            "protocol_version": protocol.version,
            "as_of": as_of.isoformat(),
            "assume_attested": assume_attested,
            "at": ctx.now_iso(),
            "result": outcome.to_dict(),
            "rescreen": {
                "reason": reason,
                "by": actor.username,
                "previous_protocol_version": old.get("protocol_version"),
            },
            "previous_screenings": previous,
        }
        uow.participants.save_participant(p)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.rescreen",
            entity_type="participant",
            entity_id=p.id,
            old={
                "verdict": old.get("verdict"),
                "protocol_version": old.get("protocol_version"),
                "as_of": old.get("as_of"),
            },
            new={"verdict": outcome.verdict, "protocol_version": protocol.version, "as_of": as_of.isoformat()},
            reason=reason,
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def _consent_date(ctx: ServiceContext, data: dict) -> str:
    """The consent date of ``data``: an ISO date not after today (the service clock). A consent
    signed in the future is not a consent yet: nothing that needs it could be recorded (ICH E6(R3)
    s.2.8: informed consent is obtained before participation)."""
    day = _date(data, "date")
    today = ctx.today()
    if dt.date.fromisoformat(day) > today:
        raise _bad("date", day, f"the date the consent was signed, not after today ({today.isoformat()})")
    return day


def consented_on(p: Participant) -> dt.date | None:
    """The date of the participant's consent (None: no consent recorded)."""
    day = (p.consent or {}).get("date")
    return dt.date.fromisoformat(day) if day else None


def check_after_consent(p: Participant, field: str, on: dt.date | str, what: str) -> None:
    """Refuse ``what`` dated ``on`` before the participant's consent: nothing that needs consent
    (enrolment, randomization, radiotherapy, visits, follow-up entries) may precede it."""
    consent = consented_on(p)
    day = dt.date.fromisoformat(on) if isinstance(on, str) else on
    if consent is not None and day < consent:
        raise _bad(
            field,
            day.isoformat(),
            f"a date on or after consent ({consent.isoformat()}): {what} needs "
            "the participant's consent (correct the consent date if it is wrong: "
            "PUT .../consent)",
        )


def needs_consent(p: Participant, visits: list[VisitRow], entries: list[EntryRow]) -> list[tuple[dt.date, str]]:
    """What the participant has recorded that needs their consent, each with its date, earliest
    first: enrolment, randomization, radiotherapy, visits done, follow-up entries in force of the
    kinds dated from consent (:data:`oligotrial.service.followup.AFTER_CONSENT`) and follow-up
    events (dated on or after the origin)."""
    out: list[tuple[dt.date, str]] = []
    if p.enrolment and p.enrolment.get("at"):
        out.append((dt.date.fromisoformat(p.enrolment["at"][:10]), "enrolment"))
    if p.randomized_on:
        out.append((dt.date.fromisoformat(p.randomized_on[:10]), "randomization"))
    if p.radiotherapy and p.radiotherapy.get("start"):
        out.append((dt.date.fromisoformat(p.radiotherapy["start"]), "radiotherapy"))
    out += [(dt.date.fromisoformat(actual), f"visit {v['code']}") for v in visits if (actual := v.get("actual"))]
    for e in followup.active(entries):
        if e["kind"] in followup.AFTER_CONSENT or e["kind"] == "event":
            out.append((dt.date.fromisoformat(e["data"]["date"]), f"{e['kind'].replace('_', ' ')} entry {e['id']}"))
    return sorted(out)


def consent(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Record the participant's informed consent: ``date`` (not after today) and ``form_version``."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "consent")
    c = {
        "date": _consent_date(ctx, data),
        "form_version": _text(data, "form_version", 1, 64),
        "obtained_by": actor.username,
    }
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        workflow.advance(p, "consent")
        p.consent = c
        uow.participants.save_participant(p)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.consent",
            entity_type="participant",
            entity_id=p.id,
            new=c,
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def correct_consent(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Correct a recorded consent (``PUT .../consent``): ``date`` and ``form_version`` as
    :func:`consent` takes them, and a ``reason``. The date is not after today and not after
    anything already recorded that needs consent (:func:`needs_consent`); the audit entry
    ``participant.consent_correct`` keeps the old and the new consent with the reason (ICH E6(R3)
    s.4.2, 21 CFR 11.10(e): a change does not obscure the original entry)."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "consent")
    if not isinstance(data, dict):
        raise _bad("consent", type(data).__name__, "an object with date, form_version and reason")
    day = _consent_date(ctx, data)
    form_version = _text(data, "form_version", 1, 64)
    reason = _text(data, "reason", 3)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        if not p.consent:
            raise WorkflowError(
                f"participant {p.id}: no consent recorded; expected a consent to correct "
                "(record one with POST .../consent)",
                code="not_consented",
                field="consent",
            )
        after = [
            x
            for x in needs_consent(p, uow.participants.visits(p.id), uow.participants.entries(p.id))
            if x[0] < dt.date.fromisoformat(day)
        ]
        if after:
            first, what = after[0]
            raise _bad(
                "date",
                day,
                f"a consent date on or before {what} ({first.isoformat()}): "
                f"{len(after)} recorded step(s) that need consent would precede it",
            )
        old = dict(p.consent)
        p.consent = {
            **old,
            "date": day,
            "form_version": form_version,
            "corrected": {"by": actor.username, "at": ctx.now_iso(), "reason": reason},
        }
        uow.participants.save_participant(p, ("consent",))
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.consent_correct",
            entity_type="participant",
            entity_id=p.id,
            old={k: old.get(k) for k in ("date", "form_version")},
            new={"date": day, "form_version": form_version},
            reason=reason,
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


#: why a candidate assessed for eligibility is not enrolled (the CONSORT 2010 exclusion reasons)
NOT_ENROLLED_REASONS = ("not eligible", "declined", "other")


def close_screening(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Close the screening of a candidate who will not be enrolled, and say why: ``reason``
    exactly one of :data:`NOT_ENROLLED_REASONS` (CONSORT 2010 item 13a, flow diagram: "Excluded:
    not meeting inclusion criteria, declined to participate, other reasons") and an optional
    ``note``. From a state before enrolment (registered, screened, consented); the candidate
    leaves the worklist (state ``screening_closed``), keeps the reason and note on their record
    (``closure``) and counts in the CONSORT flow, which reads the audit entry
    ``participant.not_enrolled``. :func:`reopen_screening` undoes it. Role
    ``close_screening``."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "close_screening")
    if not isinstance(data, dict):
        raise _bad("reason", None, f"one of {', '.join(NOT_ENROLLED_REASONS)}")
    reason = data.get("reason")
    if not isinstance(reason, str) or reason not in NOT_ENROLLED_REASONS:
        raise _bad("reason", reason, f"exactly one of {', '.join(NOT_ENROLLED_REASONS)}")
    note = data.get("note")
    if note is not None:
        note = _text(data, "note", 1, 500)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        workflow.check_step(p, "close_screening")
        closure = {
            "reason": reason,
            "note": note,
            "state": p.state,
            "verdict": (p.screening or {}).get("verdict"),
            "date": ctx.today().isoformat(),
            "by": actor.username,
            "at": ctx.now_iso(),
        }
        workflow.advance(p, "close_screening")
        p.closure = closure
        uow.participants.save_participant(p, ("state", "closure"))
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.not_enrolled",
            entity_type="participant",
            entity_id=p.id,
            old={"state": closure["state"]},
            new=closure,
            reason=reason if note is None else f"{reason}: {note}",
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def reopen_screening(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Reopen a closed screening (``reason`` required, 3-5000 characters): the candidate goes back
    to the step they had reached (registered, screened or consented) and to the worklist, and no
    longer counts as excluded in the CONSORT flow. Audited as ``participant.screening_reopened``
    with the closure it undoes. Role ``close_screening``."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "close_screening")
    reason = _text(data if isinstance(data, dict) else {}, "reason", 3)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        workflow.check_step(p, "reopen_screening")
        old = p.closure
        p.state = workflow.milestone_state(p)
        p.closure = None
        uow.participants.save_participant(p, ("state", "closure"))
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.screening_reopened",
            entity_type="participant",
            entity_id=p.id,
            old=old,
            new={"state": p.state},
            reason=reason,
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


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
        check_after_consent(p, "consent.date", ctx.today(), "enrolment")
        decision = workflow.enrolment_decision((p.screening or {}).get("verdict"), override)
        if decision["override"]:
            decision["override"]["by"] = actor.username
        p.enrolment = {**decision, "protocol_version": (p.screening or {}).get("protocol_version"), "at": ctx.now_iso()}
        workflow.advance(p, "enrol")
        uow.participants.save_participant(p)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="participant.enrol",
            entity_type="participant",
            entity_id=p.id,
            new=p.enrolment,
            reason=(decision["override"] or {}).get("reason"),
        )
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def _schedule_anchors(
    p: Participant, *, single: bool = False, entries: list[EntryRow] | None = None
) -> dict[str, dt.date | None]:
    """Visit anchors as they stand. In a single-group trial day 0 is enrolment, which stands in
    for the ``randomization`` anchor (there is none); ``progression`` is the first progression
    event in force."""
    rt = p.radiotherapy or {}
    enrolled = p.enrolment["at"][:10] if p.enrolment and p.enrolment.get("at") else None
    day0, _kind = followup.origin_of(p, single_group=single)  # the same day 0 as the endpoints
    progressions = sorted(
        e["data"]["date"]
        for e in followup.active(entries or [])
        if e["kind"] == "event" and e["data"]["kind"] == "progression"
    )

    def d(x: str | None) -> dt.date | None:
        return dt.date.fromisoformat(x[:10]) if x else None

    return {
        "randomization": day0,
        "enrolment": d(enrolled),
        "radiotherapy_start": d(rt.get("start")),
        "radiotherapy_end": d(rt.get("end")),
        "progression": d(progressions[0] if progressions else None),
    }


def visit_schedule(
    ctx: ServiceContext, protocol: Protocol, p: Participant, rows: list[VisitRow], entries: list[EntryRow]
) -> tuple[list[dict], list[dict]]:
    """The participant's visits dated from the anchors as they stand, with their status today,
    and the visits still waiting for their anchor (see :mod:`oligotrial.domain.trial.schedule`)."""
    spec = parse_schedule(protocol.schedule, blinded_roles=protocol.masking.blinded_roles)
    if spec is None:
        return [], []
    anchors = _schedule_anchors(p, single=single_group(protocol), entries=entries)
    visits, waiting = schedule.derive(spec.visits, anchors, {r["code"]: r for r in rows}, ctx.today())
    return [v.to_dict() for v in visits], waiting


#: the techniques a recorded radiotherapy course may name (the course model's)
RT_TECHNIQUES = _rt_bounds.RT_TECHNIQUES


def record_radiotherapy(ctx: ServiceContext, actor: Actor, trial: str, pid: str, data: dict) -> dict:
    """Record the radiotherapy delivered, checked against the participant's allocated arm (see
    :mod:`oligotrial.service.radiotherapy`); then plan the follow-up visits from the schedule.

    The first and last fraction dates must be possible for the number of fractions whatever the
    arm (one fraction a day at most; one fraction: one day, any day), or the course is refused on
    ``end`` with no override (:func:`oligotrial.domain.radiotherapy.course_dates.impossible`); the
    regimen's fractions per week and overall time are part of the check against the arm.

    The course may be entered after follow-up visits have been recorded (entering it late is
    common): the visits already recorded (done, done out of window, missed) are kept as they were
    recorded, those still planned are re-dated from the anchors as they now stand, and only the
    visits not stored yet are added (:func:`oligotrial.domain.trial.schedule.merge_planned`; the
    audit entry lists which)."""
    from oligotrial.service import radiotherapy
    from oligotrial.service.randomization import arm_of

    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "radiotherapy")
    start, end = _date(data, "start"), _date(data, "end")
    if end < start:
        raise _bad("end", end, f"a date on or after start {start}")
    rt = radiotherapy.course(data, start, end)  # the bounds of radiotherapy.RadiotherapyCourse
    override = data.get("override")
    plan = parse_schedule(protocol.schedule, blinded_roles=protocol.masking.blinded_roles)
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        single = single_group(protocol)
        workflow.check_step(p, "radiotherapy", single_group=single)
        check_after_consent(p, "start", start, "radiotherapy")
        arm = protocol.arms[0].id if single else arm_of(ctx, protocol.id, p.id, uow)
        if arm is None:
            raise WorkflowError(
                f"participant {pid}: no allocated arm to check the radiotherapy against",
                code="no_allocation",
                field="participant",
            )
        report = radiotherapy.check(protocol, arm, rt, parse_patient(p.record, today=ctx.today()))
        decision = workflow.radiotherapy_decision(report.status, override)
        if decision is None:
            raise radiotherapy.refusal(report, rt, blinded=not sees_arms(protocol, role))
        if decision["override"]:
            decision["override"]["by"] = actor.username
        now = ctx.now_iso()
        workflow.advance(p, "radiotherapy", single_group=single)
        p.radiotherapy = {**rt, "check": radiotherapy.stored_result(report, decision, now)}
        uow.participants.save_participant(p)
        visits: dict[str, list[str]] = {"added": [], "redated": [], "kept": []}
        if plan is not None:  # merged with the visits stored before the course was entered
            planned = schedule.plan_visits(list(plan.visits), _schedule_anchors(p, single=single))
            add, redate, kept = schedule.merge_planned(planned, uow.participants.visits(p.id))
            uow.participants.add_visits(
                p.id,
                [
                    {
                        "code": v.code,
                        "label": v.label,
                        "anchor": v.anchor,
                        "target": v.target.isoformat(),
                        "earliest": v.earliest.isoformat(),
                        "latest": v.latest.isoformat(),
                        "forms": list(v.forms),
                        "actual": None,
                        "status": "planned",
                        "note": None,
                    }
                    for v in add
                ],
            )
            for row in redate:  # stored rows, re-dated
                uow.participants.save_visit(cast(VisitRow, row))
            visits = {
                "added": [v.code for v in add],
                "redated": [r["code"] for r in redate],
                "kept": [r["code"] for r in kept],
            }
        codes = sorted({x["code"] for x in radiotherapy.problems(report)})
        if decision["deviation"]:
            uow.participants.add_notification(
                protocol.id,
                "radiotherapy_deviation",
                p.id,
                f"participant {p.id}: radiotherapy {rt['dose_gy']:g} Gy / {rt['fractions']} fractions recorded outside the "
                f"allocated arm's regimen ({', '.join(codes)}); override by {actor.username}: "
                f"{decision['override']['reason']}",
                now,
            )
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="radiotherapy.record",
            entity_type="participant",
            entity_id=p.id,
            new={
                **rt,
                "check": {"status": report.status, "codes": codes, "deviation": decision["deviation"]},
                "visits": visits,
            },
            reason=(decision["override"] or {}).get("reason"),
        )
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
        rows = uow.participants.visits(p.id)
        visits, waiting = visit_schedule(ctx, protocol, p, rows, uow.participants.entries(p.id))
        visit = next((v for v in visits if v["code"] == code), None)
        if visit is None:
            pending = next((w for w in waiting if w["code"] == code), None)
            why = f"waits for its anchor ({pending['anchor']})" if pending else "is not in the protocol's schedule"
            raise WorkflowError(
                f"visit {code!r}: not scheduled for participant {pid}: it {why}", code="not_found", field="visit"
            )
        if visit["actual"] is not None or visit["status"] == "missed":
            raise WorkflowError(
                f"visit {code!r}: already recorded ({visit['status']}"
                f"{' on ' + visit['actual'] if visit['actual'] else ''})",
                code="already_recorded",
                field="visit",
            )
        if on is not None and dt.date.fromisoformat(on) > ctx.today():
            raise _bad("date", on, f"a date not after today ({ctx.today().isoformat()})")
        if on is not None:
            check_after_consent(p, "date", on, "a visit")
        row = next((r for r in rows if r["code"] == code), None)
        if row is None:  # scheduled from its anchor, not stored yet
            uow.participants.add_visits(
                p.id,
                [
                    cast(
                        NewVisit,
                        {k: visit[k] for k in ("code", "label", "anchor", "target", "earliest", "latest", "forms")}
                        | {"actual": None, "status": "planned", "note": None},
                    )
                ],
            )
            row = next(r for r in uow.participants.visits(p.id) if r["code"] == code)
        else:  # the window as it stands now (an anchor may have been corrected since it was stored)
            row["target"], row["earliest"], row["latest"] = visit["target"], visit["earliest"], visit["latest"]
        if missed:
            row["actual"], row["status"], row["note"] = None, "missed", reason
        else:
            assert on is not None  # a visit done has its date
            ok = workflow.in_window(
                dt.date.fromisoformat(visit["earliest"]),
                dt.date.fromisoformat(visit["latest"]),
                dt.date.fromisoformat(on),
            )
            note = data.get("out_of_window_reason")
            if not ok and not (isinstance(note, str) and note.strip()):
                raise _bad(
                    "out_of_window_reason",
                    note,
                    f"a reason: {on} is outside the window {visit['earliest']}..{visit['latest']}",
                )
            row["actual"], row["status"] = on, "done" if ok else "done_out_of_window"
            row["note"] = note if not ok else None
        uow.participants.save_visit(row)
        audit.record(
            uow,
            ctx,
            actor,
            trial=protocol.id,
            action="visit.record",
            entity_type="visit",
            entity_id=f"{p.id}/{code}",
            new={"actual": row["actual"], "status": row["status"], "note": row["note"]},
        )
        uow.commit()
    out = {k: v for k, v in row.items() if k not in ("id", "participant_id")}
    return {**out, "warnings": freetext.warnings_for(protocol, {"note": row["note"]})}


def visits_due(
    ctx: ServiceContext,
    actor: Actor,
    trial: str,
    statuses: tuple[str, ...] = ("due", "overdue"),
    site: str | None = None,
) -> list[dict]:
    """Every participant's visits with one of ``statuses`` today, for the coordinator's worklist;
    read a page of participants at a time."""
    protocol = ctx.load_protocol(trial)
    neutral = arm_neutral(protocol, authorize(actor, protocol.id, "view"))
    out = []
    with ctx.uow() as uow:
        for p in uow.participants.iter_participants(protocol.id):
            if (
                p.state in workflow.TERMINAL
                or not site_visible(actor, protocol.id, p.site)
                or (site is not None and p.site != site)
            ):
                continue
            visits, _waiting = visit_schedule(
                ctx, protocol, p, uow.participants.visits(p.id), uow.participants.entries(p.id)
            )
            out += [
                {"participant": p.id, "external_id": p.external_id, "site": p.site, **v}
                for v in neutral.visits(visits)
                if v["status"] in statuses
            ]
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
    patient = parse_patient(record, today=ctx.today(), not_after=ctx.today())
    with ctx.uow() as uow:
        p = _load(uow, protocol.id, pid, actor)
        correct_record_in(uow, ctx, actor, protocol, p, record, patient, reason)
        uow.commit()
    return participant_view(ctx, protocol, role, p, [], [])


def correct_record_in(
    uow: UnitOfWork,
    ctx: ServiceContext,
    actor: Actor,
    protocol: Protocol,
    p: Participant,
    record: dict,
    patient: Any,
    reason: str,
) -> None:
    """:func:`correct_record`'s work inside the caller's unit of work, on ``p`` loaded under its
    row lock (the caller has checked the role and the reason, validated ``record`` as ``patient``
    with :func:`parse_patient`, and commits)."""
    workflow.check_step(p, "correct_record")
    if patient.id != p.external_id:
        raise _bad("record.id", patient.id, f"the participant's record id {p.external_id!r}")
    old = p.record
    p.record = dict(record)
    p.version += 1
    uow.participants.save_participant(p)
    audit.record(
        uow,
        ctx,
        actor,
        trial=protocol.id,
        action="participant.correct",
        entity_type="participant",
        entity_id=p.id,
        old={"record": old},
        new={"record": p.record},
        reason=reason,
    )


def participant_view(
    ctx: ServiceContext,
    protocol: Protocol,
    role: str,
    p: Participant,
    visits: list[dict],
    entries: list[dict],
    allocation: dict | None = None,
    waiting: list[dict] | None = None,
) -> dict:
    """The participant as ``role`` may see them: no arm, no radiotherapy detail for the blind; for
    a masked role nothing that exists in one arm only (:func:`oligotrial.service.masking.arm_neutral`)."""
    neutral = arm_neutral(protocol, role)
    view = {
        "id": p.id,
        "trial": p.trial,
        "external_id": p.external_id,
        "site": p.site,
        "state": neutral.state(p.state),
        "record": p.record,
        "screening": p.screening,
        "consent": p.consent,
        "enrolment": p.enrolment,
        "randomized_on": p.randomized_on,
        "radiotherapy": neutral.radiotherapy(p.radiotherapy),
        "visits": [
            {
                k: v[k]
                for k in (
                    "code",
                    "label",
                    "anchor",
                    "target",
                    "earliest",
                    "latest",
                    "forms",
                    "actual",
                    "status",
                    "note",
                )
            }
            for v in neutral.visits(visits)
        ],
        "visits_waiting": neutral.visits(waiting or []),
        "entries": neutral.entries(entries),
        "created_at": p.created_at,
        "version": p.version,
        "closure": p.closure,
    }
    if allocation is not None:
        view["allocation"] = allocation
    return view


def get_participant(ctx: ServiceContext, actor: Actor, trial: str, pid: str) -> dict:
    from oligotrial.service.randomization import allocation_arm, allocation_view

    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "view")
    with ctx.uow() as uow:
        p = visible_participant(uow, actor, protocol.id, pid)
        stored = uow.participants.entries(p.id)
        visits, waiting = visit_schedule(ctx, protocol, p, uow.participants.visits(p.id), stored)
        entries = [followup.entry_view(e) for e in stored]
        a = uow.allocation.get_allocation(p.id)
        alloc = None
        if a is not None:
            arm = allocation_arm(ctx, a)
            alloc = allocation_view(protocol, role, a.stratum, a.seq, a.strata, a.allocated_at, arm)
        # free text an unblinded role wrote is withheld from a blinded one (service.freetext); a
        # data manager who sees the arm learns which, to review and release them
        releaser = role == "data_manager" and bool(protocol.masking.blinded_roles)
        blind = freetext.reader_blinded(protocol, role)
        rows = uow.audit.audit_of(protocol.id, p.id) if blind or releaser else None
    view = participant_view(ctx, protocol, role, p, visits, entries, alloc, waiting)
    if rows is None:
        return view
    return freetext.withhold_view(protocol, view, rows) if blind else freetext.mark_releasable(protocol, view, rows)


def list_participants(ctx: ServiceContext, actor: Actor, trial: str, site: str | None = None) -> list[dict]:
    """The trial's participants the actor may see (a site-limited role: its site's), optionally of
    one ``site``."""
    protocol = ctx.load_protocol(trial)
    neutral = arm_neutral(protocol, authorize(actor, protocol.id, "view"))
    with ctx.uow() as uow:
        rows = uow.participants.list_participants(protocol.id)
    return [
        {
            "id": p.id,
            "external_id": p.external_id,
            "site": p.site,
            "state": neutral.state(p.state),
            "created_at": p.created_at,
        }
        for p in rows
        if site_visible(actor, protocol.id, p.site) and (site is None or p.site == site)
    ]


def summary(ctx: ServiceContext, actor: Actor, trial: str) -> dict:
    """Accrual: totals by state; counts by arm only for roles that are not blinded."""
    protocol = ctx.load_protocol(trial)
    role = authorize(actor, protocol.id, "summary")
    from oligotrial.service.randomization import allocation_arm

    with ctx.uow() as uow:
        rows = uow.participants.list_participants(protocol.id)
        rl = uow.allocation.get_list(protocol.id)
        allocs = uow.allocation.allocations(protocol.id)
        arms = (
            [allocation_arm(ctx, a) for a in allocs]
            if role in ("coordinator", "dsmb") and sees_arms(protocol, role)
            else None
        )
    by_state: dict[str, int] = {}
    neutral = arm_neutral(protocol, role)
    for p in rows:
        by_state[neutral.state(p.state)] = by_state.get(neutral.state(p.state), 0) + 1
    out = {
        "trial": protocol.id,
        "short_name": protocol.short_name,
        "protocol_version": protocol.version,
        "participants": len(rows),
        "by_state": by_state,
        "randomized": len(allocs),
        "list": None if rl is None else {"method": rl.method, "commitment": rl.commitment, "created_at": rl.created_at},
    }
    sites = sorted({p.site for p in rows if p.site is not None})
    if sites:  # accrual per centre of a multi-centre trial (counts only)
        out["by_site"] = {s: sum(1 for p in rows if p.site == s) for s in sites}
    if arms is not None:
        out["by_arm"] = {a.id: arms.count(a.id) for a in protocol.arms}
    return out

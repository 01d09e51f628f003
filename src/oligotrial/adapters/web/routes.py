"""Routes: each parses input, calls one service, and returns what the service returns.
Every route except the token and health routes requires a bearer token; the service checks
the caller's role in the trial."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from oligotrial.adapters.web import api_models as api
from oligotrial.adapters.web.entries import ENTRY_ROUTES, entry_openapi
from oligotrial.adapters.web.inputs import check_request_input
from oligotrial.adapters.web.responses import render_json
from oligotrial.adapters.web.security import Ctx, CurrentActor, TrialId, issue_token, login_throttle
from oligotrial.domain.kernel import BoundedModel
from oligotrial.domain.kernel.bounds import date_problem
from oligotrial.domain.trial.blinding import sees_arms
from oligotrial.errors import BlindingError
from oligotrial.service import audit, endpoints, enrolment, followup, randomization, unblinding, users
from oligotrial.service import radiotherapy as radiotherapy_course
from oligotrial.service.radiotherapy import RadiotherapyCourse

router = api.DescribedRouter(prefix="/api/v1", dependencies=[Depends(check_request_input)])

#: the trial in a path: NCT id or short name, any case, resolved once (security.resolve_trial)
Trial = TrialId
Pid = Annotated[str, Path(min_length=1, max_length=64, description="participant id")]
EntryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="follow-up entry id")]
SiteFilter = Annotated[str | None, Query(max_length=64, description="only this site's participants")]


class _Body(BoundedModel):
    """A request body: unknown fields refused; text, numbers, dates and sizes bounded as the
    record's own models are (:mod:`oligotrial.domain.kernel.bounds`)."""

    # built at once (FastAPI wraps a body model in its own adapter, which a deferred model upsets)
    model_config = ConfigDict(extra="forbid", defer_build=False)


def _iso_date(text: str) -> str:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r}: expected an ISO 8601 date (YYYY-MM-DD)") from None
    why = date_problem(day)
    if why:
        raise ValueError(f"{text}: expected {why}")
    return text


#: an ISO 8601 date (kept as text for the service) within the plausible range
IsoDate = Annotated[str, Field(max_length=10), AfterValidator(_iso_date)]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class ScreenBody(_Body):
    assume_attested: bool = False
    date: IsoDate | None = Field(
        None, description="screening date (ISO 8601); default today. Every window of the protocol counts back from it"
    )


class RescreenBody(_Body):
    version: str = Field(
        min_length=1, max_length=64, description="the protocol version to screen against, e.g. 2026-06-01.r2"
    )
    reason: str = Field(
        min_length=10, max_length=5000, description="why the participant is re-screened (kept in the audit trail)"
    )
    date: IsoDate | None = Field(None, description="screening date (ISO 8601); default today")
    assume_attested: bool = False


class ConsentBody(_Body):
    date: IsoDate = Field(description="ISO date consent was signed")
    form_version: str = Field(min_length=1, max_length=64)


class ConsentCorrectionBody(_Body):
    date: IsoDate = Field(
        description="ISO date consent was signed (not after today, nor after anything recorded that needs consent)"
    )
    form_version: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=3, max_length=5000, description="why it is corrected (kept in the audit trail)")


class CloseScreeningBody(_Body):
    reason: Literal["declined", "not eligible", "other"] = Field(
        description="why the candidate is not enrolled (CONSORT 2010 item 13a): declined, not eligible or other"
    )
    note: str | None = Field(None, min_length=1, max_length=500)


class ReopenScreeningBody(_Body):
    reason: str = Field(
        min_length=3, max_length=5000, description="why the screening is reopened (kept in the audit trail)"
    )


#: a documented reason to record what does not fit the protocol (the radiotherapy course's own)
Override = radiotherapy_course.Override


class EnrolBody(_Body):
    override: Override | None = None


class RandomizeBody(_Body):
    strata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=200)]] = Field(
        default={}, max_length=20
    )


class UnblindBody(_Body):
    reason: str = Field(min_length=10, max_length=5000)
    password: str = Field(min_length=1, max_length=1024)


class RadiotherapyBody(RadiotherapyCourse):
    """The service's course model (its bounds are the service's), with the dates checked as
    every body's are."""

    start: IsoDate = Field(description="first fraction (ISO 8601)")
    end: IsoDate = Field(description="last fraction (ISO 8601), on or after start")


class VisitBody(_Body):
    date: IsoDate | None = Field(None, description="the day the visit took place (ISO 8601)")
    out_of_window_reason: str | None = Field(
        None, max_length=5000, description="required when the date is outside the visit's window"
    )
    missed: bool = Field(False, description="declare the visit missed (with a reason) instead of a date")
    reason: str | None = Field(None, max_length=5000, description="why the visit was missed")


class EntryCorrection(_Body):
    data: dict[str, Any] = Field(description="the entry's corrected data, in the same shape as when it was recorded")
    reason: str = Field(min_length=3, max_length=5000, description="why it is changed (kept in the audit trail)")


class Retraction(_Body):
    reason: str = Field(
        min_length=3, max_length=5000, description="why the entry is withdrawn (kept in the audit trail)"
    )


class TextRelease(_Body):
    field: str = Field(
        min_length=1,
        max_length=64,
        description="the entry's free text to release: note, specify, "
        "detail, stop_reason, or reason (the correction's)",
    )
    reason: str = Field(min_length=3, max_length=5000, description="why it may be shown to blinded roles (reviewed)")


class CorrectionBody(_Body):
    record: dict[str, Any]
    reason: str = Field(min_length=3, max_length=5000)


@router.get("/health", response_model=api.Health, tags=["meta"])
def health() -> dict:
    return {"status": "ok"}


@router.post("/auth/token", response_model=Token, tags=["auth"])
def token(request: Request, ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """A bearer token for a username and password. Failed logins are throttled per account and
    per client address (429 with ``Retry-After``; see :mod:`oligotrial.adapters.web.throttle`)."""
    throttle = login_throttle(request)
    address = request.client.host if request.client else None
    throttle.check(form.username, address)
    try:
        user = users.authenticate(ctx, form.username, form.password)
    except users.AuthenticationError:
        throttle.failed(form.username, address)
        raise
    throttle.succeeded(form.username, address)
    settings = request.app.state.container.settings
    return Token(
        access_token=issue_token(settings.secret_key, user.id, settings.token_ttl_minutes, users.credential_stamp(user))
    )


@router.get("/trials", response_model=api.TrialList, tags=["trials"])
def trials(ctx: Ctx, actor: CurrentActor) -> list[dict]:
    out = []
    for p in ctx.list_protocols():
        role = actor.role_in(p.id)
        if role is None:
            continue
        blinded = not sees_arms(p, role)
        item = {
            "id": p.id,
            "short_name": p.short_name,
            "title": p.title,
            "protocol_version": p.version,
            "role": role,
            "blinded": blinded,
            "design": p.design.allocation,
            "masking": p.masking.level,
        }
        if not blinded:
            item["arms"] = [{"id": a.id, "label": a.label, "type": a.type} for a in p.arms]
        out.append(item)
    return out


@router.get("/trials/{trial}", response_model=api.TrialSummary, tags=["trials"])
def trial_summary(ctx: Ctx, actor: CurrentActor, trial: Trial) -> dict:
    return enrolment.summary(ctx, actor, trial)


@router.get(
    "/trials/{trial}/versions",
    response_model=api.TrialVersions,
    tags=["trials"],
    summary="The trial's protocol versions (amendments), oldest first, with the one in effect today",
)
def trial_versions(ctx: Ctx, actor: CurrentActor, trial: Trial) -> dict:
    from oligotrial.service.access import authorize

    current = ctx.load_protocol(trial)
    authorize(actor, current.id, "summary")
    versions = ctx.protocols.versions(current.id)
    today = ctx.today()
    in_effect = [v for v in versions if v.effective_date <= today]
    now = in_effect[-1].version if in_effect else None
    return {
        "trial": current.id,
        "short_name": current.short_name,
        "today": today.isoformat(),
        "current_version": now,
        "versions": [
            {
                "version": v.version,
                "effective_date": v.effective_date.isoformat(),
                "amends": v.amends,
                "in_effect": v.effective_date <= today,
                "current": v.version == now,
            }
            for v in versions
        ],
    }


@router.get("/trials/{trial}/participants", response_model=api.ParticipantList, tags=["participants"])
def participants(ctx: Ctx, actor: CurrentActor, trial: Trial, site: SiteFilter = None) -> list[dict]:
    return enrolment.list_participants(ctx, actor, trial, site)


@router.post(
    "/trials/{trial}/participants",
    response_model=api.ParticipantView,
    status_code=201,
    tags=["participants"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "description": "an oligotrial.patient/1 record"}}
            },
        }
    },
)
def register(
    ctx: Ctx,
    actor: CurrentActor,
    trial: Trial,
    record: Annotated[dict[str, Any], Body()],
    site: Annotated[
        str | None, Query(max_length=64, description="the participant's site (a site-limited role: its own)")
    ] = None,
) -> dict:
    return enrolment.register(ctx, actor, trial, record, site)


@router.get("/trials/{trial}/participants/{pid}", response_model=api.ParticipantView, tags=["participants"])
def participant(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid) -> dict:
    return enrolment.get_participant(ctx, actor, trial, pid)


@router.put("/trials/{trial}/participants/{pid}/record", response_model=api.ParticipantView, tags=["participants"])
def correct(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: CorrectionBody) -> dict:
    return enrolment.correct_record(ctx, actor, trial, pid, body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/screen", response_model=api.ParticipantView, tags=["workflow"])
def screen(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: ScreenBody | None = None) -> dict:
    return enrolment.screen(
        ctx, actor, trial, pid, assume_attested=bool(body and body.assume_attested), on=body.date if body else None
    )


@router.post(
    "/trials/{trial}/participants/{pid}/rescreen",
    response_model=api.ParticipantView,
    tags=["workflow"],
    summary="Re-screen a participant against a named protocol version (audited, with a reason)",
)
def rescreen(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: RescreenBody) -> dict:
    return enrolment.rescreen(
        ctx,
        actor,
        trial,
        pid,
        version=body.version,
        reason=body.reason,
        on=body.date,
        assume_attested=body.assume_attested,
    )


@router.post("/trials/{trial}/participants/{pid}/consent", response_model=api.ParticipantView, tags=["workflow"])
def consent(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: ConsentBody) -> dict:
    return enrolment.consent(ctx, actor, trial, pid, body.model_dump())


@router.put(
    "/trials/{trial}/participants/{pid}/consent",
    response_model=api.ParticipantView,
    tags=["workflow"],
    summary="Correct the recorded consent (date, form version), with a reason (audited with old and new)",
)
def correct_consent(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: ConsentCorrectionBody) -> dict:
    return enrolment.correct_consent(ctx, actor, trial, pid, body.model_dump())


@router.post(
    "/trials/{trial}/participants/{pid}/close-screening",
    response_model=api.ParticipantView,
    tags=["workflow"],
    summary="Close a candidate's screening: declined, not eligible or other, with a note",
)
def close_screening(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: CloseScreeningBody) -> dict:
    return enrolment.close_screening(ctx, actor, trial, pid, body.model_dump())


@router.post(
    "/trials/{trial}/participants/{pid}/reopen-screening",
    response_model=api.ParticipantView,
    tags=["workflow"],
    summary="Reopen a closed screening, with a reason",
)
def reopen_screening(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: ReopenScreeningBody) -> dict:
    return enrolment.reopen_screening(ctx, actor, trial, pid, body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/enrol", response_model=api.ParticipantView, tags=["workflow"])
def enrol(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: EnrolBody | None = None) -> dict:
    return enrolment.enrol(ctx, actor, trial, pid, body.model_dump() if body else {})


@router.post("/trials/{trial}/participants/{pid}/randomize", response_model=api.AllocationView, tags=["workflow"])
def randomize(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: RandomizeBody | None = None) -> dict:
    return randomization.randomize(ctx, actor, trial, pid, body.strata if body else {})


@router.post("/trials/{trial}/participants/{pid}/unblind", response_model=api.Unblinded, tags=["workflow"])
def unblind(request: Request, ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: UnblindBody) -> dict:
    """Break the glass for one participant. No count of failed logins ever refuses it: a correct
    password always unblinds, whatever others typed. A wrong one is 403, audited by the service,
    and counted against the user's sign-in from this address; the token that reaches the limit
    of wrong passwords is ended (a stolen token does not buy unlimited password guesses:
    :mod:`oligotrial.adapters.web.throttle`)."""
    throttle = login_throttle(request)
    address = request.client.host if request.client else None
    try:
        return unblinding.emergency_unblind(ctx, actor, trial, pid, reason=body.reason, password=body.password)
    except BlindingError as exc:
        if exc.code == "reauthentication_failed":
            token_id = getattr(request.state, "token_id", None)
            if throttle.reauth_failed(actor.username, address) >= throttle.per_account and token_id and actor.user_id:
                users.end_session(
                    ctx,
                    actor.user_id,
                    token_id,
                    dt.timedelta(minutes=request.app.state.container.settings.token_ttl_minutes),
                )
        raise


@router.post(
    "/trials/{trial}/participants/{pid}/radiotherapy",
    response_model=api.ParticipantView,
    tags=["workflow"],
)
def radiotherapy(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: RadiotherapyBody) -> dict:
    return enrolment.record_radiotherapy(ctx, actor, trial, pid, body.model_dump(exclude_none=True))


@router.post(
    "/trials/{trial}/participants/{pid}/visits/{code}",
    response_model=api.VisitRecorded,
    tags=["follow-up"],
)
def visit(
    ctx: Ctx,
    actor: CurrentActor,
    trial: Trial,
    pid: Pid,
    code: Annotated[str, Path(min_length=1, max_length=64)],
    body: VisitBody,
) -> dict:
    return enrolment.record_visit(ctx, actor, trial, pid, code, body.model_dump(exclude_none=True))


@router.get(
    "/trials/{trial}/visits",
    response_model=api.VisitsDue,
    tags=["follow-up"],
    summary="Visits due or overdue today across the trial's participants (the coordinator's worklist)",
)
def visits_due(
    ctx: Ctx,
    actor: CurrentActor,
    trial: Trial,
    status: Annotated[list[Literal["upcoming", "due", "overdue"]] | None, Query()] = None,
    site: SiteFilter = None,
) -> list[dict]:
    return enrolment.visits_due(ctx, actor, trial, tuple(status or ("due", "overdue")), site)


def _entry_route(path: str, kind: str, summary: str) -> None:
    """POST a follow-up entry of ``kind``: the body is the patient record's own entry (its JSON
    Schema and an example are in the OpenAPI document); the service validates it."""
    doc = entry_openapi(kind)

    def route(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: Annotated[Any, Body()]) -> dict:
        return followup.record_entry(ctx, actor, trial, pid, kind, body)

    route.__name__ = f"record_{kind}"
    router.post(
        f"/trials/{{trial}}/participants/{{pid}}/{path}",
        response_model=api.EntryChange,
        status_code=201,
        tags=["follow-up"],
        summary=summary,
        openapi_extra=doc,
    )(route)


for _path, _kind, _summary in ENTRY_ROUTES:
    _entry_route(_path, _kind, _summary)


@router.put(
    "/trials/{trial}/participants/{pid}/entries/{entry_id}",
    response_model=api.EntryChange,
    tags=["follow-up"],
    summary="Correct a follow-up entry, with a reason (the old value stays in the audit trail)",
)
def correct_entry(
    ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, entry_id: EntryId, body: EntryCorrection
) -> dict:
    return followup.correct_entry(ctx, actor, trial, pid, entry_id, body.data, body.reason)


@router.post(
    "/trials/{trial}/participants/{pid}/entries/{entry_id}/retract",
    response_model=api.EntryChange,
    tags=["follow-up"],
    summary="Retract a follow-up entry entered in error, with a reason",
)
def retract_entry(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, entry_id: EntryId, body: Retraction) -> dict:
    return followup.retract_entry(ctx, actor, trial, pid, entry_id, body.reason)


@router.post(
    "/trials/{trial}/participants/{pid}/entries/{entry_id}/release",
    response_model=api.TextReleased,
    tags=["follow-up"],
    summary="Release an entry's free text written by a role that knows the arm to the blinded roles, "
    "after review (a data manager who sees the arm; audited)",
)
def release_text(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, entry_id: EntryId, body: TextRelease) -> dict:
    return followup.release_text(ctx, actor, trial, pid, entry_id, body.field, body.reason)


class NoteRelease(_Body):
    reason: str = Field(min_length=3, max_length=5000, description="why it may be shown to blinded roles (reviewed)")


@router.post(
    "/trials/{trial}/participants/{pid}/visits/{code}/release",
    response_model=api.VisitNoteReleased,
    tags=["follow-up"],
    summary="Release a visit's note written by a role that knows the arm to the blinded roles, after "
    "review (a data manager who sees the arm; audited)",
)
def release_visit_note(
    ctx: Ctx,
    actor: CurrentActor,
    trial: Trial,
    pid: Pid,
    code: Annotated[str, Path(min_length=1, max_length=64)],
    body: NoteRelease,
) -> dict:
    return followup.release_visit_note(ctx, actor, trial, pid, code, body.reason)


@router.get(
    "/trials/{trial}/participants/{pid}/endpoints",
    response_model=api.ParticipantEndpoints,
    tags=["analysis"],
    summary="The participant's endpoints derived from the stored data, each with its reason",
)
def participant_endpoints(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid) -> dict:
    return endpoints.participant_endpoints(ctx, actor, trial, pid)


@router.get(
    "/trials/{trial}/exports/{dataset}.csv",
    tags=["analysis"],
    response_class=StreamingResponse,
    summary="Analysis dataset as CSV (adtte, adrs); without the arm for a blinded role",
    responses=api.CSV_DOWNLOAD,
)
def export_dataset(
    ctx: Ctx,
    actor: CurrentActor,
    trial: Trial,
    dataset: Annotated[Literal["adtte", "adrs"], Path(description="adtte or adrs")],
    site: SiteFilter = None,
) -> StreamingResponse:
    lines, _with_arm = endpoints.export(ctx, actor, trial, dataset, site)
    first = next(lines)  # the role check and the header happen before the response starts
    return StreamingResponse(
        itertools.chain([first], lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{dataset}.csv"'},
    )


AUDIT_PAGE = 100


@router.get(
    "/trials/{trial}/audit",
    tags=["audit"],
    response_class=StreamingResponse,
    summary="The trial's audit trail, oldest first, a page at a time (the next page's link is in "
    "the Link header, rel=next)",
    responses=api.AUDIT_STREAM,
)
def trial_audit(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    trial: Trial,
    after: Annotated[int, Query(ge=0, le=2**62, description="entries after this seq (the previous page's last)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="entries per page")] = AUDIT_PAGE,
) -> StreamingResponse:
    page = audit.trail(ctx, actor, trial, after=after, limit=limit + 1)  # the database pages
    more = len(page) > limit
    page = page[:limit]
    headers = {"X-Total-Count": str(audit.trail_size(ctx, actor, trial))}
    if more:
        nxt = request.url.include_query_params(after=page[-1]["seq"], limit=limit)
        headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'

    def body():
        yield b"["
        for i, r in enumerate(page):
            yield (b"," if i else b"") + render_json(r)
        yield b"]"

    return StreamingResponse(body(), media_type="application/json", headers=headers)


@router.get("/trials/{trial}/notifications", response_model=api.Notifications, tags=["audit"])
def notifications(ctx: Ctx, actor: CurrentActor, trial: Trial) -> list[dict]:
    return unblinding.notifications(ctx, actor, trial)


@router.get("/audit/verify", response_model=api.ChainVerification, tags=["audit"])
def audit_verify(ctx: Ctx, actor: CurrentActor) -> dict:
    return audit.verify(ctx, actor).to_dict()

"""Routes: each parses input, calls one service, and returns what the service returns.
Every route except the token and health routes requires a bearer token; the service checks
the caller's role in the trial."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from oligotrial.adapters.web.inputs import reject_nul_characters
from oligotrial.adapters.web.security import CurrentActor, Ctx, issue_token
from oligotrial.domain.trial.blinding import is_blinded
from oligotrial.service import audit, enrolment, randomization, unblinding, users

router = APIRouter(prefix="/api/v1", dependencies=[Depends(reject_nul_characters)])

Trial = Annotated[str, Path(min_length=1, max_length=64, description="NCT id or short name")]
Pid = Annotated[str, Path(min_length=1, max_length=64, description="participant id")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class ScreenBody(_Body):
    assume_attested: bool = False


class ConsentBody(_Body):
    date: str = Field(description="ISO date consent was signed")
    form_version: str = Field(min_length=1, max_length=64)


class Override(_Body):
    reason: str = Field(min_length=10, max_length=5000)


class EnrolBody(_Body):
    override: Override | None = None


class RandomizeBody(_Body):
    strata: dict[str, str] = {}


class UnblindBody(_Body):
    reason: str = Field(min_length=10, max_length=5000)
    password: str = Field(min_length=1, max_length=1024)


class RadiotherapyBody(_Body):
    start: str
    end: str
    dose_gy: float
    fractions: int
    technique: str | None = None
    lesions: list[str] = []
    fractions_per_week: float | None = None
    override: Override | None = Field(None, description="a documented reason to record a course that does not "
                                                        "fit the allocated arm (a protocol deviation)")


class VisitBody(_Body):
    date: str
    out_of_window_reason: str | None = None


class CorrectionBody(_Body):
    record: dict[str, Any]
    reason: str = Field(min_length=3, max_length=5000)


class AdverseEventBody(_Body):
    date: str
    term: str = Field(min_length=1, max_length=200)
    grade: int
    specify: str | None = None
    serious: bool = False


class QolBody(_Body):
    date: str
    instrument: str
    responses: dict[str, float]


class AssessmentBody(_Body):
    date: str
    modality: str | None = None
    findings: list[dict[str, Any]] = []
    overall_response: str | None = None


class EventBody(_Body):
    date: str
    type: Literal["progression", "next_line", "death", "withdrawal"]
    details: str | None = None


@router.get("/health", tags=["meta"])
def health() -> dict:
    return {"status": "ok"}


@router.post("/auth/token", response_model=Token, tags=["auth"])
def token(request: Request, ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = users.authenticate(ctx, form.username, form.password)
    settings = request.app.state.container.settings
    return Token(access_token=issue_token(settings.secret_key, user.id, settings.token_ttl_minutes))


@router.get("/trials", tags=["trials"])
def trials(ctx: Ctx, actor: CurrentActor) -> list[dict]:
    out = []
    for p in ctx.list_protocols():
        role = actor.role_in(p.id)
        if role is None:
            continue
        blinded = is_blinded(p.masking.blinded_roles, role) or role == "admin"
        item = {"id": p.id, "short_name": p.short_name, "title": p.title, "protocol_version": p.version,
                "role": role, "blinded": blinded, "design": p.design.allocation,
                "masking": p.masking.level}
        if not blinded:
            item["arms"] = [{"id": a.id, "label": a.label, "type": a.type} for a in p.arms]
        out.append(item)
    return out


@router.get("/trials/{trial}", tags=["trials"])
def trial_summary(ctx: Ctx, actor: CurrentActor, trial: Trial) -> dict:
    return enrolment.summary(ctx, actor, trial)


@router.get("/trials/{trial}/participants", tags=["participants"])
def participants(ctx: Ctx, actor: CurrentActor, trial: Trial) -> list[dict]:
    return enrolment.list_participants(ctx, actor, trial)


@router.post("/trials/{trial}/participants", status_code=201, tags=["participants"],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object", "description": "an oligotrial.patient/1 record"}}}}})
def register(ctx: Ctx, actor: CurrentActor, trial: Trial, record: Annotated[dict[str, Any], Body()]) -> dict:
    return enrolment.register(ctx, actor, trial, record)


@router.get("/trials/{trial}/participants/{pid}", tags=["participants"])
def participant(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid) -> dict:
    return enrolment.get_participant(ctx, actor, trial, pid)


@router.put("/trials/{trial}/participants/{pid}/record", tags=["participants"])
def correct(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: CorrectionBody) -> dict:
    return enrolment.correct_record(ctx, actor, trial, pid, body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/screen", tags=["workflow"])
def screen(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: ScreenBody | None = None) -> dict:
    return enrolment.screen(ctx, actor, trial, pid, assume_attested=bool(body and body.assume_attested))


@router.post("/trials/{trial}/participants/{pid}/consent", tags=["workflow"])
def consent(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: ConsentBody) -> dict:
    return enrolment.consent(ctx, actor, trial, pid, body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/enrol", tags=["workflow"])
def enrol(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: EnrolBody | None = None) -> dict:
    return enrolment.enrol(ctx, actor, trial, pid, body.model_dump() if body else {})


@router.post("/trials/{trial}/participants/{pid}/randomize", tags=["workflow"])
def randomize(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: RandomizeBody | None = None) -> dict:
    return randomization.randomize(ctx, actor, trial, pid, body.strata if body else {})


@router.post("/trials/{trial}/participants/{pid}/unblind", tags=["workflow"])
def unblind(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: UnblindBody) -> dict:
    return unblinding.emergency_unblind(ctx, actor, trial, pid, reason=body.reason, password=body.password)


@router.post("/trials/{trial}/participants/{pid}/radiotherapy", tags=["workflow"])
def radiotherapy(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: RadiotherapyBody) -> dict:
    return enrolment.record_radiotherapy(ctx, actor, trial, pid, body.model_dump(exclude_none=True))


@router.post("/trials/{trial}/participants/{pid}/visits/{code}", tags=["follow-up"])
def visit(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid,
          code: Annotated[str, Path(min_length=1, max_length=64)], body: VisitBody) -> dict:
    return enrolment.record_visit(ctx, actor, trial, pid, code, body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/assessments", status_code=201, tags=["follow-up"])
def assessment(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: AssessmentBody) -> dict:
    return enrolment.add_entry(ctx, actor, trial, pid, "assessment", body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/adverse-events", status_code=201, tags=["follow-up"])
def adverse_event(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: AdverseEventBody) -> dict:
    return enrolment.add_entry(ctx, actor, trial, pid, "adverse_event", body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/qol", status_code=201, tags=["follow-up"])
def qol(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: QolBody) -> dict:
    return enrolment.add_entry(ctx, actor, trial, pid, "qol", body.model_dump())


@router.post("/trials/{trial}/participants/{pid}/events", status_code=201, tags=["follow-up"])
def event(ctx: Ctx, actor: CurrentActor, trial: Trial, pid: Pid, body: EventBody) -> dict:
    return enrolment.add_entry(ctx, actor, trial, pid, "event", body.model_dump())


@router.get("/trials/{trial}/audit", tags=["audit"])
def trial_audit(ctx: Ctx, actor: CurrentActor, trial: Trial) -> list[dict]:
    return audit.trail(ctx, actor, trial)


@router.get("/trials/{trial}/notifications", tags=["audit"])
def notifications(ctx: Ctx, actor: CurrentActor, trial: Trial) -> list[dict]:
    return unblinding.notifications(ctx, actor, trial)


@router.get("/audit/verify", tags=["audit"])
def audit_verify(ctx: Ctx, actor: CurrentActor) -> dict:
    return audit.verify(ctx, actor).to_dict()

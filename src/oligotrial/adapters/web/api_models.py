"""The API's responses as named models: the JSON each ``/api/v1`` route answers, as its service
builds it, for the OpenAPI document (``/openapi.json``: every 2xx response a ``$ref`` to a schema
named here; the CSV downloads and the audit stream declare their media type in ``responses``:
:data:`CSV_DOWNLOAD`, :data:`AUDIT_STREAM`).

The models DESCRIBE the JSON; they do not shape it. A route of a :class:`DescribedRouter` declares
its model with ``response_model`` and answers its service's value as FastAPI answers a route
without one (``jsonable_encoder``, then the one renderer, :mod:`.responses`): the same keys in
the same order, the same numbers (``1`` stays ``1``, not ``1.0``), ``NaN`` named as the renderer
names it, an absent key absent. A model never filters nor converts an answer (FastAPI's own
response-model step would drop a key its model misses, re-order keys and turn a ``NaN`` inside
an open part into ``null``), so a model cannot break or change an answer; whether each model
describes its route's JSON is what the contract test checks on demos
(``tests/e2e/test_api_response_models.py``: every key declared, validation round-trips the JSON,
and the JSON is the same with and without FastAPI's response-model step).

How the models read the JSON:

- fields are declared in the order the service writes them; a key the service writes only
  sometimes (the arm for a role that sees it, a site, a correction's reason) has a default;
- numbers that may be whole or not are ``int | float``; open-ended parts (a patient record, a
  screening result, an entry's data, the report's analyses) are ``Any`` or ``dict[str, Any]``;
- extra keys are allowed (:class:`ApiModel`) so that validating an answer never fails on a key
  added later; the contract test refuses any key a model does not declare.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, RootModel

from oligotrial.adapters.web.responses import SafeJSONResponse

Number = int | float


class ApiModel(BaseModel):
    """Base of every response model (see the module: extra keys allowed, refused by the contract test)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# ---- meta, auth, trials -----------------------------------------------------------------------


class Health(ApiModel):
    status: Literal["ok"]


class ArmSummary(ApiModel):
    id: str
    label: str
    type: str


class TrialListItem(ApiModel):
    id: str
    short_name: str
    title: str
    protocol_version: str
    role: str
    blinded: bool
    design: str
    masking: str
    arms: list[ArmSummary] | None = Field(None, description="only for a role that sees the arms")


class TrialList(RootModel[list[TrialListItem]]):
    """The trials the caller holds a role in."""


class RandomizationListInfo(ApiModel):
    method: str
    commitment: str | None
    created_at: str | None


class TrialSummary(ApiModel):
    """Accrual: totals by state; by site in a multi-centre trial; by arm only for a role that
    sees the arms (the coordinator, the DSMB)."""

    trial: str
    short_name: str
    protocol_version: str
    participants: int
    by_state: dict[str, int]
    randomized: int
    randomization_list: RandomizationListInfo | None = Field(alias="list")
    by_site: dict[str, int] | None = None
    by_arm: dict[str, int] | None = None


class ProtocolVersionItem(ApiModel):
    version: str
    effective_date: str
    amends: str | None
    in_effect: bool
    current: bool


class TrialVersions(ApiModel):
    trial: str
    short_name: str
    today: str
    current_version: str | None
    versions: list[ProtocolVersionItem]


# ---- participants -----------------------------------------------------------------------------


class ParticipantListItem(ApiModel):
    id: str
    external_id: str | None
    site: str | None
    state: str
    created_at: str | None


class ParticipantList(RootModel[list[ParticipantListItem]]):
    """The trial's participants the caller may see."""


class ScheduledVisit(ApiModel):
    """A visit of the schedule, dated from its anchor, with its status today."""

    code: str
    label: str
    anchor: str
    target: str | None
    earliest: str | None
    latest: str | None
    forms: list[Any]
    actual: str | None
    status: str
    note: str | None
    withheld_from_blinded: list[str] | None = Field(None, description="to the data manager who may release it")


class WaitingVisit(ApiModel):
    """A visit waiting for its anchor (the radiotherapy, a progression)."""

    code: str
    label: str
    anchor: str


class EntryView(ApiModel):
    """A follow-up entry as users see it: what was recorded, its version, who changed it, when, why."""

    id: int
    kind: str
    status: str
    version: int
    recorded_at: str | None
    recorded_by: str | None
    data: Any
    updated_at: str | None = None
    updated_by: str | None = None
    reason: str | None = None
    withheld: list[str] | None = Field(None, description="what a blinded reader does not see")
    withheld_from_blinded: list[str] | None = Field(None, description="to the data manager who may release it")


class AllocationView(ApiModel):
    """The allocation as the role may see it: the arm only for a role that sees the arms."""

    randomized: bool
    randomization_number: str
    strata: dict[str, Any]
    allocated_at: str
    arm: str | None = None
    arm_label: str | None = None


class ParticipantView(ApiModel):
    """A participant as the caller's role may see them (no arm, no radiotherapy detail for a
    blinded role; nothing that exists in one arm only for a masked role)."""

    id: str
    trial: str
    external_id: str | None
    site: str | None
    state: str
    record: dict[str, Any] | None
    screening: dict[str, Any] | None
    consent: dict[str, Any] | None
    enrolment: dict[str, Any] | None
    randomized_on: str | None
    radiotherapy: dict[str, Any] | None = Field(
        description="the course; for a blinded role {delivered, start}, or {masked: true} where not every arm gives it"
    )
    visits: list[ScheduledVisit]
    visits_waiting: list[WaitingVisit]
    entries: list[EntryView]
    created_at: str | None
    version: int
    closure: dict[str, Any] | None
    allocation: AllocationView | None = None


class VisitDue(ApiModel):
    """A visit on the coordinator's worklist."""

    participant: str
    external_id: str | None
    site: str | None
    code: str
    label: str
    anchor: str
    target: str | None
    earliest: str | None
    latest: str | None
    forms: list[Any]
    actual: str | None
    status: str
    note: str | None


class VisitsDue(RootModel[list[VisitDue]]):
    """The visits of the statuses asked for, by latest date."""


class VisitRecorded(ApiModel):
    code: str
    label: str
    anchor: str
    target: str | None
    earliest: str | None
    latest: str | None
    forms: list[Any]
    actual: str | None
    status: str
    note: str | None
    warnings: list[str] = Field(description="arm words in the note, for its writer only")


class EntryChange(ApiModel):
    """A follow-up entry recorded, corrected or retracted."""

    id: int
    kind: str
    status: str
    version: int
    data: Any = None
    reason: str | None = None
    notes: list[Any] | None = None
    participant_state: str
    warnings: list[str]


class TextReleased(ApiModel):
    id: int
    field: str
    version: int
    released: bool
    reason: str


class VisitNoteReleased(ApiModel):
    visit: str
    field: str
    released: bool
    reason: str


class Unblinded(ApiModel):
    participant: str
    arm: str
    arm_label: str
    unblinded_at: str
    event: Any


class Notification(ApiModel):
    id: int
    trial: str
    kind: str
    participant_id: str
    message: str
    at: str


class Notifications(RootModel[list[Notification]]):
    """The coordinator's notifications (unblindings, radiotherapy deviations), oldest first."""


# ---- analysis ---------------------------------------------------------------------------------


class EndpointValue(ApiModel):
    """One endpoint of the participant, with its reason: a time to event (``event``, ``date``,
    ``days``; per lesion with ``lesion``), a proportion (``value``, ``best_overall_response``) or
    per lesion (``lesions``; of the residual ones with ``lesion_set`` and ``undetermined``)."""

    endpoint: str
    name: str | None
    source_text: str | None
    kind: str
    event: bool | None = None
    date: str | None = None
    days: Number | None = None
    value: bool | None = None
    best_overall_response: str | None = None
    lesion_set: str | None = None
    lesions: list[Any] | None = None
    undetermined: list[Any] | None = None
    reason: str | None = None
    lesion: str | None = None


class ParticipantEndpoints(ApiModel):
    """The participant's endpoints derived from the stored data (``oligotrial.endpoints/1``), the
    arm only for a role that sees it."""

    format: str
    patient: str | None
    trial: str
    origin: str | None
    origin_kind: str | None
    response_baseline: str | None
    response: dict[str, Any] | None
    endpoints: list[EndpointValue]
    notes: list[Any]
    arm: str | None = None
    participant: str


class TrialReport(ApiModel):
    """The trial report (``oligotrial.trial-report/1``, as report.json holds it). For a blinded
    role the arms are pooled: ``groups`` and ``reference_group`` stand for ``arms`` and
    ``reference_arm``, and there is no forest plot nor cost-effectiveness. The analyses are the
    statistics modules' documents (:mod:`oligotrial.stats`)."""

    format: str
    trial: str
    short_name: str
    protocol_version: str
    data_cut: str
    database_state: dict[str, Any]
    blinded: bool
    arms: list[Any] | None = None
    reference_arm: str | None = None
    groups: list[Any] | None = None
    reference_group: str | None = None
    populations: dict[str, Any]
    consort: dict[str, Any]
    baseline: dict[str, Any]
    endpoints: dict[str, Any]
    response: dict[str, Any]
    safety: dict[str, Any]
    quality_of_life: dict[str, Any]
    deviations: list[Any]
    forest: dict[str, Any] | None = None
    cost_effectiveness: dict[str, Any] | None = None
    site: str | None = Field(None, description="a site-limited role: its site")


# ---- audit ------------------------------------------------------------------------------------


class AuditEntryView(ApiModel):
    """An audit entry as the caller may see it."""

    seq: int
    at: str
    actor: str | None
    role: str | None
    action: str
    entity_type: str | None
    entity_id: str | None
    reason: str | None
    hash: str | None
    old: Any = None
    new: Any = None


class AuditTrailPage(RootModel[list[AuditEntryView]]):
    """A page of the audit trail, oldest first (the next page's link in the ``Link`` header)."""


class ChainVerification(ApiModel):
    """What verifying the audit chain found (:class:`oligotrial.domain.trial.audit.ChainReport`)."""

    ok: bool
    checked: int
    last_seq: int
    altered: list[int]
    removed: list[int]
    inserted: list[int]
    replayed: list[int]
    checkpoint_seq: int | None
    checkpoint_problems: list[str]
    format_problems: list[str]
    allocation_problems: list[str]
    keyed_from: int | None
    notes: list[str]


# ---- data queries -----------------------------------------------------------------------------


class QueryStep(ApiModel):
    seq: int
    action: str
    by: str | None
    role: str | None
    at: str
    text: str | None


class DataQuery(ApiModel):
    """A data query; with its history where one query is asked for or changed, and the writer's
    arm-word warnings where it was just written."""

    id: int
    trial: str
    participant: str
    external_id: str | None
    site: str | None
    entry: int | None
    entry_kind: str | None
    field: str
    status: str
    raised_by: str | None
    raised_at: str
    updated_at: str | None
    question: str | None
    actions: list[str]
    history: list[QueryStep] | None = None
    warnings: list[str] | None = None


class DataQueries(RootModel[list[DataQuery]]):
    """The trial's data queries the caller may see, oldest first."""


# ---- file downloads and streams: their media type, in ``responses`` ---------------------------

#: the CSV analysis datasets (a download)
CSV_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the dataset as CSV (UTF-8), a download (Content-Disposition: attachment)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}

#: the audit trail, streamed a page at a time as a JSON array
AUDIT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"model": AuditTrailPage, "description": "a page of the audit trail (application/json)"}
}


# ---- routes that answer their service's value, described by their model --------------------------


def described(model: Any) -> bool:
    """Whether ``model`` is one of this module's response models."""
    return isinstance(model, type) and issubclass(model, ApiModel | RootModel)


def as_is(endpoint: Callable[..., Any], status_code: int) -> Callable[..., Any]:
    """``endpoint`` answering its value as FastAPI answers a route without a response model
    (``jsonable_encoder``, then :class:`SafeJSONResponse` with ``status_code``); a
    :class:`Response` it returns is answered as it is. FastAPI reads the parameters of the
    wrapped endpoint (``functools.wraps``)."""

    def answer(out: Any) -> Any:
        return out if isinstance(out, Response) else SafeJSONResponse(jsonable_encoder(out), status_code=status_code)

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def async_route(*args: Any, **kwargs: Any) -> Any:
            return answer(await endpoint(*args, **kwargs))

        return async_route

    @functools.wraps(endpoint)
    def route(*args: Any, **kwargs: Any) -> Any:
        return answer(endpoint(*args, **kwargs))

    return route


class DescribedRouter(APIRouter):
    """An API router whose routes declare a response model (:func:`described`) for the OpenAPI
    document and answer their service's value as it is (:func:`as_is`)."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if described(kwargs.get("response_model")):
            endpoint = as_is(endpoint, kwargs.get("status_code") or 200)
        super().add_api_route(path, endpoint, **kwargs)

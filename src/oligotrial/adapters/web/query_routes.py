"""Data queries through the API (:mod:`oligotrial.service.queries`):

- ``GET /api/v1/trials/{trial}/queries`` (``status``, ``participant``): the queries the caller may see;
- ``POST /api/v1/trials/{trial}/queries``: raise one (the data manager);
- ``GET /api/v1/trials/{trial}/queries/{query_id}``: one, with its history;
- ``POST .../{query_id}/answer``, ``.../close``, ``.../reopen``: the next step.

The bodies are the models below; the pages validate their forms with the same models
(:func:`parse`), and the service checks the rest (text length, the field against its entry, arm
words in a blinded trial, the role and the lifecycle)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import ConfigDict, Field, ValidationError

from oligotrial.adapters.web import api_models as api
from oligotrial.adapters.web.inputs import check_request_input
from oligotrial.adapters.web.security import Ctx, CurrentActor, TrialId
from oligotrial.domain.kernel import BoundedModel
from oligotrial.domain.kernel.bounds import bound_expectation, shown
from oligotrial.domain.trial.queries import FIELD_MAX, TEXT_MAX
from oligotrial.errors import RecordError
from oligotrial.service import queries

router = api.DescribedRouter(prefix="/api/v1", dependencies=[Depends(check_request_input)])

QueryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="data query number")]


class _Body(BoundedModel):
    model_config = ConfigDict(extra="forbid", defer_build=False)


class RaiseQuery(_Body):
    """A query on one field of a participant's data."""

    participant: str = Field(min_length=1, max_length=128, description="the participant's id or own id")
    entry: int | None = Field(
        None, ge=1, le=2**31 - 1, description="the follow-up entry; none: a field of the registered record"
    )
    field: str = Field(max_length=FIELD_MAX, description="the field, e.g. grade or findings[0].diameter_mm")
    text: str = Field(
        max_length=TEXT_MAX,
        description="the question (3-5000 characters; in a blinded trial without arm, regimen or dose)",
    )


class QueryMessage(_Body):
    """The text of a step: an answer, why the query is re-opened, or a closing note (may be empty)."""

    text: str = Field("", max_length=TEXT_MAX)


def parse(model: type[_Body], data: dict[str, Any]) -> Any:
    """``data`` (a posted form) as ``model``, or a :class:`RecordError` naming each field, its
    value and what was expected, in the words of the API's own answer to a bad body (the
    bounds' wording, :func:`oligotrial.domain.kernel.bounds.bound_expectation`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {
                "path": ".".join(str(p) for p in e["loc"]) or "form",
                "value": shown(e.get("input")),
                "expected": bound_expectation(e) or str(e["msg"]).removeprefix("Value error, "),
            }
            for e in exc.errors(include_url=False)
        ]
        first = errors[0]
        raise RecordError(
            f"{first['path']} {first['value']!r}: expected {first['expected']}", field=first["path"], errors=errors
        ) from None


@router.get(
    "/trials/{trial}/queries",
    response_model=api.DataQueries,
    tags=["data queries"],
    summary="The trial's data queries the caller may see, oldest first",
)
def list_queries(
    ctx: Ctx,
    actor: CurrentActor,
    trial: TrialId,
    status: Annotated[str | None, Query(max_length=16, description="open, answered or closed")] = None,
    participant: Annotated[str | None, Query(max_length=128, description="a participant's id or own id")] = None,
) -> list[dict]:
    return queries.list_queries(ctx, actor, trial, status, participant)


@router.post(
    "/trials/{trial}/queries",
    response_model=api.DataQuery,
    status_code=201,
    tags=["data queries"],
    summary="Raise a data query on a field of an entry or of the registered record (the data manager)",
)
def raise_query(ctx: Ctx, actor: CurrentActor, trial: TrialId, body: RaiseQuery) -> dict:
    return queries.raise_query(ctx, actor, trial, body.participant, entry=body.entry, field=body.field, text=body.text)


@router.get(
    "/trials/{trial}/queries/{query_id}",
    response_model=api.DataQuery,
    tags=["data queries"],
    summary="A data query with its history (each step: action, who, role, when, text)",
)
def get_query(ctx: Ctx, actor: CurrentActor, trial: TrialId, query_id: QueryId) -> dict:
    return queries.get_query(ctx, actor, trial, query_id)


@router.post(
    "/trials/{trial}/queries/{query_id}/answer",
    response_model=api.DataQuery,
    tags=["data queries"],
    summary="Answer an open data query (the site)",
)
def answer_query(ctx: Ctx, actor: CurrentActor, trial: TrialId, query_id: QueryId, body: QueryMessage) -> dict:
    return queries.answer_query(ctx, actor, trial, query_id, body.text)


@router.post(
    "/trials/{trial}/queries/{query_id}/close",
    response_model=api.DataQuery,
    tags=["data queries"],
    summary="Close an open or answered data query, with an optional note (the data manager)",
)
def close_query(
    ctx: Ctx, actor: CurrentActor, trial: TrialId, query_id: QueryId, body: QueryMessage | None = None
) -> dict:
    return queries.close_query(ctx, actor, trial, query_id, body.text if body else "")


@router.post(
    "/trials/{trial}/queries/{query_id}/reopen",
    response_model=api.DataQuery,
    tags=["data queries"],
    summary="Re-open an answered or closed data query, saying why (the data manager)",
)
def reopen_query(ctx: Ctx, actor: CurrentActor, trial: TrialId, query_id: QueryId, body: QueryMessage) -> dict:
    return queries.reopen_query(ctx, actor, trial, query_id, body.text)


@router.post(
    "/trials/{trial}/queries/{query_id}/release",
    response_model=api.DataQuery,
    tags=["data queries"],
    summary="Release the query's messages so far to the blinded roles after review, saying why (whoever raised it)",
)
def release_query(ctx: Ctx, actor: CurrentActor, trial: TrialId, query_id: QueryId, body: QueryMessage) -> dict:
    return queries.release_query(ctx, actor, trial, query_id, body.text)

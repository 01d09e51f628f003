"""The rows the storage ports hand the services: follow-up visits and entries, notifications,
audit entries, data queries and their messages.

They are ``TypedDict`` classes, so a row is a plain ``dict`` at run time (``row["due"]`` reads
it, JSON writes it unchanged, key order is the adapter's) and its keys and value types are
checked by mypy. ``New*`` rows are what a service writes; the stored row adds what the store
assigns (an id, the owner's key)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

#: a JSON object as stored (a clinical entry's data, an audit entry's old and new values)
JsonObject = dict[str, Any]


class NewVisit(TypedDict):
    """A planned visit of a participant's schedule, as the service stores it."""

    code: str
    label: str
    anchor: str
    target: str  # ISO dates
    earliest: str
    latest: str
    forms: list[str]
    actual: str | None
    status: str  # planned, done, done_out_of_window, missed
    note: str | None


class VisitRow(NewVisit):
    """A stored visit."""

    id: int
    participant_id: str


class EntryRow(TypedDict):
    """A follow-up entry as the services see it: its metadata and its data, kept apart."""

    id: int
    kind: str
    at: str
    by: str
    status: str  # active, corrected, withdrawn
    version: int
    updated_at: str | None
    updated_by: str | None
    reason: str | None
    data: JsonObject


class NotificationRow(TypedDict):
    id: NotRequired[int]
    trial: str
    kind: str
    participant_id: str
    message: str
    at: str


class AuditEntry(TypedDict):
    """An audit entry built by the service (``service.audit.build_entry``), not yet in the chain."""

    at: str
    actor: str
    role: str | None
    trial: str | None
    action: str
    entity_type: str
    entity_id: str
    old: Any
    new: Any
    reason: str | None
    nonce: NotRequired[str | None]  # v3 entries (absent from v2 entries)


class AuditRow(AuditEntry):
    """An audit entry as stored: its place in the chain and its digests."""

    seq: int
    prev_hash: str
    hash: str
    v: int
    mac: str | None
    bind: str | None
    marker: str | None


class NewQuery(TypedDict):
    """A data query as raised (``service.queries``)."""

    trial: str
    participant_id: str
    entry_id: int | None  # None: a field of the registered record
    field: str
    status: str  # open, answered, closed
    raised_by: str
    raised_at: str
    updated_at: str


class QueryRow(NewQuery):
    """A stored query with its participant's ``external_id`` and ``site``, its entry's kind
    (None: a record field) and its question (the raise text)."""

    id: int
    external_id: str
    site: str | None
    entry_kind: str | None
    question: str | None


class QueryMessage(TypedDict):
    """One step of a query's history."""

    seq: int
    action: str  # raise, answer, close, reopen, release
    by: str
    role: str | None
    at: str
    text: str


class QueryMessageRow(QueryMessage):
    query_id: int

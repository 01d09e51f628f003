"""Follow-up entries: one kind of entry per list of the patient record, validated by the record's
own models, and merged into the record they extend.

A participant's record is the record registered at screening plus every follow-up entry that is
not retracted, each appended to its list (an assessment to ``assessments[]``, a death to
``events[]``, ...). The merged record is validated by :func:`~.patient.parse_patient` as a whole, so
an entry is judged exactly as the same data in a record file would be: unknown keys, ranges and
enumerations by the entry's model; lesions known to the participant, same-date conflicts and
impossible dates by the record's consistency checks. There is no second dialect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from oligotrial.domain.record.consistency import dates_after, same_date_conflicts
from oligotrial.domain.record.followup import AdverseEvent, QualityOfLife
from oligotrial.domain.record.patient import (
    Assessment,
    Event,
    Lab,
    Patient,
    Performance,
    SystemicTherapy,
    _pydantic_issues,
    parse_patient,
)
from oligotrial.errors import RecordError

#: entry kind -> (the record's list it extends, the model that validates it)
ENTRY_KINDS: dict[str, tuple[str, type[BaseModel]]] = {
    "assessment": ("assessments", Assessment),
    "adverse_event": ("adverse_events", AdverseEvent),
    "qol": ("quality_of_life", QualityOfLife),
    "lab": ("labs", Lab),
    "performance": ("performance", Performance),
    "therapy": ("systemic_therapy", SystemicTherapy),
    "event": ("events", Event),
}


def _kind(kind: str) -> tuple[str, type[BaseModel]]:
    try:
        return ENTRY_KINDS[kind]
    except KeyError:
        raise RecordError(
            f"kind {kind!r}: expected one of {', '.join(ENTRY_KINDS)}",
            field="kind",
            errors=[{"path": "kind", "value": kind, "expected": f"one of {list(ENTRY_KINDS)}"}],
        ) from None


def parse_entry(kind: str, data: Any, *, not_after: dt.date | None = None) -> dict[str, Any]:
    """Validate one entry of ``kind`` with the record's model for it; the entry as stored (JSON
    types, canonical units, absent fields left out). With ``not_after`` (the service's today), a
    date after it (``date``, ``resolved_on``, ``end``, ...) is an error
    (:func:`~.consistency.dates_after`). Raises :class:`RecordError` naming every field, value
    and expectation; nothing is returned half-checked."""
    _field, model = _kind(kind)
    if not isinstance(data, Mapping):
        raise RecordError(
            f"{kind}: expected an object, got {type(data).__name__}",
            field="body",
            errors=[{"path": "", "value": type(data).__name__, "expected": "a JSON object"}],
        )
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        issues = _pydantic_issues(exc)
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        raise RecordError(
            f"{kind}: {first['path'] or 'entry'} = {_shown(first['value'])!r}: expected {first['expected']}{more}",
            field=first["path"],
            errors=issues,
        ) from None
    future = dates_after(parsed, not_after) if not_after is not None else []
    if future:
        first = future[0]
        more = f" (and {len(future) - 1} more)" if len(future) > 1 else ""
        raise RecordError(
            f"{kind}: {first['path']} = {first['value']!r}: expected {first['expected']}{more}",
            field=first["path"],
            errors=future,
        )
    return parsed.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def _shown(value: Any) -> Any:
    return value if not isinstance(value, (dict, list)) or len(repr(value)) < 80 else "..."


def entry_date(kind: str, entry: Mapping[str, Any]) -> dt.date:
    """The date an entry is about (a therapy's start; every other kind's ``date``)."""
    return dt.date.fromisoformat(entry["start"] if kind == "therapy" else entry["date"])


def merge(record: Mapping[str, Any], entries: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``record`` with each (kind, entry) appended to its list, in the order given."""
    out = dict(record)
    for kind, entry in entries:
        field, _model = _kind(kind)
        out[field] = [*(out.get(field) or []), dict(entry)]
    return out


def entry_path(record: Mapping[str, Any], kind: str, index_from_end: int = 1) -> str:
    """The path in the merged record of an entry appended ``index_from_end`` from the end of its
    list (1: the last)."""
    field, _model = _kind(kind)
    return f"{field}[{len(record.get(field) or []) - index_from_end}]"


def validate_merged(record: Mapping[str, Any], *, today: dt.date | None = None, focus: str | None = None) -> Patient:
    """Validate a merged record. With ``focus`` (an entry's path, e.g. ``assessments[3]``) the
    issues about that entry, named relative to the entry (``findings[0].lesion``). Data entry also
    refuses two readings of one lesion on one date (:func:`~.patient.same_date_conflicts`)."""
    try:
        patient = parse_patient(record, today=today)
        conflicts = same_date_conflicts(patient)
        if conflicts:
            raise RecordError(
                f"{conflicts[0]['path']}: expected {conflicts[0]['expected']}",
                field=conflicts[0]["path"],
                errors=conflicts,
            )
        return patient
    except RecordError as exc:
        if focus is None:
            raise
        issues = list(exc.errors or [])
        own = [
            {**i, "path": i["path"][len(focus) :].lstrip(".") or "entry"}
            for i in issues
            if i["path"] == focus or i["path"].startswith(focus + ".") or i["path"].startswith(focus + "[")
        ]
        if not own:
            raise
        first = own[0]
        more = f" (and {len(own) - 1} more)" if len(own) > 1 else ""
        raise RecordError(
            f"{first['path']} = {_shown(first['value'])!r}: expected {first['expected']}{more}",
            field=first["path"],
            errors=own,
        ) from None

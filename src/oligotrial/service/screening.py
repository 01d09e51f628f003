"""Use case: screen patient records against protocols.

``screen_patient`` (re-exported from the domain) screens one parsed patient against one
protocol; ``screen_record`` validates a raw record and screens it against several protocols,
returning the ``oligotrial.screening/1`` document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from oligotrial.domain.eligibility.screening import (
    TrialScreening,
    screen_against,
    screen_patient,
    screening_document,
    screening_summary,
)
from oligotrial.domain.record.patient import parse_patient

__all__ = ["TrialScreening", "screen_patient", "screen_record"]


def screen_record(
    data: Mapping[str, Any],
    protocols: Sequence,
    *,
    assume_attested: bool = False,
    today: dt.date | None = None,
    compact: bool = False,
    not_after: dt.date | None = None,
) -> dict[str, Any]:
    """Validate ``data`` as a patient record and screen it against every protocol given: the
    ``oligotrial.screening/1`` document, or with ``compact`` the ``oligotrial.screening-summary/1``
    element (verdicts, counts, failing and unknown criteria only).

    Raises :class:`~oligotrial.errors.RecordError` (nothing screened) for a malformed record, or
    one with a date after ``not_after`` (the caller's today).
    """
    patient = parse_patient(data, today=today, not_after=not_after)
    results = screen_against(patient, protocols, assume_attested=assume_attested)
    return screening_summary(patient, results) if compact else screening_document(patient, results)

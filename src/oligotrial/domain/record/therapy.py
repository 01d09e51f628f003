"""Local (non-radiotherapy) anticancer treatments of the patient record: ``local_therapies[]``,
an optional extension of ``oligotrial.patient/1``.

Each entry is one liver-directed or other local treatment (TACE, TARE, ablation, resection,
hepatic arterial infusion, percutaneous ethanol injection, other) with its date and, optionally,
the lesions it treated. NCT06592612 (HCC) exclusion 7 reads it: "Received any other antitumor
drug therapy or local treatment within 3 months before enrollment". Radiotherapy stays in
``radiotherapy[]``.

As everywhere in the record, an absent list means "not known"; an empty list states that there
were none.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from oligotrial.domain.kernel import BoundedModel

if TYPE_CHECKING:
    from collections.abc import Iterable

Date = dt.date

LOCAL_THERAPY_KINDS = ("tace", "tare", "ablation", "resection", "hai", "pei", "other")


class LocalTherapy(BoundedModel):
    """One local treatment: ``kind``, ``date`` (of the procedure; the first session for a
    series), the treated ``lesions`` (ids from ``lesions[]`` or a finding) and free ``detail``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    kind: Literal["tace", "tare", "ablation", "resection", "hai", "pei", "other"]
    date: Date
    lesions: list[str] | None = None
    detail: str | None = Field(default=None, max_length=2000)


def local_therapy_issues(
    items: Iterable[LocalTherapy] | None, birth: Date | None, known_lesions: set[str]
) -> list[dict[str, Any]]:
    """The record's consistency checks for ``local_therapies[]``: no date before birth, every
    treated lesion known (in ``lesions[]`` or first seen as a new finding)."""
    issues: list[dict[str, Any]] = []
    for i, t in enumerate(items or ()):
        if birth is not None and t.date < birth:
            issues.append(
                {
                    "path": f"local_therapies[{i}].date",
                    "value": t.date.isoformat(),
                    "expected": f"a date on or after birth ({birth.isoformat()}): "
                    "a local therapy before birth is impossible",
                }
            )
        for k, lid in enumerate(t.lesions or ()):
            if lid not in known_lesions:
                issues.append(
                    {
                        "path": f"local_therapies[{i}].lesions[{k}]",
                        "value": lid,
                        "expected": "a lesion id from lesions[] or a finding",
                    }
                )
    return issues

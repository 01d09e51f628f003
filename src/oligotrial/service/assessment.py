"""Use cases behind ``oligotrial assess``, ``classify`` and ``endpoints``.

Each takes a parsed :class:`~oligotrial.domain.record.patient.Patient` (and a protocol), calls the
domain, and returns plain data in the documented formats (shared/formats/assessment-result.md).
Endpoint derivation is the domain's (:mod:`oligotrial.domain.response.derivation`); its public
functions are named here too, for the adapters that call them from this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from oligotrial.domain.record.patient import Patient
from oligotrial.domain.response import irecist, oligostate
from oligotrial.domain.response import recist as r11
from oligotrial.domain.response.derivation import (
    best_response,
    derive_endpoints,
    new_anticancer_therapy,
    response_baseline,
    response_options,
)
from oligotrial.errors import AssessmentError

__all__ = [
    "Assessed",
    "Criteria",
    "assess_patient",
    "best_response",
    "classify_patient",
    "derive_endpoints",
    "new_anticancer_therapy",
    "response_baseline",
    "response_options",
]

Criteria = Literal["recist1.1", "irecist"]


def _num(x: Decimal | None) -> float | None:
    return None if x is None else float(x)


@dataclass
class Assessed:
    """The assessment as data (``document``) plus the domain result (for plots)."""

    document: dict[str, Any]
    result: r11.RecistResult | irecist.IrecistResult


def assess_patient(
    patient: Patient,
    *,
    criteria: Criteria = "recist1.1",
    baseline: dt.date | None = None,
    start: dt.date | None = None,
    confirm: bool = False,
    recist_options: r11.RecistOptions | None = None,
    irecist_options: irecist.IrecistOptions | None = None,
) -> Assessed:
    """Responses at every time point and the best overall response (``oligotrial.assessment/1``)."""
    ropts = recist_options or r11.RecistOptions()
    if criteria == "recist1.1":
        res: Any = r11.assess(patient, baseline=baseline, options=ropts)
        bor = r11.best_overall_response(res.responses(), start=start or res.baseline, confirm=confirm, options=ropts)
        first = r11.first_progression(res)
        tps = [
            {
                "date": tp.date.isoformat(),
                "target_sum_mm": _num(tp.target_sum_mm),
                "change_from_baseline_pct": tp.change_from_baseline_pct,
                "change_from_nadir_mm": _num(tp.change_from_nadir_mm),
                "target": tp.target,
                "non_target": tp.non_target,
                "new_lesions": tp.new_lesions,
                "overall": tp.overall,
                "reasons": tp.reasons,
            }
            for tp in res.timepoints
        ]
        name = "RECIST 1.1"
    elif criteria == "irecist":
        iopts = irecist_options or irecist.IrecistOptions(recist=ropts)
        res = irecist.assess(patient, baseline=baseline, options=iopts)
        bor = irecist.best_overall_response(
            res.responses(), start=start or res.baseline, confirm=confirm, options=iopts
        )
        first = res.first_progression
        tps = [
            {
                "date": tp.date.isoformat(),
                "target_sum_mm": _num(tp.target_sum_mm),
                "change_from_baseline_pct": tp.change_from_baseline_pct,
                "change_from_nadir_mm": _num(tp.change_from_nadir_mm),
                "target": _i(tp.target),
                "non_target": _i(tp.non_target),
                "new_lesions": tp.new_lesions,
                "overall": tp.overall,
                "nlt_sum_mm": _num(tp.nlt_sum_mm),
                "ignored_for_confirmation": tp.ignored_for_confirmation,
                "reasons": tp.reasons,
            }
            for tp in res.timepoints
        ]
        name = "iRECIST"
    else:
        raise AssessmentError(f"criteria {criteria!r}: expected recist1.1 or irecist", field="criteria")
    doc = {
        "format": "oligotrial.assessment/1",
        "patient": patient.id,
        "criteria": name,
        "baseline": res.baseline.isoformat(),
        "targets": list(res.targets),
        "non_targets": list(res.non_targets),
        "timepoints": tps,
        "best_overall_response": bor.response,
        "first_progression": first.isoformat() if first else None,
        "notes": list(res.notes),
        # extensions
        "baseline_sum_mm": _num(res.baseline_sum_mm),
        "best_overall_response_date": bor.date.isoformat() if bor.date else None,
        "confirmed": confirm,
        "start": (start or res.baseline).isoformat(),
    }
    if criteria == "irecist":
        doc["new_lesion_targets"] = list(res.nlt)
        doc["new_lesion_non_targets"] = list(res.nlnt)
    return Assessed(doc, res)


_I = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "PD": "iUPD", "NON-CR/NON-PD": "NON-iCR/NON-iUPD", "NE": "NE"}


def _i(resp: str | None) -> str | None:
    return None if resp is None else _I.get(resp, resp)


def classify_patient(patient: Patient) -> dict[str, Any]:
    """ESTRO-EORTC state; "progressing" is the latest RECIST 1.1 time point being PD (unknown
    when the record cannot be assessed)."""
    progressing: bool | None = None
    note = None
    try:
        res = r11.assess(patient)
        if res.timepoints:
            progressing = res.timepoints[-1].overall == "PD"
        else:
            note = "only a baseline assessment: progression status unknown"
    except AssessmentError as exc:
        note = f"progression status unknown: {exc.message}"
    state = oligostate.classify(oligostate.inputs_from_patient(patient, progressing=progressing))
    out = {"format": "oligotrial.oligostate/1", "patient": patient.id, **state.to_dict()}
    out["notes"] = [note] if note else []
    return out

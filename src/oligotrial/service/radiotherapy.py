"""Radiotherapy recorded in the workflow, checked against the participant's allocated arm.

The course as recorded (total dose, fractions, technique, treated lesions) becomes an
``oligotrial.rt_prescription/1`` (one entry per lesion, or one for the course when no lesion
is named) and goes through issue 4's checker (:func:`oligotrial.domain.radiotherapy.prescription.check_prescription`)
against the arm's registered regimens: dose, fractions, dose per fraction, fractions per week,
technique, lesion count, the first and last fraction dates against the regimen's fractions per
week and overall time (:mod:`oligotrial.domain.radiotherapy.course_dates`), and BED/EQD2
(alpha/beta 10 Gy) for the record. OAR constraints need
a plan's dose grid and are checked with ``oligotrial rt check`` on the DICOM plan, not here.

What is decided (:func:`oligotrial.domain.trial.workflow.radiotherapy_decision`):

* ``pass``: recorded;
* ``not_evaluable`` (the arm asks for something the record does not give, e.g. a technique):
  recorded, with the reasons, for review;
* ``fail``: refused with an error that names the field, the value and the expected range,
  unless an override with a reason (at least 10 characters) is documented; then it is
  recorded as a protocol deviation, the reason goes to the audit trail and the coordinator is
  notified.

Only unblinded roles may record radiotherapy (``access.PERMISSIONS``), but the refusal is
still built for the caller's blinding: a blinded caller learns that the course does not fit the
allocation, never the arm or its ranges. The stored result never names the arm (the arm is
stored only in the encrypted allocation); blinded views never show it
(:func:`oligotrial.domain.trial.blinding.radiotherapy_view`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from oligotrial.domain.radiotherapy.prescription import RTCheckReport, check_prescription, parse_prescription
from oligotrial.domain.response.recist import lesion_of, measurable
from oligotrial.errors import DoseError

#: which recorded field each failing reason is about
FIELD_OF_REASON = {
    "dose_out_of_range": "dose_gy",
    "fractions_out_of_range": "fractions",
    "dose_per_fraction_out_of_range": "dose_gy",
    "fractions_per_week_out_of_range": "fractions_per_week",
    "fractions_per_week_missing": "fractions_per_week",
    "wrong_technique": "technique",
    "site_missing": "lesions",
    "site_not_in_regimen": "lesions",
    "technique_missing": "technique",
    "lesion_count_over_limit": "lesions",
    "regimen_lesion_count": "lesions",
    "role_not_in_arm": "lesions",
    "arm_gives_no_radiotherapy": "dose_gy",
    "course_start_missing": "start",
    "systemic_line_start_missing": "start",
    "course_start_before_systemic_line": "start",
    "course_start_too_late": "start",
    "fraction_dates_too_close": "end",
    "overall_time_too_long": "end",
}


def observation_lesions(patient: Any, treated: list[str], as_of: Any = None) -> list[dict[str, Any]]:
    """Lesions of the participant's record left untreated by the course, each with whether it is
    measurable by RECIST 1.1 at its latest measurement on or before ``as_of`` (longest diameter
    >= 10 mm; nodes short axis >= 15 mm; bone only with a soft-tissue component; Eisenhauer 2009
    s.3.1). NCT05906329 needs at least one measurable untreated observation lesion."""
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    latest: dict[str, Any] = {}
    for a in patient.assessments_sorted():
        if as_of is not None and a.date > as_of:
            break
        for f in a.findings:
            if f.state not in ("absent", "not_evaluated"):
                latest[f.lesion] = f
    out = []
    for lid, f in latest.items():
        if lid in treated:
            continue
        ok, _ = measurable(lesion_of(patient, lid, f), f)
        out.append({"id": lid, "measurable": ok})
    return out


def prescription(rt: dict[str, Any], patient: Any = None) -> Any:
    """The recorded course as a prescription: each named lesion got the course's dose; the
    record's untreated lesions are the observation lesions."""
    ids = rt.get("lesions") or ["course"]
    lesion = {
        "dose_gy": rt["dose_gy"],
        "fractions": rt["fractions"],
        "technique": rt.get("technique"),
        "fractions_per_week": rt.get("fractions_per_week"),
    }
    organs = {k: v.organ for k, v in patient.lesion_map().items()} if patient is not None else {}
    data = {
        "start_date": rt["start"],
        "end_date": rt.get("end"),
        "lesions": [{"id": i, **lesion, "site": organs.get(i)} for i in ids],
    }
    if patient is not None:
        data["observation_lesions"] = observation_lesions(patient, list(rt.get("lesions") or ()), rt["start"])
        if patient.systemic_therapy is not None:
            data["systemic_lines"] = [{"line": t.line, "start": t.start} for t in patient.systemic_therapy]
    return parse_prescription(data)


def check(protocol: Any, arm_id: str, rt: dict[str, Any], patient: Any = None) -> RTCheckReport:
    """Check the course against the arm; ``patient`` (the parsed record) gives the observation
    lesions an arm may require."""
    arm = protocol.arm(arm_id)
    return check_prescription(prescription(rt, patient), arm.radiotherapy, trial=protocol.id, arm=arm.id)


def problems(report: RTCheckReport) -> list[dict[str, str]]:
    """Every reason the course does not pass, with the recorded field it is about."""
    out = []
    for v in report.lesions:
        for r in v.reasons:
            out.append({"lesion": v.lesion, "field": FIELD_OF_REASON.get(r.code, "prescription"), **r.to_dict()})
    for f in report.findings:
        out.append({"lesion": None, "field": FIELD_OF_REASON.get(f.code, "prescription"), **f.to_dict()})
    return out


def stored_result(report: RTCheckReport, decision: dict[str, Any], at: str) -> dict[str, Any]:
    """What is kept with the record: the verdict, per-lesion dose, BED10/EQD2 and reasons; not the arm."""
    lesions = [{k: v for k, v in lv.to_dict().items() if k != "reference_matches"} for lv in report.lesions]
    return {
        "status": report.status,
        "checked_at": at,
        "checked_against": "allocated arm",
        "lesions": lesions,
        "findings": [f.to_dict() for f in report.findings],
        "deviation": decision["deviation"],
        "override": decision["override"],
    }


def refusal(report: RTCheckReport, rt: dict[str, Any], *, blinded: bool) -> DoseError:
    """The error for a failing course: the field, its value and the arm's expected range.

    Its ``errors`` list every failing problem by the recorded field it is about (``path``,
    ``value``, ``expected``: what a form shows beside each input); for a blinded caller only the
    one message that names no arm and no range."""
    fails = [p for p in problems(report) if p["status"] == "fail"]
    first = fails[0] if fails else {"field": "prescription", "message": "does not fit the arm"}
    field = first["field"]
    value = rt.get(field) if field in rt else None
    shown = f"{field} {value!r}" if value is not None else field
    if blinded:
        expected = (
            "a course that fits the participant's allocated arm; a coordinator or treating oncologist must review it"
        )
        err = DoseError(
            f"{shown}: the course does not fit the participant's allocated arm; a coordinator or "
            "treating oncologist must review it",
            code="rt_outside_arm",
            field=field,
        )
        err.errors = [{"path": field, "value": value, "expected": expected}]
        return err
    detail = "; ".join(dict.fromkeys(p["message"] for p in fails))
    err = DoseError(
        f"{shown}: the course does not fit {report.trial} arm {report.arm!r} (the participant's "
        f"allocation): {detail}. To record it as a protocol deviation, give override.reason "
        "(at least 10 characters)",
        code="rt_outside_arm",
        field=field,
    )
    err.errors = [
        {
            "path": p["field"],
            "value": rt.get(p["field"]),
            "expected": (f"lesion {p['lesion']}: " if p["lesion"] else "") + p["message"],
        }
        for p in fails
    ]
    return err

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
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field

from oligotrial.domain.kernel import BoundedModel
from oligotrial.domain.protocol.schema import Protocol
from oligotrial.domain.radiotherapy import course_dates
from oligotrial.domain.radiotherapy.prescription import RTCheckReport, check_prescription, parse_prescription
from oligotrial.domain.response.recist import lesion_of, measurable
from oligotrial.errors import DoseError, RecordError

# ---- the course as recorded: one model, its bounds for the API and the service alike ------------

#: the techniques a recorded radiotherapy course may name
Technique = Literal["SBRT", "SABR", "SRS", "IMRT", "VMAT", "3DCRT", "conventional"]
RT_TECHNIQUES: tuple[str, ...] = get_args(Technique)
#: a recorded course's total dose: 0 < dose_gy <= DOSE_MAX_GY
DOSE_MAX_GY = 100
#: a recorded course's number of fractions: 1..FRACTIONS_MAX
FRACTIONS_MAX = 40
#: a recorded course's fractions per week: 0 < fractions_per_week <= FRACTIONS_PER_WEEK_MAX
FRACTIONS_PER_WEEK_MAX = 14


class Override(BoundedModel):
    """A documented reason to record what does not fit the protocol (a protocol deviation)."""

    model_config = ConfigDict(extra="forbid", defer_build=False)

    reason: str = Field(min_length=10, max_length=5000)


class RadiotherapyCourse(BoundedModel):
    """The radiotherapy course as recorded: the API's request body (``POST .../radiotherapy``,
    whose OpenAPI schema these bounds are) and what :func:`course` checks any caller's data
    against (the web form and the command line reach the service without the API), so the
    bounds the API advertises are the ones the service applies."""

    model_config = ConfigDict(extra="forbid", defer_build=False)

    start: str = Field(max_length=10, description="first fraction (ISO 8601)")
    end: str = Field(max_length=10, description="last fraction (ISO 8601), on or after start")
    dose_gy: float = Field(gt=0, le=DOSE_MAX_GY, description="total dose (Gy)")
    fractions: int = Field(ge=1, le=FRACTIONS_MAX)
    technique: Technique | None = None
    lesions: list[Annotated[str, Field(max_length=64)]] = Field(
        default=[], max_length=200, description="the treated lesions' ids, distinct"
    )
    fractions_per_week: float | None = Field(None, gt=0, le=FRACTIONS_PER_WEEK_MAX)
    override: Override | None = Field(
        None,
        description="a documented reason to record a course that does not fit the allocated arm (a protocol deviation)",
    )


def _bad(field: str, value: Any, expected: str) -> RecordError:
    return RecordError(
        f"{field} {value!r}: expected {expected}",
        field=field,
        errors=[{"path": field, "value": value, "expected": expected}],
    )


def course(data: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    """The course to store from ``data`` (the fields of :class:`RadiotherapyCourse`; ``start``
    and ``end`` already read as ISO dates), or a :class:`RecordError` naming the first field
    outside the model's bounds. The first and last fraction dates must be possible for the
    number of fractions whatever the arm (:func:`oligotrial.domain.radiotherapy.course_dates.impossible`)."""
    dose, fx = data.get("dose_gy"), data.get("fractions")
    if not isinstance(dose, int | float) or isinstance(dose, bool) or not 0 < dose <= DOSE_MAX_GY:
        raise _bad("dose_gy", dose, f"a total dose in Gy, 0 < dose_gy <= {DOSE_MAX_GY}")
    if not isinstance(fx, int) or isinstance(fx, bool) or not 1 <= fx <= FRACTIONS_MAX:
        raise _bad("fractions", fx, f"an integer number of fractions 1..{FRACTIONS_MAX}")
    impossible = course_dates.impossible(fx, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    if impossible is not None:  # whatever the arm: one fraction a day at most, one day for one fraction
        raise _bad("end", end, impossible)
    lesions = data.get("lesions", [])
    if (
        not isinstance(lesions, list)
        or not all(isinstance(x, str) and x.strip() for x in lesions)
        or len(set(lesions)) != len(lesions)
    ):
        raise _bad("lesions", lesions, "a list of distinct lesion ids")
    tech = data.get("technique")
    if tech is not None and tech not in RT_TECHNIQUES:
        raise _bad("technique", tech, f"one of {', '.join(RT_TECHNIQUES)}")
    fpw = data.get("fractions_per_week")
    top = FRACTIONS_PER_WEEK_MAX
    if fpw is not None and (not isinstance(fpw, int | float) or isinstance(fpw, bool) or not 0 < fpw <= top):
        raise _bad("fractions_per_week", fpw, f"a number of fractions per week, 0 < fractions_per_week <= {top}")
    override = data.get("override")
    if override is not None and not isinstance(override, dict):
        raise _bad("override", override, "an object with a reason")
    rt = {"start": start, "end": end, "dose_gy": float(dose), "fractions": fx, "technique": tech, "lesions": lesions}
    if fpw is not None:
        rt["fractions_per_week"] = float(fpw)
    return rt


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


def check(protocol: Protocol, arm_id: str, rt: dict[str, Any], patient: Any = None) -> RTCheckReport:
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

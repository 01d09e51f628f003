"""A radiotherapy prescription checked against a trial arm's allowed regimens.

Input is a prescription (lesions with ``dose_gy``, ``fractions``, ``technique``, ``site`` and
optional ``fractions_per_week`` or ``role``; observation lesions; prior courses) and the arm's
:class:`~oligotrial.domain.protocol.rt_schema.RadiotherapySpec`. Output is a verdict per lesion with
its reasons (dose, fractions, dose per fraction, fractions per week, technique, and the first
and last fraction dates against the regimen's ``fraction_dates``: :mod:`.course_dates`), and arm-level
findings (lesion count over the arm's limit, NCT05906329's one conventional course plus low
dose to <= 10 others with >= 1 measurable observation lesion left untreated, an arm that gives
no radiotherapy, STOP-2's re-irradiation documentation). Numbers come from the protocol file,
never from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oligotrial.domain.protocol.rt_schema import RadiotherapySpec, Range, Regimen
from oligotrial.domain.radiotherapy.course_dates import impossible, regimen_date_reasons
from oligotrial.domain.radiotherapy.course_findings import (
    Reason,
    Verdict,
    _line_start_findings,
    _reirradiation_findings,
)
from oligotrial.domain.radiotherapy.dose import Fractionation, bed_gy, eqd2_gy
from oligotrial.errors import DoseError

#: technique synonyms -> canonical family
TECHNIQUE_FAMILIES: dict[str, str] = {
    **{
        k: "sabr"
        for k in (
            "sabr",
            "sbrt",
            "srs",
            "srt",
            "fsrt",
            "stereotactic",
            "sabr/sbrt",
            "sbrt/sabr",
            "stereotactic ablative radiotherapy",
            "stereotactic body radiotherapy",
        )
    },
    **{
        k: "conventional"
        for k in (
            "conventional",
            "conventional_fractionation",
            "3dcrt",
            "3d-crt",
            "imrt",
            "vmat",
            "ebrt",
            "conformal",
            "palliative",
            "2d",
        )
    },
    **{k: "low_dose" for k in ("ldrt", "low_dose", "low-dose", "low dose", "low_dose_rt")},
}


def technique_family(technique: str) -> str:
    key = technique.strip().lower()
    return TECHNIQUE_FAMILIES.get(key, key)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrescribedLesion(_Model):
    id: str = Field(min_length=1)
    site: str | None = None
    dose_gy: float
    fractions: int
    technique: str | None = None
    fractions_per_week: float | None = None
    role: Literal["any", "conventional", "low_dose", "sabr", "palliative"] | None = None
    #: a lymph node's region: where the arm counts node regions as one site
    node_region: str | None = None

    @property
    def dose_per_fraction_gy(self) -> float:
        return self.dose_gy / self.fractions


class ObservationLesion(_Model):
    id: str = Field(min_length=1)
    measurable: bool = True


class PrescribedPriorCourse(_Model):
    """A previous course: the dose the overlapping organ/region got, and any recovery credit."""

    region: str | None = None
    dose_gy: float
    fractions: int
    end_date: date | None = None
    overlaps_new_target: bool | None = None
    recovery_fraction: float = 0.0
    recovery_rationale: str | None = None
    approved_by: str | None = None
    approved_on: date | None = None


class SystemicLine(_Model):
    """A systemic therapy line of the patient's record, for an arm that times the course from
    the start of a line (NCT06592612 SBRT arm)."""

    line: int = Field(ge=1)
    start: date


class Prescription(_Model):
    format: Literal["oligotrial.rt_prescription/1"] = "oligotrial.rt_prescription/1"
    patient_id: str | None = None
    start_date: date | None = None
    #: the last fraction's date (optional); with ``start_date`` it is checked against the fractions
    #: and each regimen's ``fraction_dates`` (:mod:`.course_dates`)
    end_date: date | None = None
    lesions: list[PrescribedLesion] = Field(min_length=1)
    observation_lesions: list[ObservationLesion] = []
    prior_courses: list[PrescribedPriorCourse] = []
    #: the record's systemic therapy lines (absent: not known)
    systemic_lines: list[SystemicLine] | None = None


def parse_prescription(data: Mapping[str, Any]) -> Prescription:
    """Validate a prescription mapping; every problem becomes a DoseError naming the field."""
    if not isinstance(data, Mapping):
        raise DoseError(f"prescription {type(data).__name__}: expected a JSON object", field="prescription")
    try:
        rx = Prescription.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise DoseError(f"prescription {where} = {err.get('input')!r}: {err['msg']}", field=where) from None
    for i, lesion in enumerate(rx.lesions):
        _validated(lesion.dose_gy, lesion.fractions, f"lesions[{i}]")
        if lesion.fractions_per_week is not None and not 0 < lesion.fractions_per_week <= 14:
            raise DoseError(
                f"lesions[{i}].fractions_per_week {lesion.fractions_per_week!r}: "
                "expected a number of fractions per week > 0 and <= 14",
                field=f"lesions[{i}].fractions_per_week",
            )
    ids = [lesion.id for lesion in rx.lesions]
    if len(set(ids)) != len(ids):
        raise DoseError(f"lesions ids {ids}: expected each lesion once", field="lesions")
    if rx.end_date is not None:
        if rx.start_date is None:
            raise DoseError(f"end_date {rx.end_date.isoformat()}: expected start_date with it", field="start_date")
        # the course's dates bound every lesion's fractions: the lesion with the most decides
        expected = impossible(max(lesion.fractions for lesion in rx.lesions), rx.start_date, rx.end_date)
        if expected is not None:
            raise DoseError(f"end_date {rx.end_date.isoformat()}: expected {expected}", field="end_date")
    for i, course in enumerate(rx.prior_courses):
        _validated(course.dose_gy, course.fractions, f"prior_courses[{i}]")
    return rx


def _validated(dose_gy: float, fractions: int, where: str) -> Fractionation:
    try:
        course = Fractionation(dose_gy, fractions)
    except DoseError as exc:
        raise DoseError(f"{where}.{exc.message}", field=f"{where}.{exc.field}") from None
    if course.dose_gy == 0:
        raise DoseError(f"{where}.dose_gy 0: expected a prescribed dose > 0 Gy", field=f"{where}.dose_gy")
    return course


# ---- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LesionVerdict:
    lesion: str
    status: Verdict
    regimen: str | None
    reasons: list[Reason]
    dose_gy: float
    fractions: int
    bed10_gy: float
    eqd2_10_gy: float
    reference_matches: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "lesion": self.lesion,
            "status": self.status,
            "regimen": self.regimen,
            "dose_gy": self.dose_gy,
            "fractions": self.fractions,
            "bed10_gy": round(self.bed10_gy, 4),
            "eqd2_10_gy": round(self.eqd2_10_gy, 4),
            "reasons": [r.to_dict() for r in self.reasons],
            "reference_matches": self.reference_matches,
        }


@dataclass(frozen=True)
class RTCheckReport:
    trial: str
    arm: str
    status: Verdict
    lesions: list[LesionVerdict]
    findings: list[Reason]

    def to_dict(self) -> dict:
        return {
            "trial": self.trial,
            "arm": self.arm,
            "status": self.status,
            "lesions": [v.to_dict() for v in self.lesions],
            "findings": [f.to_dict() for f in self.findings],
        }


def _combine(statuses: list[Verdict]) -> Verdict:
    if "fail" in statuses:
        return "fail"
    if "not_evaluable" in statuses:
        return "not_evaluable"
    return "pass"


# ---- regimen matching ------------------------------------------------------------------------
def _range_reason(code: str, what: str, value: float, rng: Range | None, unit: str, regimen: Regimen) -> Reason | None:
    if rng is None or rng.contains(value):
        return None
    side = "below" if rng.min is not None and value < rng.min else "above"
    return Reason(
        code,
        "fail",
        f"{what} {value:g}{unit} is {side} the allowed {rng.describe(unit.strip())} of "
        f'regimen {regimen.label!r} ("{regimen.source_text}")',
    )


def regimen_reasons(lesion: PrescribedLesion, regimen: Regimen, dates: tuple[date, date] | None = None) -> list[Reason]:
    """Everything that keeps ``lesion`` out of ``regimen`` (empty: it fits); with the course's
    first and last fraction ``dates``, also the regimen's ``fraction_dates`` (fractions per week,
    overall time; :func:`.course_dates.regimen_date_reasons`)."""
    reasons = [
        r
        for r in (
            _range_reason("dose_out_of_range", "total dose", lesion.dose_gy, regimen.total_dose_gy, " Gy", regimen),
            _range_reason("fractions_out_of_range", "fractions", lesion.fractions, regimen.fractions, "", regimen),
            _range_reason(
                "dose_per_fraction_out_of_range",
                "dose per fraction",
                round(lesion.dose_per_fraction_gy, 6),
                regimen.dose_per_fraction_gy,
                " Gy",
                regimen,
            ),
        )
        if r is not None
    ]
    if regimen.fractions_per_week is not None:
        if lesion.fractions_per_week is None:
            reasons.append(
                Reason(
                    "fractions_per_week_missing",
                    "not_evaluable",
                    f"regimen {regimen.label!r} allows "
                    f"{regimen.fractions_per_week.describe()} fractions per week; the "
                    "prescription does not give fractions_per_week",
                )
            )
        else:
            r = _range_reason(
                "fractions_per_week_out_of_range",
                "fractions per week",
                lesion.fractions_per_week,
                regimen.fractions_per_week,
                "",
                regimen,
            )
            if r:
                reasons.append(r)
    if regimen.sites:
        if lesion.site is None:
            reasons.append(
                Reason(
                    "site_missing",
                    "not_evaluable",
                    f"regimen {regimen.label!r} is for {' or '.join(regimen.sites)} lesions; "
                    "the prescription does not give the lesion's site",
                )
            )
        elif lesion.site.strip().lower() not in {s.lower() for s in regimen.sites}:
            reasons.append(
                Reason(
                    "site_not_in_regimen",
                    "fail",
                    f"site {lesion.site!r} is not one regimen {regimen.label!r} is for ({', '.join(regimen.sites)})",
                )
            )
    if regimen.techniques:
        allowed = {technique_family(t) for t in regimen.techniques}
        if lesion.technique is None:
            reasons.append(
                Reason(
                    "technique_missing",
                    "not_evaluable",
                    f"regimen {regimen.label!r} requires technique {' or '.join(regimen.techniques)}; none given",
                )
            )
        elif technique_family(lesion.technique) not in allowed:
            reasons.append(
                Reason(
                    "wrong_technique",
                    "fail",
                    f"technique {lesion.technique!r} is not allowed by regimen "
                    f"{regimen.label!r} (allowed: {', '.join(regimen.techniques)})",
                )
            )
    timing = getattr(regimen, "fraction_dates", None)
    if dates is not None and timing is not None:
        source = timing.source_text or f"assumed where the registry is silent: {timing.assumption}"
        reasons.extend(
            Reason(r.code, "fail", r.message)
            for r in regimen_date_reasons(
                lesion.fractions,
                dates[0],
                dates[1],
                per_week=timing.max_per_week,
                max_overall_days=timing.max_overall_days,
                regimen=regimen.label,
                source=source,
            )
        )
    return reasons


def _candidates(lesion: PrescribedLesion, spec: RadiotherapySpec) -> list[Regimen]:
    if lesion.role is None or lesion.role == "any":
        return list(spec.regimens)
    return [r for r in spec.regimens if r.role in (lesion.role, "any")]


def check_lesion(
    lesion: PrescribedLesion,
    spec: RadiotherapySpec,
    reference: Mapping[str, Any] | None = None,
    dates: tuple[date, date] | None = None,
) -> LesionVerdict:
    """The lesion's verdict: pass with the first regimen it fits (typical ones first), else the
    reasons from the closest regimen."""
    bed10 = bed_gy(lesion.dose_gy, lesion.fractions, 10.0)
    eqd2_10 = eqd2_gy(lesion.dose_gy, lesion.fractions, 10.0)
    matches = match_reference_schedules(lesion, reference or {})
    candidates = _candidates(lesion, spec)
    if not candidates:
        roles = sorted({r.role for r in spec.regimens})
        return LesionVerdict(
            lesion.id,
            "fail",
            None,
            [Reason("role_not_in_arm", "fail", f"role {lesion.role!r}: this arm's regimens are for {roles}")],
            lesion.dose_gy,
            lesion.fractions,
            bed10,
            eqd2_10,
            matches,
        )
    scored = []
    for order, regimen in enumerate(sorted(candidates, key=lambda r: not r.typical)):
        reasons = regimen_reasons(lesion, regimen, dates)
        fails = sum(r.status == "fail" for r in reasons)
        scored.append((fails, len(reasons), order, regimen, reasons))
    fails, _, _, regimen, reasons = min(scored, key=lambda s: s[:3])
    status = _combine([r.status for r in reasons])
    return LesionVerdict(
        lesion.id, status, regimen.label, reasons, lesion.dose_gy, lesion.fractions, bed10, eqd2_10, matches
    )


def match_reference_schedules(lesion: PrescribedLesion, reference: Mapping[str, Any]) -> list[str]:
    """Reference schedule entries (``schedule:entry``) whose dose and fractions this lesion matches.

    ``reference`` is ``data/reference_schedules.yaml``'s ``schedules`` mapping. An entry for site
    ``any`` matches every lesion; ``other`` matches a site the schedule does not list.
    """
    out = []
    site = (lesion.site or "").strip().lower()
    for sched_id, sched in reference.items():
        entries = sched.get("entries", [])
        listed = {e["site"] for e in entries}
        for entry in entries:
            if entry.get("dose_gy") is None:
                continue
            where = entry["site"]
            if not (where == "any" or where == site or (where == "other" and site and site not in listed)):
                continue
            if (
                _fits(lesion.dose_gy, entry["dose_gy"])
                and _fits(lesion.fractions, entry["fractions"])
                and _fits(round(lesion.dose_per_fraction_gy, 6), entry.get("dose_per_fraction_gy"))
            ):
                out.append(f"{sched_id}:{entry['id']}")
    return out


def _fits(value: float, spec: Any) -> bool:
    if spec is None:
        return True
    if isinstance(spec, Mapping):
        lo, hi = spec.get("min"), spec.get("max")
        return (lo is None or value >= lo - 1e-9) and (hi is None or value <= hi + 1e-9)
    return abs(value - float(spec)) < 1e-6


# ---- the arm -------------------------------------------------------------------------------------
def check_prescription(
    rx: Prescription, spec: RadiotherapySpec | None, *, trial: str, arm: str, reference: Mapping[str, Any] | None = None
) -> RTCheckReport:
    """Check every lesion and the arm-level rules; see the module docstring."""
    findings: list[Reason] = []
    if spec is None or spec.targets == "none":
        findings.append(
            Reason(
                "arm_gives_no_radiotherapy",
                "fail",
                f"{trial} arm {arm!r} gives no radiotherapy, but the prescription treats {len(rx.lesions)} lesion(s)",
            )
        )
        return RTCheckReport(trial, arm, "fail", [], findings)

    dates = (rx.start_date, rx.end_date) if rx.start_date is not None and rx.end_date is not None else None
    verdicts = [check_lesion(lesion, spec, reference, dates) for lesion in rx.lesions]

    if spec.palliative_only:
        # an arm that allows palliative radiotherapy only: a lesion stated otherwise, or given a
        # stereotactic ablative technique without being stated palliative, is refused
        for lesion in rx.lesions:
            if lesion.role == "palliative":
                continue
            sabr = lesion.technique is not None and technique_family(lesion.technique) == "sabr"
            status: Verdict
            code, status, said = (
                ("palliative_only", "fail", f"states role {lesion.role!r}")
                if lesion.role
                else ("wrong_technique", "fail", f"gives technique {lesion.technique!r}, not stated palliative")
                if sabr
                else ("palliative_role_missing", "not_evaluable", "does not state role palliative")
            )
            findings.append(
                Reason(
                    code,
                    status,
                    f"lesion {lesion.id}: {trial} arm {arm!r} allows palliative "
                    f'radiotherapy only ("{spec.source_text}"); the prescription {said}',
                )
            )
    if spec.count_nodes_by_region:
        sites = {f"region:{x.node_region}" if x.node_region else f"lesion:{x.id}" for x in rx.lesions}
        n_sites, what = len(sites), f"{len(sites)} sites ({len(rx.lesions)} lesions; a node region is one site)"
    else:
        n_sites, what = len(rx.lesions), f"{len(rx.lesions)} lesions"
    if spec.max_lesions is not None and n_sites > spec.max_lesions:
        findings.append(
            Reason(
                "lesion_count_over_limit",
                "fail",
                f'{what} prescribed; {trial} arm {arm!r} treats at most {spec.max_lesions} ("{spec.source_text}")',
            )
        )
    for regimen in spec.regimens:
        if regimen.lesions is None:
            continue
        n = sum(1 for v in verdicts if v.regimen == regimen.label)
        if not regimen.lesions.contains(n):
            findings.append(
                Reason(
                    "regimen_lesion_count",
                    "fail",
                    f"{n} lesion(s) get regimen {regimen.label!r}; the protocol allows "
                    f'{regimen.lesions.describe()} ("{regimen.source_text}")',
                )
            )
    if spec.observation_lesions_min:
        treated = {lesion.id for lesion in rx.lesions}
        both = sorted(o.id for o in rx.observation_lesions if o.id in treated)
        if both:
            findings.append(
                Reason(
                    "observation_lesion_treated",
                    "fail",
                    f"observation lesion(s) {both} are also prescribed radiotherapy; "
                    "an observation lesion must be left untreated",
                )
            )
        measurable = [o for o in rx.observation_lesions if o.measurable and o.id not in treated]
        if len(measurable) < spec.observation_lesions_min:
            findings.append(
                Reason(
                    "observation_lesion_missing",
                    "fail",
                    f"{len(measurable)} measurable untreated observation lesion(s); "
                    f"{trial} arm {arm!r} needs at least {spec.observation_lesions_min} "
                    f'("{spec.source_text}")',
                )
            )
    if dates is not None and spec.max_overall_days is not None:
        findings.extend(
            Reason(r.code, "fail", r.message)
            for r in regimen_date_reasons(
                max(lesion.fractions for lesion in rx.lesions),
                dates[0],
                dates[1],
                per_week=None,
                max_overall_days=spec.max_overall_days,
                regimen=f"{trial} {arm}",
                source=spec.source_text,
                kind="arm",
            )
        )
    if spec.start_within_days_of_systemic_line is not None:
        findings.extend(_line_start_findings(rx, spec.start_within_days_of_systemic_line, trial, arm))
    findings.extend(_reirradiation_findings(rx))
    status = _combine([v.status for v in verdicts] + [f.status for f in findings])
    return RTCheckReport(trial, arm, status, verdicts, findings)

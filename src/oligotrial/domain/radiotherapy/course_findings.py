"""Findings about a whole course rather than one lesion: its start against a systemic line
(an arm's ``start_within_days_of_systemic_line``) and re-irradiation documentation (split from
:mod:`prescription`, which re-exports :class:`Reason`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from oligotrial.domain.protocol.rt_schema import SystemicLineStart
from oligotrial.domain.radiotherapy.reirradiation import PriorCourse, composite_documentation_gaps

if TYPE_CHECKING:  # prescription imports this module at run time
    from oligotrial.domain.radiotherapy.prescription import Prescription


Verdict = Literal["pass", "fail", "not_evaluable"]


@dataclass(frozen=True)
class Reason:
    code: str
    status: Verdict  # "fail" or "not_evaluable"
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "status": self.status, "message": self.message}


def _line_start_findings(rx: Prescription, rule: SystemicLineStart, trial: str, arm: str) -> list[Reason]:
    """The course must start on or after the start of systemic line ``rule.line`` and at most
    ``rule.days`` days later (the arm's ``start_within_days_of_systemic_line``)."""
    what = (
        f"{trial} arm {arm!r} starts radiotherapy within {rule.days} days after the start of line "
        f'{rule.line} systemic therapy ("{rule.source_text}")'
    )
    starts = [s.start for s in rx.systemic_lines or () if s.line == rule.line]
    if rx.start_date is None:
        return [Reason("course_start_missing", "not_evaluable", f"the course start date is not given; {what}")]
    if not starts:
        return [
            Reason(
                "systemic_line_start_missing",
                "not_evaluable",
                f"no line {rule.line} systemic therapy start recorded; {what}",
            )
        ]
    line_start = min(starts)
    days = (rx.start_date - line_start).days
    if days < 0:
        return [
            Reason(
                "course_start_before_systemic_line",
                "fail",
                f"course start {rx.start_date.isoformat()} is {-days} days before the start of line "
                f"{rule.line} systemic therapy ({line_start.isoformat()}); {what}",
            )
        ]
    if days > rule.days:
        return [
            Reason(
                "course_start_too_late",
                "fail",
                f"course start {rx.start_date.isoformat()} is {days} days after the start of line "
                f"{rule.line} systemic therapy ({line_start.isoformat()}), later than {rule.days} days; {what}",
            )
        ]
    return []


def _reirradiation_findings(rx: Prescription) -> list[Reason]:
    """STOP-2 exclusion 2: prior RT is allowed if the composite plan meets the constraints by
    BED; a recovery factor must be documented with the elapsed time and local PI approval."""
    overlapping = [c for c in rx.prior_courses if c.overlaps_new_target is not False]
    if not overlapping:
        return []
    courses = [
        PriorCourse(
            dose_gy=c.dose_gy,
            fractions=c.fractions,
            end_date=c.end_date,
            recovery_fraction=c.recovery_fraction,
            recovery_rationale=c.recovery_rationale,
            approved_by=c.approved_by,
            approved_on=c.approved_on,
            label=c.region or f"prior_courses[{i}]",
        )
        for i, c in enumerate(overlapping)
    ]
    gaps = composite_documentation_gaps(courses)
    out = [
        Reason(
            "reirradiation_composite_required",
            "not_evaluable",
            f"{len(overlapping)} prior course(s) may overlap: the composite plan must meet the "
            "OAR constraints by BED/EQD2 (check the plan's DICOM with the prior doses)",
        )
    ]
    if gaps:
        out.append(
            Reason(
                "reirradiation_documentation_missing",
                "fail",
                "a tissue recovery factor is used without the required documentation: " + "; ".join(gaps),
            )
        )
    return out

"""Re-irradiation: cumulative EQD2 over courses, HyTEC spinal-cord rules and STOP-2's composite rule.

Each prior course is converted to EQD2 with the organ's alpha/beta and the *local* dose per
fraction (the dose the organ point or DVH metric received divided by that course's fractions,
never the prescription's), discounted by a documented recovery fraction ``r`` in [0, 1]:

``cumulative EQD2 = sum_i (1 - r_i) EQD2_prior,i + EQD2_new``.

References
----------
.. [1] Fowler JF. Br J Radiol 1989;62:679-694 (BED/EQD2).
.. [2] Sahgal A, Chang JH, Ma L, et al. Spinal cord dose tolerance to stereotactic body radiation
   therapy (HyTEC). Int J Radiat Oncol Biol Phys 2021;110:124-136,
   doi:10.1016/j.ijrobp.2019.09.038: re-irradiation after conventional RT, thecal sac point-max
   EQD2 (alpha/beta 2 Gy) cumulative <= 70 Gy, SBRT course <= 25 Gy, SBRT/cumulative <= 0.5,
   >= 5 months between courses.
.. [3] NCT06918951 (STOP-2), exclusion criterion 2: "biological effective dose calculations should
   be used to equate previous doses to the tolerance doses listed in Appendix 1. A tissue recovery
   factor may be used in these calculations and if so, must be clearly documented, along with
   elapsed time from previous radiotherapy, and approved by the local principal investigator."
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from oligotrial.domain.kernel import add_months  # calendar months: the kernel's one rule (periods)
from oligotrial.domain.radiotherapy.dose import (
    check_alpha_beta_gy,
    check_dose_gy,
    check_fractions,
    eqd2_gy,
)
from oligotrial.errors import DoseError

RuleStatus = Literal["pass", "fail", "not_evaluable"]


@dataclass(frozen=True)
class PriorCourse:
    """A previous radiotherapy course as the organ received it.

    ``dose_gy`` is the organ's physical dose from that course (e.g. its point maximum), in
    ``fractions`` fractions. ``recovery_fraction`` (0 = no recovery, 1 = full recovery) must come
    with ``recovery_rationale`` when non-zero; STOP-2 also wants it approved by the local PI.
    """

    dose_gy: float
    fractions: int
    end_date: date | None = None
    recovery_fraction: float = 0.0
    recovery_rationale: str | None = None
    approved_by: str | None = None
    approved_on: date | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        check_dose_gy(self.dose_gy, "prior_course.dose_gy")
        check_fractions(self.fractions, "prior_course.fractions")
        r = self.recovery_fraction
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r <= 1.0:
            raise DoseError(
                f"prior_course.recovery_fraction {r!r}: expected a fraction between 0 and 1",
                field="prior_course.recovery_fraction",
            )
        if r > 0 and not (self.recovery_rationale and self.recovery_rationale.strip()):
            raise DoseError(
                f"prior_course.recovery_fraction {r!r}: a non-zero recovery factor needs a "
                "recovery_rationale (tissue, interval and the published basis)",
                field="prior_course.recovery_rationale",
            )

    def eqd2_gy(self, alpha_beta_gy: float) -> float:
        """This course's EQD2 at the organ, before any recovery discount."""
        return eqd2_gy(self.dose_gy, self.fractions, alpha_beta_gy)

    def effective_eqd2_gy(self, alpha_beta_gy: float) -> float:
        """``(1 - r) * EQD2``: what still counts after the documented recovery."""
        return (1.0 - self.recovery_fraction) * self.eqd2_gy(alpha_beta_gy)


@dataclass(frozen=True)
class NewCourse:
    """The planned course as the organ receives it (``dose_gy`` in ``fractions``)."""

    dose_gy: float
    fractions: int
    start_date: date | None = None

    def __post_init__(self) -> None:
        check_dose_gy(self.dose_gy, "new_course.dose_gy")
        check_fractions(self.fractions, "new_course.fractions")


@dataclass(frozen=True)
class RuleResult:
    """One re-irradiation rule: its status with the measured value and the limit."""

    rule: str
    status: RuleStatus
    measured: float | None
    limit: float | None
    unit: str
    message: str
    source: str

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "status": self.status,
            "measured": self.measured,
            "limit": self.limit,
            "unit": self.unit,
            "message": self.message,
            "source": self.source,
        }


def cumulative_eqd2_gy(prior: list[PriorCourse], new: NewCourse | None, alpha_beta_gy: float) -> float:
    """``sum (1 - r_i) EQD2_prior,i + EQD2_new`` with the organ's alpha/beta (Fowler 1989 [1]_)."""
    ab = check_alpha_beta_gy(alpha_beta_gy)
    total = sum(course.effective_eqd2_gy(ab) for course in prior)
    if new is not None:
        total += eqd2_gy(new.dose_gy, new.fractions, ab)
    return total


@dataclass(frozen=True)
class HytecCordRules:
    """HyTEC spinal-cord re-irradiation limits (Sahgal 2021 [2]_), loaded from versioned data."""

    cumulative_max_eqd2_gy: float = 70.0
    sbrt_course_max_eqd2_gy: float = 25.0
    max_sbrt_to_cumulative_ratio: float = 0.5
    min_interval_months: int = 5
    alpha_beta_gy: float = 2.0
    source: str = "Sahgal et al., HyTEC spinal cord, IJROBP 2021;110:124-136"
    verified: bool = False


def check_hytec_cord(
    prior: list[PriorCourse], new: NewCourse, rules: HytecCordRules = HytecCordRules()
) -> list[RuleResult]:
    """The four HyTEC rules for SBRT re-irradiation of the thecal sac / spinal cord point maximum.

    HyTEC's cumulative limit is nominal (no recovery credit), so recovery factors on the prior
    courses are ignored here; STOP-2's composite rule (:func:`check_composite`) is where a
    documented recovery factor may be used.
    """
    if not prior:
        raise DoseError(
            "prior courses []: expected at least one prior course for re-irradiation", field="prior_courses"
        )
    ab = rules.alpha_beta_gy
    new_eqd2 = eqd2_gy(new.dose_gy, new.fractions, ab)
    nominal = sum(c.eqd2_gy(ab) for c in prior) + new_eqd2
    src = rules.source
    out = [
        _limit(
            "hytec_cord_cumulative_eqd2",
            nominal,
            rules.cumulative_max_eqd2_gy,
            "Gy",
            "cumulative thecal-sac Pmax EQD2(alpha/beta 2)",
            src,
        ),
        _limit(
            "hytec_cord_sbrt_course_eqd2",
            new_eqd2,
            rules.sbrt_course_max_eqd2_gy,
            "Gy",
            "SBRT-course thecal-sac Pmax EQD2(alpha/beta 2)",
            src,
        ),
        _limit(
            "hytec_cord_sbrt_fraction_of_cumulative",
            new_eqd2 / nominal if nominal > 0 else 0.0,
            rules.max_sbrt_to_cumulative_ratio,
            "ratio",
            "SBRT EQD2 / cumulative EQD2",
            src,
        ),
    ]
    out.append(_interval_rule(prior, new, rules.min_interval_months, src))
    return out


def _limit(rule: str, measured: float, limit: float, unit: str, what: str, source: str) -> RuleResult:
    ok = measured <= limit + 1e-9
    verb = "within" if ok else "exceeds"
    return RuleResult(
        rule,
        "pass" if ok else "fail",
        round(measured, 4),
        limit,
        unit,
        f"{what} {measured:.4g} {unit} {verb} the limit {limit:g} {unit}",
        source,
    )


def _interval_rule(prior: list[PriorCourse], new: NewCourse, months: int, source: str) -> RuleResult:
    rule = "min_interval_between_courses"
    if new.start_date is None or any(c.end_date is None for c in prior):
        return RuleResult(
            rule,
            "not_evaluable",
            None,
            float(months),
            "months",
            "interval not evaluable: the new course start_date and every prior course end_date are needed",
            source,
        )
    last_end = max(c.end_date for c in prior if c.end_date is not None)
    earliest = add_months(last_end, months)
    elapsed_days = (new.start_date - last_end).days
    ok = new.start_date >= earliest
    return RuleResult(
        rule,
        "pass" if ok else "fail",
        float(elapsed_days),
        float(months),
        "days vs months",
        f"{elapsed_days} days from the last prior course ({last_end.isoformat()}) to "
        f"{new.start_date.isoformat()}: {'at least' if ok else 'less than'} {months} months "
        f"(earliest {earliest.isoformat()})",
        source,
    )


@dataclass(frozen=True)
class CompositeResult:
    """STOP-2 composite-plan check for one organ: the EQD2 sum against the converted tolerance."""

    organ: str
    alpha_beta_gy: float
    prior_eqd2_gy: float
    new_eqd2_gy: float
    cumulative_eqd2_gy: float
    tolerance_eqd2_gy: float
    status: RuleStatus
    missing_documentation: list[str] = field(default_factory=list)
    message: str = ""
    source: str = ""

    def to_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "organ",
                "alpha_beta_gy",
                "prior_eqd2_gy",
                "new_eqd2_gy",
                "cumulative_eqd2_gy",
                "tolerance_eqd2_gy",
                "status",
                "missing_documentation",
                "message",
                "source",
            )
        }


STOP2_SOURCE = "NCT06918951 (STOP-2) exclusion criterion 2"


def composite_documentation_gaps(prior: list[PriorCourse]) -> list[str]:
    """What STOP-2 requires but the prior courses lack when a recovery factor is used.

    STOP-2: a recovery factor "must be clearly documented, along with elapsed time from previous
    radiotherapy, and approved by the local principal investigator" [3]_.
    """
    gaps: list[str] = []
    for i, course in enumerate(prior):
        if course.recovery_fraction <= 0:
            continue
        name = course.label or f"prior_courses[{i}]"
        if course.end_date is None:
            gaps.append(f"{name}: end_date (elapsed time from previous radiotherapy)")
        if not (course.approved_by and course.approved_by.strip()):
            gaps.append(f"{name}: approved_by (local principal investigator approval)")
        if course.approved_on is None:
            gaps.append(f"{name}: approved_on (date of the local PI approval)")
    return gaps


def check_composite(
    organ: str,
    prior: list[PriorCourse],
    new: NewCourse,
    *,
    alpha_beta_gy: float,
    tolerance_dose_gy: float,
    tolerance_fractions: int,
) -> CompositeResult:
    """STOP-2's rule: the composite EQD2 must stay under the tolerance converted to EQD2.

    The tolerance is a physical limit for ``tolerance_fractions`` fractions (e.g. an Appendix-1 /
    TG-101 point-max), converted with the same alpha/beta. A recovery factor without the
    documentation STOP-2 requires leaves the check ``not_evaluable`` (never a pass).
    """
    ab = check_alpha_beta_gy(alpha_beta_gy)
    prior_eqd2 = sum(c.effective_eqd2_gy(ab) for c in prior)
    new_eqd2 = eqd2_gy(new.dose_gy, new.fractions, ab)
    total = prior_eqd2 + new_eqd2
    tolerance = eqd2_gy(tolerance_dose_gy, tolerance_fractions, ab)
    gaps = composite_documentation_gaps(prior)
    if gaps:
        status: RuleStatus = "not_evaluable"
        message = (
            f"{organ}: a tissue recovery factor is used without the documentation STOP-2 requires ({'; '.join(gaps)})"
        )
    elif total <= tolerance + 1e-9:
        status = "pass"
        message = (
            f"{organ}: composite EQD2 {total:.4g} Gy (prior {prior_eqd2:.4g} + new "
            f"{new_eqd2:.4g}) within the tolerance {tolerance:.4g} Gy EQD2 "
            f"({tolerance_dose_gy:g} Gy / {tolerance_fractions} fx, alpha/beta {ab:g})"
        )
    else:
        status = "fail"
        message = (
            f"{organ}: composite EQD2 {total:.4g} Gy (prior {prior_eqd2:.4g} + new "
            f"{new_eqd2:.4g}) exceeds the tolerance {tolerance:.4g} Gy EQD2 "
            f"({tolerance_dose_gy:g} Gy / {tolerance_fractions} fx, alpha/beta {ab:g})"
        )
    return CompositeResult(
        organ,
        ab,
        round(prior_eqd2, 4),
        round(new_eqd2, 4),
        round(total, 4),
        round(tolerance, 4),
        status,
        gaps,
        message,
        STOP2_SOURCE,
    )

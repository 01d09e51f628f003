"""Organ-at-risk constraints as versioned data, and a plan's DVH metrics checked against them.

Each constraint carries its source set (AAPM TG-101, HyTEC, RTOG maxima, an 8-fraction clinical
set), the number of fractions it was published for, the metric, an optional *optimal* and a
*mandatory* limit, and whether the value was verified against the primary publication. A plan is
checked against the constraints published for its own number of fractions: physical dose
against physical dose, no LQ conversion (radiotherapy-dose.md §1 "When high-dose models matter").

Each result is one of ``pass``, ``optimal_fail`` (over the optimal limit, under the mandatory
one), ``mandatory_fail`` or ``not_evaluable`` (the metric cannot be computed: a volume larger than
the structure, a %Rx limit without a prescription), always with the measured value and limit.

References
----------
.. [1] Benedict SH et al. Stereotactic body radiation therapy: the report of AAPM Task Group 101.
   Med Phys 2010;37:4078-4101 (Table III).
.. [2] Sahgal A et al. Spinal cord dose tolerance to SBRT (HyTEC). IJROBP 2021;110:124-136.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from oligotrial.domain.radiotherapy.dvh import DVH, Metric, parse_metric
from oligotrial.errors import DoseError

Status = Literal["pass", "optimal_fail", "mandatory_fail", "not_evaluable"]
_STATUS_ORDER = {"pass": 0, "not_evaluable": 1, "optimal_fail": 2, "mandatory_fail": 3}


@dataclass(frozen=True)
class Constraint:
    """One OAR limit from one published set, for one number of fractions."""

    set_id: str
    organ: str
    fractions: int
    metric: str
    unit: str
    mandatory: float | None
    optimal: float | None
    verified: bool
    source: str
    verification: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        parsed = parse_metric(self.metric)
        if self.mandatory is None and self.optimal is None:
            raise DoseError(f"constraint {self.id}: expected a mandatory or optimal limit", field="constraint")
        allowed = {"Gy", "%Rx"} if parsed.is_dose else {"cc", "%"}
        if self.unit not in allowed:
            raise DoseError(
                f"constraint {self.id} unit {self.unit!r}: expected one of {sorted(allowed)} for {self.metric}",
                field="unit",
            )

    @property
    def id(self) -> str:
        return f"{self.set_id}:{self.organ}:{self.fractions}fx:{self.metric}"

    @property
    def parsed(self) -> Metric:
        return parse_metric(self.metric)

    @property
    def higher_is_better(self) -> bool:
        """Critical-volume (CV) limits are minimums; everything else is a maximum."""
        return self.parsed.kind == "cv_gy"


@dataclass(frozen=True)
class ConstraintSet:
    """All constraints with organ-name aliases, as loaded from ``oar_constraints.yaml``."""

    version: str
    constraints: tuple[Constraint, ...]
    organ_names: dict[str, tuple[str, ...]]
    set_titles: dict[str, str]

    def organ_for(self, structure_name: str) -> str | None:
        """The organ id a structure name maps to (case, spaces, hyphens and a side suffix
        such as ``_L``/``_R``/``Lt``/``Right`` ignored), or None."""
        key = normalise_structure_name(structure_name)
        for organ, names in self.organ_names.items():
            if key in names or key == organ:
                return organ
        return None

    def for_fractions(self, fractions: int, *, sets: list[str] | None = None) -> list[Constraint]:
        return [c for c in self.constraints if c.fractions == fractions and (sets is None or c.set_id in sets)]

    def fraction_numbers(self) -> list[int]:
        return sorted({c.fractions for c in self.constraints})


_SIDE = re.compile(r"[_\s-]+(l|r|lt|rt|left|right)$", re.IGNORECASE)
_CAMEL_SIDE = re.compile(r"(?<=[a-z])(Lt|Rt|Left|Right)$")


def normalise_structure_name(name: str) -> str:
    """Lower-case, side suffix (``_L``, ``-R``, ``Lt``, ``Right``) dropped, separators as ``_``."""
    key = _CAMEL_SIDE.sub("", _SIDE.sub("", name.strip()))
    return re.sub(r"[\s\-]+", "_", key.lower()).strip("_")


@dataclass(frozen=True)
class ConstraintResult:
    """A constraint checked on one structure."""

    structure: str
    constraint: Constraint
    status: Status
    measured: float | None
    limit: float | None
    message: str

    def to_dict(self) -> dict:
        c = self.constraint
        return {
            "structure": self.structure,
            "organ": c.organ,
            "set": c.set_id,
            "fractions": c.fractions,
            "metric": c.metric,
            "unit": c.unit if c.unit != "%Rx" else "Gy",
            "measured": None if self.measured is None else round(self.measured, 4),
            "limit": self.limit,
            "optimal": c.optimal,
            "mandatory": c.mandatory,
            "status": self.status,
            "verified": c.verified,
            "source": c.source,
            "message": self.message,
        }


def _resolve(limit: float | None, unit: str, prescription_gy: float | None) -> float | None:
    if limit is None or unit != "%Rx":
        return limit
    return None if prescription_gy is None else limit / 100.0 * prescription_gy


def check_constraint(
    structure: str, dvh: DVH, constraint: Constraint, *, prescription_gy: float | None = None
) -> ConstraintResult:
    """Check one constraint on one structure's DVH."""
    c = constraint
    mandatory = _resolve(c.mandatory, c.unit, prescription_gy)
    optimal = _resolve(c.optimal, c.unit, prescription_gy)
    shown_unit = "Gy" if c.unit == "%Rx" else c.unit
    if c.unit == "%Rx" and prescription_gy is None:
        return ConstraintResult(
            structure,
            c,
            "not_evaluable",
            None,
            None,
            f"{structure} {c.metric}: the limit is {c.mandatory:g} % of the "
            "prescription and no prescription dose was given",
        )
    metric = c.parsed
    if metric.kind == "d_cc" and metric.value is not None and metric.value > dvh.volume_cc:
        return ConstraintResult(
            structure,
            c,
            "not_evaluable",
            None,
            mandatory,
            f"{structure} {c.metric}: the structure is {dvh.volume_cc:.4g} cc, "
            f"smaller than {metric.value:g} cc (contour the whole organ)",
        )
    measured = metric.evaluate(dvh, volume_unit="%" if c.unit == "%" else "cc")
    ge = c.higher_is_better

    def ok(limit: float | None) -> bool:
        if limit is None:
            return True
        return measured >= limit - 1e-9 if ge else measured <= limit + 1e-9

    op = ">=" if ge else "<="
    if not ok(mandatory):
        status: Status = "mandatory_fail"
        limit = mandatory
    elif not ok(optimal):
        status = "optimal_fail"
        limit = optimal
    else:
        status = "pass"
        limit = mandatory if mandatory is not None else optimal
    word = {"pass": "meets", "optimal_fail": "misses the optimal", "mandatory_fail": "misses the mandatory"}[status]
    message = (
        f"{structure} {c.metric} = {measured:.4g} {shown_unit} {word} limit {op} {limit:g} "
        f"{shown_unit} ({c.set_id}, {c.fractions} fx)"
    )
    return ConstraintResult(structure, c, status, measured, limit, message)


@dataclass(frozen=True)
class PlanOARReport:
    """Every constraint result for a plan, plus structures no constraint applies to."""

    fractions: int
    results: list[ConstraintResult]
    unmatched_structures: list[str]
    message: str | None = None

    @property
    def worst(self) -> Status:
        if not self.results:
            return "not_evaluable"
        return max((r.status for r in self.results), key=_STATUS_ORDER.__getitem__)

    def to_dict(self) -> dict:
        return {
            "fractions": self.fractions,
            "worst": self.worst,
            "message": self.message,
            "results": [r.to_dict() for r in self.results],
            "unmatched_structures": self.unmatched_structures,
        }


def check_plan_oars(
    dvhs: dict[str, DVH],
    fractions: int,
    constraints: ConstraintSet,
    *,
    prescription_gy: float | None = None,
    sets: list[str] | None = None,
    organ_overrides: dict[str, str] | None = None,
) -> PlanOARReport:
    """Check each structure's DVH against the constraints published for ``fractions``.

    ``organ_overrides`` maps a structure name to an organ id when its name is not recognised.
    """
    applicable = constraints.for_fractions(fractions, sets=sets)
    message = None
    if not applicable:
        message = (
            f"no OAR constraints for {fractions} fractions in {constraints.version} "
            f"(sets for {constraints.fraction_numbers()} fractions); not evaluable"
        )
    results: list[ConstraintResult] = []
    unmatched: list[str] = []
    overrides = organ_overrides or {}
    for name, dvh in dvhs.items():
        organ = overrides.get(name) or constraints.organ_for(name)
        if organ is None:
            unmatched.append(name)
            continue
        for c in applicable:
            if c.organ == organ:
                results.append(check_constraint(name, dvh, c, prescription_gy=prescription_gy))
    return PlanOARReport(fractions, results, unmatched, message)

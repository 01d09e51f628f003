"""The radiotherapy part of a protocol arm: allowed regimens as data, each traced to its text.

Backward compatible with the first version (``regimens`` with dose and fraction ranges,
``targets``, ``max_lesions``, ``source_text``); the extra fields (all optional) say how a
regimen is delivered (fractions per week, schedule, technique), which lesions it treats and how
many (NCT05906329: one conventional course, low dose to up to 10 others), how many measurable
lesions must be left untreated for observation, and which named reference schedules apply.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Model):
    """A closed numeric range; either bound may be open (None)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} > max {self.max}")
        return self

    def contains(self, value: float, *, tol: float = 1e-9) -> bool:
        if self.min is not None and value < self.min - tol:
            return False
        return not (self.max is not None and value > self.max + tol)  # NaN: not refused here, as before

    def describe(self, unit: str = "") -> str:
        u = f" {unit}" if unit else ""
        if self.min is not None and self.max is not None:
            return f"{self.min:g}{u}" if self.min == self.max else f"{self.min:g}-{self.max:g}{u}"
        if self.min is not None:
            return f">= {self.min:g}{u}"
        if self.max is not None:
            return f"<= {self.max:g}{u}"
        return "any"


LesionRole = Literal["any", "conventional", "low_dose", "sabr", "palliative"]


class FractionDates(_Model):
    """When a regimen's fractions may fall on the calendar, checked against the course's first
    and last fraction dates (:mod:`oligotrial.domain.radiotherapy.course_dates`): at most
    ``max_per_week`` fractions in any 7 consecutive days (and one a day at most), and, where
    stated, the course from its first to its last fraction within ``max_overall_days`` (both
    counted). Where the registry gives it, ``source_text`` quotes it; where the registry is
    silent, ``assumption`` says what is ours and why (one of the two is required)."""

    max_per_week: int = Field(ge=1, le=7)
    max_overall_days: int | None = Field(default=None, ge=1)
    source_text: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _sourced(self) -> FractionDates:
        if not (self.source_text or self.assumption):
            raise ValueError("fraction_dates: give source_text (registry text) or assumption (labelled as ours)")
        return self


class Regimen(_Model):
    """One allowed way of delivering radiotherapy in an arm."""

    label: str
    total_dose_gy: Range
    fractions: Range
    dose_per_fraction_gy: Range | None = None
    fractions_per_week: Range | None = None
    techniques: list[str] = []
    applies_to: str = "each_treated_lesion"
    typical: bool = False
    source_text: str
    # --- extensions (issue 4) ---
    #: which lesions this regimen is for; a prescription lesion may name it as its ``role``
    role: LesionRole = "any"
    #: how many lesions may (min/max) receive this regimen in one patient
    lesions: Range | None = None
    #: how lesions are chosen for it, as the protocol says (e.g. primary, largest or symptomatic)
    lesion_selection: str | None = None
    schedule: Literal["daily", "alternate_days", "weekly"] | None = None
    #: named reference schedule ids from ``data/reference_schedules.yaml`` this regimen follows
    reference_schedules: list[str] = []
    #: free text stating where a number is an assumption rather than registry text
    assumption: str | None = None
    #: the lesion sites (organs, e.g. ``brain``) this regimen is for; empty: any site
    sites: list[str] = []
    # --- issue 25 ---
    #: how the fractions may fall on the calendar (fractions per week, overall time)
    fraction_dates: FractionDates | None = None


class GeometricExclusions(_Model):
    """Plan-geometry exclusions the radiotherapy check evaluates (STOP-2 exclusions 6 and 8)."""

    brain_met_max_diameter_mm: float | None = Field(default=None, gt=0)
    brain_met_total_volume_cc: float | None = Field(default=None, gt=0)
    sins_max: int | None = Field(default=None, ge=0, le=18)
    source_text: str


class SystemicLineStart(_Model):
    """The course must start within ``days`` after the start of systemic therapy line ``line``
    (NCT06592612: SBRT "must begin within 2 weeks after the start of second-line therapy")."""

    line: int = Field(ge=1)
    days: int = Field(ge=0)
    source_text: str


class RadiotherapySpec(_Model):
    """What radiotherapy an arm gives, to which lesions, in which regimens."""

    name: str
    targets: Literal[
        "all_progressive_sites", "all_residual_lesions", "conventional_plus_low_dose", "palliative_as_needed", "none"
    ]
    regimens: list[Regimen] = Field(min_length=1)
    max_lesions: int | None = None
    notes: str | None = None
    source_text: str
    # --- extensions (issue 4) ---
    #: at least this many measurable lesions must be left untreated as observation lesions
    observation_lesions_min: int | None = Field(default=None, ge=0)
    #: named reference schedules (``data/reference_schedules.yaml``) shown alongside the check
    reference_schedules: list[str] = []
    #: whether a regimen must be completed within a number of days (e.g. SABR-COMET-10: 14)
    max_overall_days: int | None = Field(default=None, ge=1)
    #: exclusions evaluated from the record or the plan (brain metastasis size/volume, SINS)
    geometric_exclusions: GeometricExclusions | None = None
    #: ``max_lesions`` counts sites: lesions naming one ``node_region`` are one site (OPPRESS)
    count_nodes_by_region: bool = False
    #: every prescribed lesion must be stated ``role: palliative`` (an arm that allows only
    #: palliative radiotherapy, e.g. OPPRESS standard of care)
    palliative_only: bool = False
    #: the course starts on or after the start of a systemic therapy line, at most ``days`` later
    start_within_days_of_systemic_line: SystemicLineStart | None = None

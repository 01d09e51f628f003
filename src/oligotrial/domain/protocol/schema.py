"""The protocol schema: a trial registration encoded as data.

A protocol file (YAML, one per trial, in ``protocols/library/``) holds the trial's identity,
design, arms, allocation, stratification, masking, endpoints, windows (days or calendar months) and every
inclusion/exclusion criterion with its verbatim registry text and either a computable rule or
the attestation key a clinician must answer. Every protocol-derived number (threshold, window,
dose range) lives here with its source text, not in code.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from oligotrial.domain.protocol.endpoint_schema import EndpointRules
from oligotrial.domain.protocol.rt_schema import RadiotherapySpec
from oligotrial.domain.protocol.schedule_schema import Schedule, last_fraction_visits

#: The one role list (issue 27): who may act in a trial. The protocol's masking names them; the
#: trial context (``domain.trial.blinding``) decides what each sees.
Role = Literal[
    "coordinator",
    "enrolling_oncologist",
    "treating_oncologist",
    "statistician",
    "data_manager",
    "dsmb",
    "admin",
    "outcome_assessor",
]
ROLES: tuple[str, ...] = get_args(Role)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Registry(_Model):
    source: str
    last_updated: str | None = None
    seed_file: str
    other_ids: list[str] = []


class Design(_Model):
    allocation: Literal["randomized", "non_randomized", "single_group"]
    model: Literal["parallel", "single_group"]
    purpose: str
    source_text: str


class SystemicSpec(_Model):
    """Systemic therapy an arm gives (rules as text plus the agents/classes named)."""

    description: str
    agents: list[str] = []
    classes: list[str] = []
    source_text: str


class Arm(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    type: Literal["experimental", "active_comparator", "single_arm", "no_intervention"]
    description: str
    radiotherapy: RadiotherapySpec | None = None
    systemic: SystemicSpec | None = None
    source_text: str


class StratificationFactor(_Model):
    id: str
    label: str
    levels: list[str] = Field(min_length=2)
    source_text: str


class Stratification(_Model):
    factors: list[StratificationFactor] = []
    registry_names_none: bool
    note: str
    source_text: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Stratification:
        if self.registry_names_none and self.factors:
            raise ValueError("registry_names_none is true but factors are listed")
        return self


class Masking(_Model):
    level: Literal["none", "single", "double", "triple", "quadruple"]
    masked_parties: list[str] = []
    blinded_roles: list[Role] = []
    source_text: str


class Endpoint(_Model):
    id: str
    name: str
    kind: Literal["time_to_event", "proportion", "continuous", "count", "descriptive"]
    time_frame: str | None = None
    source_text: str


class Endpoints(_Model):
    primary: list[Endpoint] = Field(min_length=1)
    secondary: list[Endpoint] = []
    #: false where the registry names no primary endpoint: ``primary`` is then the project's
    #: reading (say why in ``note``), not a registered fact
    registry_names_primary: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _reading_explained(self) -> Endpoints:
        if not self.registry_names_primary and not self.note:
            raise ValueError("registry_names_primary is false: give a note saying why these endpoints are primary")
        return self


class Window(_Model):
    """A registry period made explicit: in calendar ``months`` where the registry states months
    ("within 3 months" -> ``months: 3``: from a date to the same day of the month 3 months on, the
    month's last day where that day does not exist; see :mod:`oligotrial.domain.kernel.periods`),
    in ``days`` where it states days or weeks ("12 weeks" -> ``days: 84``). A range gives its
    bounds (``min_months``/``max_months`` or ``min_days``/``max_days``); each bound is one or the
    other, never both."""

    days: int | None = Field(default=None, ge=0)
    min_days: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)
    min_months: int | None = Field(default=None, ge=0)
    max_months: int | None = Field(default=None, ge=0)
    source_text: str
    note: str | None = None

    @model_validator(mode="after")
    def _one_length(self) -> Window:
        for a, b in (("days", "months"), ("min_days", "min_months"), ("max_days", "max_months")):
            if getattr(self, a) is not None and getattr(self, b) is not None:
                raise ValueError(f"window: give {a} or {b}, not both ({a}={getattr(self, a)}, {b}={getattr(self, b)})")
        single = self.days is not None or self.months is not None
        ranged = any(getattr(self, k) is not None for k in ("min_days", "max_days", "min_months", "max_months"))
        if single and ranged:
            raise ValueError("window: give days/months, or a range (min_/max_ days or months), not both")
        if not single and not ranged:
            raise ValueError("window: expected days, months, or a range (min_/max_ days or months)")
        return self


class AttestationKey(_Model):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    question: str
    by: str = "investigator"
    favourable: bool = Field(description="the answer that keeps the patient eligible (used by --assume-attested)")


class Criterion(_Model):
    id: str = Field(pattern=r"^[A-Z0-9]+-(IN|EX)-\d{2}[a-z]?$")
    kind: Literal["inclusion", "exclusion"]
    source_text: str = Field(min_length=3)
    rule: dict[str, Any] | None = None
    attestation: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Criterion:
        if self.rule is None and self.attestation is None:
            raise ValueError(f"criterion {self.id}: needs a rule or an attestation key")
        if self.rule is not None and self.attestation is not None:
            raise ValueError(
                f"criterion {self.id}: give a rule or an attestation, not both "
                "(use {attested: key} inside the rule to combine them)"
            )
        return self

    @property
    def expression(self) -> dict[str, Any]:
        return self.rule if self.rule is not None else {"attested": self.attestation}


class DiseaseStateSpec(_Model):
    """How a trial decides which lesions progress (or remain) and how it counts them.

    ``rules`` are per-lesion rules evaluated in order; ``counting`` says what a site and an
    organ are for this trial. See :mod:`oligotrial.domain.response.progression`.
    """

    definition: str
    mode: Literal["progression", "residual", "burden"]
    reference: Literal["baseline", "nadir"] = "nadir"
    rules: list[dict[str, Any]] = []
    counting: dict[str, Any] = {}
    source_text: str


_VERSION_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")


class Protocol(_Model):
    id: str = Field(pattern=r"^NCT\d{8}$")
    short_name: str
    title: str
    #: this version of the protocol (e.g. "2025-12-15.r1"); an amendment is a new version
    version: str = Field(min_length=1, max_length=64)
    #: the day this version takes effect (ISO date); when a file omits it, the date the version
    #: string starts with (a version without a date must give it)
    effective_date: dt.date
    #: the version this one amends (a version of the same trial that takes effect earlier)
    amends: str | None = Field(default=None, min_length=1, max_length=64)
    registry: Registry
    phase: str
    design: Design
    conditions: list[str]
    planned_enrolment: int | None = Field(default=None, gt=0)
    planned_enrolment_note: str | None = None
    age_range_years: dict[str, int | None]
    arms: list[Arm] = Field(min_length=1)
    allocation_ratio: dict[str, int]
    allocation_ratio_registered: bool = True
    allocation_ratio_note: str | None = None
    stratification: Stratification
    masking: Masking
    endpoints: Endpoints
    windows: dict[str, Window] = {}
    disease_state: DiseaseStateSpec
    attestation_keys: list[AttestationKey] = []
    criteria: list[Criterion] = Field(min_length=1)
    #: how each endpoint is derived per patient (parsed at load; dumped as the file wrote it)
    endpoint_rules: EndpointRules | None = None
    #: the visit schedule (parsed at load; dumped as the file wrote it)
    schedule: Schedule | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule_keeps_the_blind(cls, schedule: Schedule | None, info: ValidationInfo) -> Schedule | None:
        masking = info.data.get("masking")
        if schedule is not None and masking is not None and masking.blinded_roles:
            bad = last_fraction_visits(schedule, masking.blinded_roles)
            if bad:
                raise ValueError(bad)
        return schedule

    @model_validator(mode="before")
    @classmethod
    def _effective_date_from_version(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("effective_date") is None and isinstance(data.get("version"), str):
            m = _VERSION_DATE.match(data["version"])
            if m:
                data = {**data, "effective_date": m.group(1)}
        return data

    @model_validator(mode="after")
    def _references(self) -> Protocol:
        if self.amends is not None and self.amends == self.version:
            raise ValueError(f"amends: version {self.version} cannot amend itself")
        arm_ids = [a.id for a in self.arms]
        if len(set(arm_ids)) != len(arm_ids):
            raise ValueError(f"arm ids must be unique: {arm_ids}")
        if set(self.allocation_ratio) != set(arm_ids):
            raise ValueError(
                f"allocation_ratio names {sorted(self.allocation_ratio)}; expected the arms {sorted(arm_ids)}"
            )
        ids = [c.id for c in self.criteria]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"criterion ids must be unique: {sorted(dupes)}")
        keys = {k.key for k in self.attestation_keys}
        for c in self.criteria:
            for key in _attestation_keys_in(c.expression):
                if key not in keys:
                    raise ValueError(f"criterion {c.id}: attestation key {key!r} is not declared in attestation_keys")
        return self

    def arm(self, arm_id: str) -> Arm:
        for a in self.arms:
            if a.id == arm_id:
                return a
        raise KeyError(arm_id)

    def window_days(self, name: str) -> Window:
        return self.windows[name]

    def attestation_key(self, key: str) -> AttestationKey:
        for k in self.attestation_keys:
            if k.key == key:
                return k
        raise KeyError(key)


def _attestation_keys_in(expr: Any) -> list[str]:
    out: list[str] = []
    if isinstance(expr, dict):
        for k, v in expr.items():
            if k == "attested":
                out.append(v if isinstance(v, str) else v.get("key"))
            else:
                out.extend(_attestation_keys_in(v))
    elif isinstance(expr, list):
        for v in expr:
            out.extend(_attestation_keys_in(v))
    return out

"""The patient record, format ``oligotrial.patient/1`` (see shared/formats/patient-record.md).

Pure pydantic models, no I/O. :func:`parse_patient` is the one way in: it validates the shape
(unknown fields, unknown tests or units are errors), converts lab values to canonical units,
then checks the record's internal consistency (impossible dates, findings naming unknown
lesions, nodes measured by longest diameter, ...). It returns a complete record or raises a
:class:`~oligotrial.errors.RecordError` listing every problem with its field path, the value
and what was expected; nothing is half-processed.

An absent field means "not known", never "no". An empty list states that there are none.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from oligotrial.domain.kernel import BoundedModel
from oligotrial.domain.kernel.bounds import MAX_LESIONS, bound_expectation
from oligotrial.domain.record.followup import AdverseEvent, QualityOfLife
from oligotrial.domain.record.therapy import LocalTherapy
from oligotrial.domain.record.units import LAB_UNITS, canonical_unit
from oligotrial.errors import RecordError

FORMAT: Final = "oligotrial.patient/1"

Date = dt.date

ORGANS = (
    "lung",
    "liver",
    "bone",
    "brain",
    "adrenal",
    "lymph_node",
    "pleura",
    "peritoneum",
    "soft_tissue",
    "kidney",
    "spleen",
    "skin",
    "meninges",
    "other",
)
Organ = Literal[
    "lung",
    "liver",
    "bone",
    "brain",
    "adrenal",
    "lymph_node",
    "pleura",
    "peritoneum",
    "soft_tissue",
    "kidney",
    "spleen",
    "skin",
    "meninges",
    "other",
]
INTRACRANIAL_ORGANS = frozenset({"brain", "meninges"})

CONDITIONS = frozenset(
    {
        "interstitial_lung_disease",
        "autoimmune_disease",
        "crohns_disease",
        "ulcerative_colitis",
        "scleroderma",
        "ataxia_telangiectasia",
        "active_infection",
        "severe_infection",
        "cirrhosis",
        "spinal_cord_compression",
        "malignant_pleural_effusion",
        "malignant_ascites",
        "leptomeningeal_disease",
        "other_malignancy",
        "organ_transplant",
        "hepatitis_b",
        "hepatitis_c",
        "immune_related_adverse_event",
        "active_bleeding",
        "gilbert_syndrome",
        "long_term_steroids",
        "severe_allergy",
        "study_drug_allergy",
        "uncontrolled_diabetes",
        "uncontrolled_hypertension",
        "severe_heart_disease",
        "severe_lung_disease",
        "severe_kidney_disease",
        "severe_liver_disease",
        "brain_metastasis_hemorrhage",
        "symptomatic_progressive_site",
        "other",
    }
)

DIAGNOSES = (
    "NSCLC",
    "SCLC",
    "HCC",
    "breast",
    "prostate",
    "colorectal",
    "renal",
    "melanoma",
    "other_solid",
    "lymphoma",
    "myeloma",
)


class _Model(BoundedModel):
    """Base of the record's models: unknown fields refused, values frozen, text stripped; text,
    numbers, dates and sizes within :mod:`oligotrial.domain.kernel.bounds`."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PregnancyTest(_Model):
    date: Date
    result: Literal["negative", "positive"]
    kind: Literal["serum", "urine"] | None = None


class Reproductive(_Model):
    childbearing_potential: bool | None = None
    pregnant: bool | None = None
    lactating: bool | None = None
    pregnancy_test: PregnancyTest | None = None


class Cancer(_Model):
    diagnosis: Literal[
        "NSCLC",
        "SCLC",
        "HCC",
        "breast",
        "prostate",
        "colorectal",
        "renal",
        "melanoma",
        "other_solid",
        "lymphoma",
        "myeloma",
    ]
    histology: str | None = None
    confirmation: Literal["histology", "cytology", "clinical", "imaging"] | None = None
    stage: str | None = None
    diagnosed_on: Date | None = None
    # extensions (optional): metastatic diagnosis date and OMD history for ESTRO-EORTC state
    metastatic_on: Date | None = None
    prior_polymetastatic: bool | None = None
    prior_oligometastatic: bool | None = None


class Biomarker(_Model):
    name: str
    status: Literal["positive", "negative", "unknown"]
    detail: str | None = None
    date: Date | None = None


class Performance(_Model):
    date: Date
    scale: Literal["ECOG", "KPS"]
    score: int

    @model_validator(mode="after")
    def _range(self) -> Performance:
        if self.scale == "ECOG" and not 0 <= self.score <= 5:
            raise ValueError(f"@score|{self.score}|an ECOG score, an integer 0-5")
        if self.scale == "KPS" and (not 0 <= self.score <= 100 or self.score % 10):
            raise ValueError(f"@score|{self.score}|a KPS score, a multiple of 10 from 0 to 100")
        return self


def _json_type(value: Any) -> str:
    """The JSON type of a decoded value, as a user wrote it (``a list``, ``an object``, ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    return type(value).__name__


class Lab(_Model):
    """A laboratory result, converted to the test's canonical unit at parse time."""

    date: Date
    test: str
    value: float
    unit: str
    uln: float | None = None
    lln: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _convert(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        test, unit = data.get("test"), data.get("unit")
        for name, given in (("test", test), ("unit", unit)):
            if given is not None and not isinstance(given, str):  # a list or object is not a name to look up
                raise ValueError(f"@{name}|{given!r}|text (the {name}'s name), not {_json_type(given)}")
        if not isinstance(test, str) or test not in LAB_UNITS:  # None (not given) is not a test either
            raise ValueError(f"@test|{test!r}|one of {', '.join(sorted(LAB_UNITS))}")
        units = LAB_UNITS[test]
        if unit not in units:
            raise ValueError(f"@unit|{unit!r}|{' or '.join(units)} for {test}")
        factor = units[unit]
        if factor == 1.0 and unit == canonical_unit(test):
            return data
        out = dict(data)
        for key in ("value", "uln", "lln"):
            if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
                out[key] = out[key] * factor
        out["unit"] = canonical_unit(test)
        return out

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"value {v}: expected a finite, non-negative number")
        return v


class Vitals(_Model):
    date: Date
    weight_kg: float | None = Field(default=None, gt=0, lt=500)
    height_cm: float | None = Field(default=None, gt=0, lt=300)


class ClinicalFindings(_Model):
    ascites: Literal["none", "mild", "moderate_severe"] | None = None
    encephalopathy: Literal["none", "grade_1_2", "grade_3_4"] | None = None
    child_pugh: int | None = Field(default=None, ge=5, le=15)
    # extensions
    sins: int | None = Field(default=None, ge=0, le=18)
    oral_intake: Literal["none", "liquid", "soft", "normal"] | None = None
    date: Date | None = None


class SystemicTherapy(_Model):
    line: int = Field(ge=1)
    agents: list[str] = Field(min_length=1)
    classes: list[str] = Field(default=[])
    start: Date
    end: Date | None = None
    cycles: int | None = Field(default=None, ge=0)
    best_response: Literal["CR", "PR", "SD", "PD", "NE"] | None = None
    progression_date: Date | None = None
    stop_reason: str | None = None
    max_toxicity_grade: int | None = Field(default=None, ge=0, le=5)

    @field_validator("agents", "classes")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [x.lower() for x in v]


class RadiotherapyCourse(_Model):
    start: Date
    end: Date | None = None
    lesions: list[str] | None = None
    region: str | None = None
    dose_gy: float | None = Field(default=None, gt=0)
    fractions: int | None = Field(default=None, ge=1)
    technique: str | None = None
    intent: Literal["radical", "palliative", "consolidative"] | None = None


class Lesion(_Model):
    id: str = Field(min_length=1)
    kind: Literal["primary", "metastasis", "lymph_node"]
    organ: Organ
    location: str | None = None
    node_region: str | None = None
    soft_tissue_component: bool | None = None

    @property
    def intracranial(self) -> bool:
        return self.organ in INTRACRANIAL_ORGANS

    @property
    def is_node(self) -> bool:
        return self.kind == "lymph_node" or self.organ == "lymph_node"


FindingState = Literal[
    "present",
    "absent",
    "too_small",
    "not_evaluated",
    "unequivocal_progression",
    "complete_metabolic_response",
]


class Finding(_Model):
    lesion: str = Field(min_length=1)
    diameter_mm: float | None = Field(default=None, ge=0)
    short_axis_mm: float | None = Field(default=None, ge=0)
    suv_max: float | None = Field(default=None, ge=0)
    state: FindingState | None = None
    new: bool = False
    equivocal: bool = False
    typical_hcc: bool | None = None
    target: bool | None = None
    # extensions: for a lesion first seen as new and absent from lesions[]
    organ: Organ | None = None
    node_region: str | None = None
    volume_cc: float | None = Field(default=None, ge=0)
    hemorrhage: bool | None = None
    # extensions (RECIST 1.1 section 4.3.x, split/coalesced lesions; used by domain.response.recist):
    # a target lesion that fragmented lists each fragment's size (their sum is its size);
    # a lesion that coalesced into another names it (it counts 0, the other carries the LD)
    fragments_mm: list[float] | None = None
    merged_into: str | None = None
    # extension: a node's longest diameter, for a maximum-diameter limit (NCT06592612 HCC-IN-04)
    long_axis_mm: float | None = Field(default=None, ge=0)

    @property
    def size_mm(self) -> float | None:
        """The measured size: short axis for nodes, longest diameter otherwise; 5 mm if too small."""
        if self.short_axis_mm is not None:
            return self.short_axis_mm
        if self.diameter_mm is not None:
            return self.diameter_mm
        if self.state == "absent":
            return 0.0
        if self.state == "too_small":
            return 5.0
        return None


class Assessment(_Model):
    date: Date
    modality: Literal["CT", "MRI", "PET-CT", "X-ray", "bone-scan"]
    findings: list[Finding] = Field(default=[], max_length=MAX_LESIONS)
    # extension: the reader's stated overall response, kept for comparison; oligotrial derives its own
    overall_response: Literal["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"] | None = None


class Condition(_Model):
    name: str
    active: bool | None = None
    since: Date | None = None
    detail: str | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CONDITIONS:
            raise ValueError(f"condition {v!r}: expected one of {', '.join(sorted(CONDITIONS))}")
        return v


class Attestation(_Model):
    key: str = Field(min_length=1)
    value: bool
    by: str = Field(min_length=1)
    date: Date
    note: str | None = None


class Event(_Model):
    kind: Literal[
        "death",
        "progression",
        "next_line_start",
        "metastasis_directed_therapy",
        "lost_to_follow_up",
        "withdrawal",
    ]
    date: Date
    detail: str | None = None
    lesions: list[str] | None = None
    # extension, for a withdrawal: from protocol treatment only (follow-up and vital status go on)
    # or of consent to follow-up (no data collected after it)
    scope: Literal["treatment", "follow_up"] | None = None

    @model_validator(mode="after")
    def _scope(self) -> Event:
        if self.scope is not None and self.kind != "withdrawal":
            raise ValueError(f"@scope|{self.scope!r}|no scope: only a withdrawal has one (kind is {self.kind})")
        return self


class Transfusion(_Model):
    date: Date
    product: str | None = None


class StudyParticipation(_Model):
    """Participation in another clinical study (an extension of the format)."""

    name: str
    interventional: bool
    start: Date
    end: Date | None = None
    investigational_product: bool | None = None


class Toxicity(_Model):
    """An adverse event from prior therapy, CTCAE v5.0 term and grade (extension)."""

    term: str
    grade: int = Field(ge=1, le=5)
    date: Date
    resolved_on: Date | None = None
    current_grade: int | None = Field(default=None, ge=0, le=5)
    # extension: an endocrine toxicity (e.g. hypothyroidism) stable on hormone replacement therapy
    stable_on_replacement_therapy: bool | None = None


class Patient(_Model):
    format: Literal["oligotrial.patient/1"] = FORMAT
    id: str = Field(min_length=1)
    as_of: Date | None = None
    birth_date: Date | None = None
    age_years: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["female", "male", "other", "unknown"] | None = None
    reproductive: Reproductive | None = None
    cancer: Cancer | None = None
    biomarkers: list[Biomarker] | None = None
    performance: list[Performance] | None = None
    labs: list[Lab] | None = None
    vitals: list[Vitals] | None = None
    clinical_findings: ClinicalFindings | None = None
    systemic_therapy: list[SystemicTherapy] | None = None
    radiotherapy: list[RadiotherapyCourse] | None = None
    lesions: list[Lesion] | None = Field(default=None, max_length=MAX_LESIONS)
    assessments: list[Assessment] | None = None
    conditions: list[Condition] | None = None
    attestations: list[Attestation] | None = None
    events: list[Event] | None = None
    transfusions: list[Transfusion] | None = None
    studies: list[StudyParticipation] | None = None
    toxicities: list[Toxicity] | None = None
    adverse_events: list[AdverseEvent] | None = None
    quality_of_life: list[QualityOfLife] | None = None
    local_therapies: list[LocalTherapy] | None = None  # extension: TACE, ablation, resection, ... (therapy.py)

    # ---- derived views (cheap, pure) -------------------------------------------------------
    def lesion_map(self) -> dict[str, Lesion]:
        return {lesion.id: lesion for lesion in self.lesions or ()}

    def assessments_sorted(self) -> list[Assessment]:
        return sorted(self.assessments or (), key=lambda a: a.date)

    def attestation(self, key: str) -> Attestation | None:
        """The latest attestation recorded for ``key``, or None."""
        found = [a for a in self.attestations or () if a.key == key]
        return max(found, key=lambda a: a.date) if found else None

    def death_date(self) -> Date | None:
        deaths = [e.date for e in self.events or () if e.kind == "death"]
        return min(deaths) if deaths else None


Issue = dict[str, Any]  # {path, value, expected}


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _marker_parts(field: str) -> list[str]:
    """The parts of a marker's path: ``findings[2].lesion`` -> findings, 2, lesion."""
    return [p for p in field.replace("[", ".").replace("]", "").split(".") if p]


#: pydantic's wrong-type errors, as what was expected (the value's own type is added)
_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "date_type": "an ISO 8601 date (YYYY-MM-DD)",
}


def _pydantic_issues(exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        # drop the model-validator's own marker from locations
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        msg = msg.removeprefix("Value error, ")
        value = err.get("input")
        if msg.startswith("@"):
            field, shown, expected = msg[1:].split("|", 2)
            loc = (*loc, *(int(p) if p.isdigit() else p for p in _marker_parts(field)))
            for part in _marker_parts(field):
                value = value.get(part, shown) if isinstance(value, Mapping) else shown
            msg = expected
        elif bound := bound_expectation(err):
            msg = bound
        elif err["type"] == "extra_forbidden":
            msg = "unknown field: not part of oligotrial.patient/1 (a typo would silently drop data)"
        elif err["type"] == "literal_error":
            msg = f"expected {err.get('ctx', {}).get('expected', 'one of the listed values')}"
        elif err["type"] in _TYPE_WORDS:  # a value of the wrong JSON type: say which was given
            msg = f"{_TYPE_WORDS[err['type']]}, not {_json_type(value)}"
        issues.append({"path": _loc(loc), "value": value, "expected": msg})
    return issues


def parse_patient(data: Mapping[str, Any], *, today: Date | None = None, not_after: Date | None = None) -> Patient:
    """Validate a patient record (a decoded JSON/YAML mapping) and return it.

    ``as_of`` defaults to ``today``: the caller's (the service clock's date, the command line's);
    every caller in the package gives it. With ``not_after`` (the caller's today), a date of
    anything the record says happened after it is an error (:func:`~.consistency.dates_after`). Raises :class:`RecordError` listing
    every problem found, each with ``path``, ``value`` and ``expected``.
    """
    if not isinstance(data, Mapping):
        raise RecordError(
            f"patient record: expected a JSON object, got {type(data).__name__}",
            errors=[{"path": "", "value": None, "expected": "a JSON object"}],
        )
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise RecordError(
            f"format {fmt!r}: expected {FORMAT!r}",
            errors=[{"path": "format", "value": fmt, "expected": FORMAT}],
            field="format",
        )
    try:
        patient = Patient.model_validate(data)
    except ValidationError as exc:
        issues = _pydantic_issues(exc)
        raise _record_error(data, issues) from None
    # a caller outside the package that gives neither as_of nor today (a script): the machine's date, as before
    record_date = patient.as_of or today or dt.date.today()  # clock-exempt: no caller's today (see above)
    issues = _consistency_issues(patient, record_date=record_date, not_after=not_after)
    if issues:
        raise _record_error(data, issues)
    return patient if patient.as_of is not None else patient.model_copy(update={"as_of": record_date})


def _record_error(data: Mapping[str, Any], issues: list[Issue]) -> RecordError:
    pid = data.get("id", "?") if isinstance(data, Mapping) else "?"
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    value = first["value"]
    shown = value if not isinstance(value, (dict, list)) or len(repr(value)) < 80 else "..."
    msg = f"patient {pid}: {first['path'] or 'record'} = {shown!r}: expected {first['expected']}{more}"
    return RecordError(msg, errors=issues, field=first["path"])


def patient_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``oligotrial.patient/1``."""
    schema = Patient.model_json_schema()
    schema["$id"] = "https://oligotrial.org/schema/patient-1.json"
    schema["title"] = "oligotrial.patient/1"
    return schema


# the cross-field checks live beside the models (record/consistency.py); imported last, as they
# read the models defined above
from oligotrial.domain.record.consistency import _consistency_issues

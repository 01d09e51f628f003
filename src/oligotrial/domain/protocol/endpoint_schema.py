"""The ``endpoint_rules`` block of a protocol file: how each endpoint is derived per patient.

A protocol's ``endpoints`` say *what* the trial measures (registry text); ``endpoint_rules`` say
*how* oligotrial derives each one from a patient record, as data: the derivation kind, which
events count, what censors, the response criteria, and the registry text each rule comes from.
The block is parsed once, when the protocol file is loaded (``Protocol.endpoint_rules``; a bad
block is a ProtocolError naming the file and the path inside it), and dumped as the file wrote it
(:class:`~.written.WrittenBlock`); :func:`parse_endpoint_rules` gives a protocol's rules, or
validates a raw mapping.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from oligotrial.domain.protocol.written import WrittenBlock
from oligotrial.errors import ProtocolError

Kind = Literal[
    "pfs",  # RECIST progression or death
    "os",  # death from any cause
    "pfs_next_line",  # progression on the next line of systemic therapy, or death (PFS-NEST)
    "polymetastatic_pfs",  # progression to more than N lesions, or death
    "ttnt",  # time to the next line of systemic therapy
    "local_control",  # per treated lesion: no progression of that lesion
    "orr",  # best overall response CR or PR
    "dcr",  # best overall response CR, PR or SD (NON-CR/NON-PD)
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MissedVisitRule(_Model):
    """FDA guidance (2018), Appendix 3: an event after ``min_missed_visits`` or more missed
    scheduled assessments is censored at the last adequate assessment before it."""

    visit_interval_days: int = Field(gt=0)
    min_missed_visits: int = Field(default=2, ge=1)
    source_text: str | None = None


class EndpointRule(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Kind
    name: str
    criteria: Literal["recist1.1", "irecist"] = "recist1.1"
    death_is_event: bool = True
    recorded_progression_is_event: bool = Field(
        default=True, description="events[] of kind progression count as progression"
    )
    censor_at_new_anticancer_therapy: bool = True
    metastasis_directed_therapy_censors: bool = False
    confirm_response: bool = False
    polymetastatic_threshold_lesions: int | None = Field(default=None, ge=1)
    lesion_progression_pct: float | None = Field(default=None, gt=0)
    lesion_progression_mm: float | None = Field(default=None, ge=0)
    #: local_control only: which lesions it follows. ``treated``: each lesion irradiated on or
    #: after the origin, from its treatment (so an arm without radiotherapy has none);
    #: ``residual``: the lesions of the disease state (``disease_state``, e.g. the oligoresidual
    #: lesions not in complete metabolic response) on the last scan on or before the origin,
    #: from the origin, in every arm
    lesions: Literal["treated", "residual"] = "treated"
    missed_visit: MissedVisitRule | None = None
    source_text: str = Field(min_length=3)
    note: str | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> EndpointRule:
        if self.kind == "polymetastatic_pfs" and self.polymetastatic_threshold_lesions is None:
            raise ValueError(f"endpoint {self.id}: polymetastatic_pfs needs polymetastatic_threshold_lesions")
        if self.kind == "local_control" and (self.lesion_progression_pct is None or self.lesion_progression_mm is None):
            raise ValueError(f"endpoint {self.id}: local_control needs lesion_progression_pct and _mm")
        if self.lesions != "treated" and self.kind != "local_control":
            raise ValueError(f"endpoint {self.id}: lesions {self.lesions!r} is for local_control only")
        return self


class ResponseConfirmation(_Model):
    """The intervals of the best overall response (ADRS ``BOR`` and ``CBOR``).

    RECIST 1.1 (Eisenhauer 2009) s.4.4.3: "Complete or partial responses may be claimed only if
    the criteria for each are met at a subsequent time point as specified in the protocol
    (generally 4 weeks later)" (``confirm_min_days``, 28: exactly four weeks confirms); s.4.6.1:
    "in the case of SD, measurements must have met the SD criteria at least once after study
    entry at a minimum interval (in general not less than 6-8 weeks)" defined by the protocol
    (``sd_min_days`` from the origin). Where the registry names no interval the value is the
    project's assumption, said so in ``assumption``."""

    confirm_min_days: int = Field(default=28, ge=1)
    sd_min_days: int = Field(default=42, ge=0)
    source_text: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _labelled(self) -> ResponseConfirmation:
        if self.source_text is None and self.assumption is None:
            raise ValueError(
                "response_confirmation: expected the registry text it comes from (source_text) or, "
                "where the registry is silent, the assumption made (assumption)"
            )
        return self


class EndpointRules(WrittenBlock):
    origin: Literal["randomization", "treatment_start", "enrolment"]
    origin_source_text: str
    #: what is ours about the origin (a reading the registry does not state), labelled as such;
    #: ``origin_source_text`` quotes only the registry
    origin_note: str | None = None
    response_confirmation: ResponseConfirmation | None = None
    endpoints: list[EndpointRule] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> EndpointRules:
        ids = [e.id for e in self.endpoints]
        if len(set(ids)) != len(ids):
            raise ValueError(f"endpoint rule ids must be unique: {ids}")
        return self


def parse_endpoint_rules(raw: EndpointRules | dict[str, Any] | None, *, trial: str = "protocol") -> EndpointRules:
    """A protocol's endpoint rules: its own (``Protocol.endpoint_rules``, parsed at load) as they
    are, a raw mapping validated (ProtocolError when absent or bad)."""
    if raw is None:
        raise ProtocolError(
            f"{trial}: no endpoint_rules block: expected endpoint derivation rules in the protocol file",
            code="endpoint_rules_missing",
            field="endpoint_rules",
        )
    if isinstance(raw, EndpointRules):
        return raw
    try:
        return EndpointRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(f"{trial}: endpoint_rules.{loc}: {first['msg']}", field=f"endpoint_rules.{loc}") from None

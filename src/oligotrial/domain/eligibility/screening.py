"""Screening one patient against one protocol: every criterion evaluated and reported.

A trial is ``eligible`` when no inclusion is not_met/unknown and no exclusion is met/unknown;
``ineligible`` when any inclusion is not_met or any exclusion is met; otherwise
``needs_review`` (shared/formats/screening-result.md). Exclusion criteria are stated the way
they read: an exclusion that is ``met`` excludes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from oligotrial.domain.eligibility.compiler import compile_rule
from oligotrial.domain.eligibility.kleene import (
    MET,
    NOT_MET,
    UNKNOWN,
    Context,
    Node,
    Verdict,
)
from oligotrial.domain.kernel import Explained
from oligotrial.domain.response.counting import evaluate_disease_state
from oligotrial.errors import RecordError

SCREENING_FORMAT = "oligotrial.screening/1"
SUMMARY_FORMAT = "oligotrial.screening-summary/1"
_VALUE = {v: v.value for v in Verdict}


class CriterionResult(Explained):
    """One criterion's verdict, its registry text, and why (``reason`` is built when read; with
    ``outcome`` given, ``inputs``, ``missing`` and ``assumed`` are read from it when read)."""

    __slots__ = ("_assumed", "_inputs", "_missing", "_outcome", "id", "kind", "source_text", "verdict")

    def __init__(
        self,
        id: str,
        kind: str,
        source_text: str,
        verdict: str,
        reason,
        inputs: tuple[str, ...] = (),
        missing: tuple[str, ...] = (),
        assumed: tuple[str, ...] = (),
        outcome: Any = None,
    ) -> None:
        self.id = id
        self.kind = kind
        self.source_text = source_text
        self.verdict = verdict
        self._reason = reason
        self._inputs = inputs
        self._missing = missing
        self._assumed = assumed
        self._outcome = outcome

    @property
    def inputs(self) -> tuple[str, ...]:
        o = self._outcome
        return self._inputs if o is None else o.inputs

    @property
    def missing(self) -> tuple[str, ...]:
        o = self._outcome
        return self._missing if o is None or self.verdict != "unknown" else o.missing

    @property
    def assumed(self) -> tuple[str, ...]:
        o = self._outcome
        return self._assumed if o is None else o.assumed

    def __repr__(self) -> str:
        return f"CriterionResult(id={self.id!r}, kind={self.kind!r}, verdict={self.verdict!r}, reason={self.reason!r})"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "kind": self.kind,
            "source_text": self.source_text,
            "verdict": self.verdict,
            "reason": self.reason,
            "inputs": list(self.inputs),
            "missing": list(self.missing),
        }
        if self.assumed:
            out["assumed_attestations"] = list(self.assumed)
        return out


@dataclass(frozen=True)
class TrialScreening:
    trial: str
    short_name: str
    protocol_version: str
    verdict: str
    state: Any  # the DiseaseState; its dict form is built only when asked for
    criteria: tuple[CriterionResult, ...]
    assumed_attested: bool
    # the criteria that exclude / are undecided, when the screening sorted them as it went
    excluding: tuple[CriterionResult, ...] | None = field(default=None, compare=False, repr=False)
    unknown: tuple[CriterionResult, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def disease_state(self) -> dict[str, Any]:
        return self.state.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial": self.trial,
            "short_name": self.short_name,
            "protocol_version": self.protocol_version,
            "verdict": self.verdict,
            "assumed_attested": self.assumed_attested,
            "disease_state": self.disease_state,
            "criteria": [c.to_dict() for c in self.criteria],
        }

    def summary(self) -> dict[str, Any]:
        """The ``oligotrial.screening-summary/1`` result: the verdict, the disease-state counts, and
        only the criteria that exclude or are undecided, by id with their reasons (no registry
        text; the reasons of the criteria that pass are never built)."""
        s = self.state
        return {
            "trial": self.trial,
            "short_name": self.short_name,
            "protocol_version": self.protocol_version,
            "verdict": self.verdict,
            "disease_state": {
                "sites": s.sites,
                "sites_max": s.sites_max,
                "organs": s.organs,
                "organs_max": s.organs_max,
                "counted": len(s.counted),
                "uncertain": len(s.uncertain),
                "intracranial_sites": s.intracranial_sites,
            },
            "failing": [{"id": c.id, "kind": c.kind, "verdict": c.verdict, "reason": c.reason} for c in self.failing],
            "unknown": [
                {"id": c.id, "kind": c.kind, "reason": c.reason, "missing": list(c.missing)} for c in self.undecided
            ],
        }

    @property
    def failing(self) -> list[CriterionResult]:
        """Criteria that make the patient ineligible (inclusion not met, exclusion met)."""
        if self.excluding is not None:
            return list(self.excluding)
        return [c for c in self.criteria if excludes(c)]

    @property
    def undecided(self) -> list[CriterionResult]:
        if self.unknown is not None:
            return list(self.unknown)
        return [c for c in self.criteria if c.verdict == "unknown"]


class CompiledProtocol:
    """A protocol whose criteria are compiled to evaluation trees (done once, then reused)."""

    def __init__(self, protocol) -> None:
        self.protocol = protocol
        self.nodes: list[tuple[Any, Node]] = [
            (c, compile_rule(c.expression, f"{protocol.id} {c.id}")) for c in protocol.criteria
        ]
        # what each result repeats from its criterion, read once: (id, kind, source_text, node, and
        # the verdict that excludes: not met for an inclusion, met for an exclusion)
        self.steps: list[tuple[str, str, str, Node, Verdict]] = [
            (c.id, c.kind, c.source_text, n, NOT_MET if c.kind == "inclusion" else MET) for c, n in self.nodes
        ]


_compiled: dict[tuple[str, str], CompiledProtocol] = {}


def compiled(protocol) -> CompiledProtocol:
    key = (protocol.id, protocol.version)
    cp = _compiled.get(key)
    if cp is None or cp.protocol is not protocol:
        cp = _compiled[key] = CompiledProtocol(protocol)
    return cp


def excludes(c: CriterionResult) -> bool:
    """An inclusion not met or an exclusion met: the patient cannot enter the trial."""
    return verdict_excludes(c.verdict, c.kind)


def verdict_excludes(verdict: str | None, kind: str | None) -> bool:
    """:func:`excludes` for a criterion known by its verdict and kind (a stored screening)."""
    return verdict == ("not_met" if kind == "inclusion" else "met")


def trial_verdict(results: list[CriterionResult]) -> str:
    """``ineligible`` if any criterion excludes, else ``needs_review`` if any is unknown, else
    ``eligible``."""
    undecided = False
    for r in results:
        if excludes(r):
            return "ineligible"
        if r.verdict == "unknown":
            undecided = True
    return "needs_review" if undecided else "eligible"


def judged_on(patient, today: dt.date | None = None) -> dt.date:
    """The date a patient is judged on: the record's ``as_of`` (set by ``parse_patient``), else the
    caller's ``today``. The domain reads no clock: a patient with neither is a :class:`RecordError`."""
    day = patient.as_of or today
    if day is None:
        raise RecordError(
            f"patient {patient.id}: as_of: absent; expected the record's date or the caller's today",
            errors=[{"path": "as_of", "value": None, "expected": "the record's date or the caller's today"}],
            field="as_of",
        )
    return day


def screen_patient(
    patient, protocol, *, assume_attested: bool = False, shared: dict | None = None, today: dt.date | None = None
) -> TrialScreening:
    """Evaluate every criterion of ``protocol`` on ``patient`` as of its ``as_of`` (else ``today``).

    ``shared`` is a per-patient cache to pass to each call when screening one patient against
    several protocols (facts such as the latest lab per test are derived once).
    """
    cp = compiled(protocol)
    ctx = Context(
        patient=patient,
        as_of=judged_on(patient, today),
        protocol=protocol,
        assume_attested=assume_attested,
        shared={} if shared is None else shared,
    )
    results, failing, undecided = [], [], []
    for cid, kind, text, node, bad in cp.steps:
        o = node(ctx)
        v = o.verdict
        r = CriterionResult(cid, kind, text, _VALUE[v], o._reason, outcome=o)
        results.append(r)
        if v is bad:
            failing.append(r)
        elif v is UNKNOWN:
            undecided.append(r)
    # trial_verdict(results), from the criteria sorted as they were evaluated
    verdict = "ineligible" if failing else ("needs_review" if undecided else "eligible")
    ds = ctx.memo("disease_state", evaluate_disease_state, patient, protocol.disease_state, ctx.shared)
    return TrialScreening(
        protocol.id,
        protocol.short_name,
        protocol.version,
        verdict,
        ds,
        tuple(results),
        assume_attested,
        tuple(failing),
        tuple(undecided),
    )


def screen_against(
    patient, protocols, *, assume_attested: bool = False, today: dt.date | None = None
) -> list[TrialScreening]:
    """Screen one patient against several protocols, sharing per-patient facts."""
    shared: dict = {}
    return [screen_patient(patient, p, assume_attested=assume_attested, shared=shared, today=today) for p in protocols]


def screening_document(patient, screenings: list[TrialScreening], today: dt.date | None = None) -> dict[str, Any]:
    """The ``oligotrial.screening/1`` document for one patient."""
    return {
        "format": SCREENING_FORMAT,
        "patient": patient.id,
        "as_of": judged_on(patient, today).isoformat(),
        "assumed_attested": any(s.assumed_attested for s in screenings),
        "results": [s.to_dict() for s in screenings],
    }


def screening_summary(patient, screenings: list[TrialScreening], today: dt.date | None = None) -> dict[str, Any]:
    """The ``oligotrial.screening-summary/1`` element for one patient (docs/screening-summary.md)."""
    return {
        "format": SUMMARY_FORMAT,
        "patient": patient.id,
        "as_of": judged_on(patient, today).isoformat(),
        "assumed_attested": any(s.assumed_attested for s in screenings),
        "results": [s.summary() for s in screenings],
    }


__all__ = [
    "MET",
    "NOT_MET",
    "CompiledProtocol",
    "CriterionResult",
    "TrialScreening",
    "compiled",
    "excludes",
    "judged_on",
    "screen_patient",
    "screening_document",
    "screening_summary",
    "trial_verdict",
    "verdict_excludes",
]

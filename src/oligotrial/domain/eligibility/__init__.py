"""Eligibility: is this patient, on this date, eligible for this trial, and why (not)?

Owns: strong Kleene logic over met / not met / unknown / not applicable (:mod:`.kleene`); the
criterion leaves, one module per topic (:mod:`.criteria`: demographics and performance, labs and
organ function, conditions and history, therapy lines, disease state, radiotherapy history,
clinician judgement), registered by name (:mod:`.registry`) and compiled from protocol YAML
once per protocol (:mod:`.compiler`); screening a record against protocols (:mod:`.screening`).

Depends on: ``response`` (a trial's disease state), ``radiotherapy``, ``record``, ``kernel``.
Nothing else in the domain depends on it.
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the sub-module that defines it (a public sub-module maps to itself)
_EXPORTS = {
    "compiler": "compiler",
    "criteria": "criteria",
    "kleene": "kleene",
    "screening": "screening",
    "MET": "kleene",
    "NA": "kleene",
    "NOT_MET": "kleene",
    "UNKNOWN": "kleene",
    "Context": "kleene",
    "Outcome": "kleene",
    "Verdict": "kleene",
    "compile_rule": "compiler",
    "leaf_names": "compiler",
    "CriterionResult": "screening",
    "TrialScreening": "screening",
    "screen_against": "screening",
    "screen_patient": "screening",
    "screening_document": "screening",
    "screening_summary": "screening",
    "trial_verdict": "screening",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""Tumour response over time, and the endpoints derived from it.

Owns: RECIST 1.1 (:mod:`.recist`: measurement and target selection, time-point responses, best
overall response), iRECIST (:mod:`.irecist`), each trial's own per-lesion progression rules
(:mod:`.progression`) and site and organ counting (:mod:`.counting`), the ESTRO-EORTC
oligometastatic state (:mod:`.oligostate`), time-to-event and response endpoints
(:mod:`.endpoints`), and every endpoint of a protocol derived for one patient by its
``endpoint_rules`` (:mod:`.derivation`). The numbers (thresholds, windows) come from the protocol file.

Depends on: ``protocol``, ``record``, ``kernel``. Used by ``eligibility`` (a trial's disease state)
and ``trial`` (a participant's endpoints).
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the sub-module that defines it (a public sub-module maps to itself)
_EXPORTS = {
    "counting": "counting",
    "derivation": "derivation",
    "endpoints": "endpoints",
    "irecist": "irecist",
    "oligostate": "oligostate",
    "progression": "progression",
    "recist": "recist",
    "DiseaseState": "counting",
    "evaluate_disease_state": "counting",
    "derive_endpoints": "derivation",
    "LesionStatus": "progression",
    "RULE_TYPES": "progression",
    "reference_line": "progression",
    "RecistOptions": "recist",
    "lesion_of": "recist",
    "measurable": "recist",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

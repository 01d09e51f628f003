"""The patient record (``oligotrial.patient/1``) and what is measured on it.

Owns: the record's pydantic models and their validation, one error naming field, value and
expectation (:mod:`.patient`), and the cross-field checks (:mod:`.consistency`); follow-up entries, adverse events and questionnaires
(:mod:`.followup`), validated as part of the record and merged into it (:mod:`.entries`); laboratory units and conversions (:mod:`.units`) and the plausibility limits of lab values (:mod:`.lab_ranges`); clinical scores
computed from their parts, age, Cockcroft-Gault, Child-Pugh, ECOG/Karnofsky (:mod:`.scores`); the
CTCAE v5.0 term and grade check of an adverse event (:mod:`.ctcae`); local (non-radiotherapy) treatments, ``local_therapies[]`` (:mod:`.therapy`).

Depends on: ``kernel``. Every other context may use it.
"""

from oligotrial.domain.kernel import lazy_exports

#: public name -> the sub-module that defines it (a public sub-module maps to itself)
_EXPORTS = {
    "ctcae": "ctcae",
    "entries": "entries",
    "followup": "followup",
    "patient": "patient",
    "scores": "scores",
    "units": "units",
    "therapy": "therapy",
    "LocalTherapy": "therapy",
    "lab_ranges": "lab_ranges",
    "AdverseEvent": "followup",
    "QualityOfLife": "followup",
    "ENTRY_KINDS": "entries",
    "parse_entry": "entries",
    "Assessment": "patient",
    "Finding": "patient",
    "Lesion": "patient",
    "Patient": "patient",
    "FORMAT": "patient",
    "parse_patient": "patient",
    "patient_json_schema": "patient",
    "LAB_UNITS": "units",
    "canonical_unit": "units",
    "conversion_factor": "units",
    "check_adverse_event": "ctcae",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

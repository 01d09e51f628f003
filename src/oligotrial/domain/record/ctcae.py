"""CTCAE v5.0 adverse-event terms and grades (a curated subset relevant to SBRT trials). Pure.

Source: Common Terminology Criteria for Adverse Events (CTCAE) Version 5.0, U.S. Department of
Health and Human Services, NIH/NCI, 27 November 2017. Each term is stored with the grades the
criteria define for it (e.g. *Alopecia* stops at grade 2; *Pain* at grade 3; *Hepatic failure*
starts at grade 3). Terms outside the subset are recorded as ``"<SOC> - Other, specify"`` with
the free text in ``specify``, as CTCAE itself provides.
"""

from __future__ import annotations

from oligotrial.errors import RecordError

_G1_5 = frozenset({1, 2, 3, 4, 5})
_G1_4 = frozenset({1, 2, 3, 4})
_G1_3 = frozenset({1, 2, 3})
_G1_2 = frozenset({1, 2})

TERMS: dict[str, frozenset[int]] = {
    # General disorders
    "Fatigue": _G1_3,
    "Fever": _G1_5,
    "Pain": _G1_3,
    "Edema limbs": _G1_3,
    "Death NOS": frozenset({5}),
    # Gastrointestinal
    "Nausea": _G1_3,
    "Vomiting": _G1_5,
    "Diarrhea": _G1_5,
    "Anorexia": _G1_5,
    "Esophagitis": _G1_5,
    "Dysphagia": _G1_5,
    "Mucositis oral": _G1_5,
    "Colitis": _G1_5,
    "Proctitis": _G1_5,
    "Gastric ulcer": _G1_5,
    "Duodenal ulcer": _G1_5,
    "Upper gastrointestinal hemorrhage": _G1_5,
    "Abdominal pain": _G1_3,
    # Respiratory
    "Pneumonitis": _G1_5,
    "Cough": _G1_3,
    "Dyspnea": _G1_5,
    "Hemoptysis": _G1_5,
    "Pleural effusion": _G1_5,
    "Pneumothorax": _G1_5,
    "Bronchopulmonary hemorrhage": _G1_5,
    # Skin
    "Dermatitis radiation": _G1_5,
    "Alopecia": _G1_2,
    "Pruritus": _G1_3,
    "Rash maculo-papular": _G1_3,
    "Skin hyperpigmentation": _G1_2,
    # Musculoskeletal
    "Bone pain": _G1_3,
    "Back pain": _G1_3,
    "Chest wall pain": _G1_3,
    "Arthralgia": _G1_3,
    "Fracture": _G1_5,
    "Myositis": _G1_5,
    # Nervous system
    "Headache": _G1_3,
    "Seizure": _G1_5,
    "Myelitis": _G1_5,
    "Central nervous system necrosis": _G1_5,
    "Peripheral sensory neuropathy": _G1_5,
    "Brachial plexopathy": _G1_5,
    "Edema cerebral": frozenset({4, 5}),
    # Blood and lymphatic / investigations
    "Anemia": _G1_5,
    "Platelet count decreased": _G1_4,
    "Neutrophil count decreased": _G1_4,
    "White blood cell decreased": _G1_4,
    "Lymphocyte count decreased": _G1_4,
    "Alanine aminotransferase increased": _G1_4,
    "Aspartate aminotransferase increased": _G1_4,
    "Blood bilirubin increased": _G1_4,
    "Creatinine increased": _G1_4,
    # Hepatobiliary, renal, cardiac, endocrine
    "Hepatic failure": frozenset({3, 4, 5}),
    "Cystitis noninfective": _G1_5,
    "Pericardial effusion": frozenset({2, 3, 4, 5}),
    "Hypothyroidism": _G1_5,
}

OTHER_SUFFIX = " - Other, specify"


def check_adverse_event(term: str, grade: int, specify: str | None = None) -> dict:
    """Validate a CTCAE v5 term and grade; returns the normalised entry or raises
    :class:`~oligotrial.errors.RecordError` naming the field."""
    if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 5:
        raise RecordError(
            f"grade {grade!r}: expected a CTCAE grade 1..5",
            field="grade",
            errors=[{"path": "grade", "value": grade, "expected": "integer 1..5"}],
        )
    if term.endswith(OTHER_SUFFIX):
        if not specify or not specify.strip():
            raise RecordError(
                f"specify: {term!r} needs the event described",
                field="specify",
                errors=[{"path": "specify", "value": specify, "expected": "free text"}],
            )
        return {"term": term, "grade": grade, "specify": specify.strip()}
    if term not in TERMS:
        raise RecordError(
            f"term {term!r}: not a CTCAE v5 term known here; expected one of the listed terms or "
            f"'<System organ class>{OTHER_SUFFIX}'",
            field="term",
            errors=[{"path": "term", "value": term, "expected": "CTCAE v5.0 term"}],
        )
    if grade not in TERMS[term]:
        raise RecordError(
            f"grade {grade}: CTCAE v5 defines {term!r} only for grades {sorted(TERMS[term])}",
            field="grade",
            errors=[{"path": "grade", "value": grade, "expected": sorted(TERMS[term])}],
        )
    return {"term": term, "grade": grade, "specify": None}

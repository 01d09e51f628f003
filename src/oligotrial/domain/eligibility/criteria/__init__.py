"""The leaves of eligibility rules: each reads the patient record and returns an Outcome.

Every leaf returns ``unknown`` with what would decide it when the record is silent (an absent
field means "not known"); an empty list states there are none. Time windows are relative to the
screening date (the record's ``as_of``) and name either ``days`` or a protocol ``window``.
Thresholds carry their registry's own operator (``>=``, ``>``, ``<=``, ``<``).

One module per topic; importing this package registers every leaf with
``oligotrial.domain.eligibility.registry``.
"""

from oligotrial.domain.eligibility.criteria import (
    conditions,
    demographics,
    disease,
    immunotherapy,
    judgement,
    labs,
    local_therapy,
    radiotherapy_history,
    therapy_lines,
    therapy_toxicity,
)

__all__ = [
    "conditions",
    "demographics",
    "disease",
    "immunotherapy",
    "judgement",
    "labs",
    "local_therapy",
    "radiotherapy_history",
    "therapy_lines",
    "therapy_toxicity",
]

"""Laboratory tests and units accepted in a patient record, and conversion to canonical units.

The first unit listed for each test is canonical; every other accepted unit is converted once,
at parse time, together with the value's reference range (``uln``/``lln``). Any other unit is an
error: a lab value in an unknown unit is never guessed at.

References
----------
Conversion factors: creatinine 1 mg/dL = 88.42 umol/L; total bilirubin 1 mg/dL = 17.104 umol/L
(SI conversion tables, e.g. AMA Manual of Style, SI Conversion Calculator); hemoglobin and
albumin 1 g/dL = 10 g/L.
"""

from __future__ import annotations

from types import MappingProxyType

# test -> {unit: factor to canonical}; canonical unit first (factor 1.0)
_CELLS = {"10^9/L": 1.0, "10^3/uL": 1.0}
LAB_UNITS: MappingProxyType[str, dict[str, float]] = MappingProxyType(
    {
        "hemoglobin": {"g/L": 1.0, "g/dL": 10.0},
        "wbc": dict(_CELLS),
        "neutrophils": dict(_CELLS),
        "lymphocytes": dict(_CELLS),
        "platelets": dict(_CELLS),
        "creatinine": {"umol/L": 1.0, "mg/dL": 88.42},
        "creatinine_clearance": {"mL/min": 1.0},
        "alt": {"U/L": 1.0},
        "ast": {"U/L": 1.0},
        "alp": {"U/L": 1.0},
        "total_bilirubin": {"umol/L": 1.0, "mg/dL": 17.104},
        "albumin": {"g/L": 1.0, "g/dL": 10.0},
        "inr": {"1": 1.0},
        "tsh": {"mU/L": 1.0, "mIU/L": 1.0},
        "ft3": {"pmol/L": 1.0},
        "ft4": {"pmol/L": 1.0},
        "afp": {"ng/mL": 1.0},
        "ldh": {"U/L": 1.0},
    }
)


def canonical_unit(test: str) -> str:
    """The canonical unit of ``test`` (the first one listed)."""
    return next(iter(LAB_UNITS[test]))


def conversion_factor(test: str, unit: str) -> float:
    """Factor converting a value of ``test`` in ``unit`` to the canonical unit.

    Raises ``KeyError`` for an unknown test and ``ValueError`` for an unknown unit; the record
    parser turns both into a message naming the field, the value and the accepted units.
    """
    units = LAB_UNITS[test]
    if unit not in units:
        raise ValueError(unit)
    return units[unit]

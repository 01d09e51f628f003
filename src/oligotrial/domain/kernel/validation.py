"""Input validation shared by the domain and statistics modules."""

from __future__ import annotations

import math

from oligotrial.errors import OligotrialError


def finite_number(field: str, value: object, error: type[OligotrialError]) -> float:
    """``value`` as a finite float, or ``error`` naming the field, the value and the expectation."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise error(f"{field} {value!r}: expected a number", field=field) from None
    if not math.isfinite(number):
        raise error(f"{field} {value!r}: expected a finite number", field=field)
    return number

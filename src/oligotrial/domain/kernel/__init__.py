"""The domain's shared kernel: what every clinical context may use and that uses none of them.

Owns: explained values (a result with the reason behind it, formatted when read:
:mod:`.reasons`), the one finite-number check that names field, value and expectation
(:mod:`.validation`), what any input may hold (valid text, finite numbers, plausible dates,
bounded sizes) and the input models' base that enforces it (:mod:`.bounds`, loaded when first
read: it needs pydantic), the lazy public surfaces of the context packages (:mod:`.exports`), and
calendar periods: "N months" as calendar months, ``add_months`` (:mod:`.periods`).
"""

from oligotrial.domain.kernel.exports import lazy_exports
from oligotrial.domain.kernel.periods import Period, add_months
from oligotrial.domain.kernel.reasons import Explained, Reason, reason_text
from oligotrial.domain.kernel.validation import finite_number

#: public names loaded on first use (name -> sub-module)
_EXPORTS = {"bounds": "bounds", "BoundedDate": "bounds", "BoundedModel": "bounds"}
_lazy, __getattr__, _dir = lazy_exports(__name__, _EXPORTS)

__all__ = [  # sorted; the lazy names are _EXPORTS' keys
    "BoundedDate",
    "BoundedModel",
    "Explained",
    "Period",
    "Reason",
    "add_months",
    "bounds",
    "finite_number",
    "lazy_exports",
    "periods",
    "reason_text",
]

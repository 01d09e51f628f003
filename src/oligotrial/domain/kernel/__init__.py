"""The domain's shared kernel: what every clinical context may use and that uses none of them.

Owns: explained values (a result with the reason behind it, formatted when read:
:mod:`.reasons`), the one finite-number check that names field, value and expectation
(:mod:`.validation`), and the lazy public surfaces of the context packages (:mod:`.exports`).
"""

from oligotrial.domain.kernel.exports import lazy_exports
from oligotrial.domain.kernel.reasons import Explained, Reason, reason_text
from oligotrial.domain.kernel.validation import finite_number

__all__ = ["Explained", "Reason", "finite_number", "lazy_exports", "reason_text"]

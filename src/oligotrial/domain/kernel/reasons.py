"""Reasons formatted when read.

A verdict is needed for every criterion of every patient; its explanation only when somebody
reads it (a screen of a whole registry reads the verdicts, one coordinator reads the reasons).
A reason is therefore a string or a zero-argument callable that builds it; ``Explained``
formats it the first time ``reason`` is read and keeps the string.
"""

from __future__ import annotations

from collections.abc import Callable

Reason = str | Callable[[], str]


def reason_text(why: Reason) -> str:
    """The text of a reason given as a string or as a callable."""
    return why if isinstance(why, str) else why()


class Explained:
    """Base for results that carry a lazily formatted ``reason`` (built at most once)."""

    __slots__ = ("_reason",)
    _reason: Reason

    @property
    def reason(self) -> str:
        r = self._reason
        if isinstance(r, str):
            return r
        text = self._reason = r()
        return text


__all__ = ["Explained", "Reason", "reason_text"]

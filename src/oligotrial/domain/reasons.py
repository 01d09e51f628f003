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
    return why if why.__class__ is str else why()


class Explained:
    """Base for results that carry a lazily formatted ``reason`` (built at most once)."""

    __slots__ = ("_reason",)

    @property
    def reason(self) -> str:
        r = self._reason
        if r.__class__ is not str:
            r = self._reason = r()
        return r


__all__ = ["Explained", "Reason", "reason_text"]

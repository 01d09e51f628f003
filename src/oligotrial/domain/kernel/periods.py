"""Calendar periods: a registry's "N months" as calendar months, "N days" / "N weeks" as days.

A period of N months that starts on a date ends on the same day of the month N months later; where
that month has no such day (31 January + 1 month), it ends on the month's last day (28 or 29
February). This is the end-of-month rule of ISO 8601 calendar durations as date libraries apply
it (python-dateutil's ``relativedelta(months=n)``, java.time ``LocalDate.plusMonths``, SAS
``INTNX('month', d, n, 'same')``, R lubridate ``%m+%``), and the way a clinical protocol's
"within 3 months" is read: 15 March to 15 June, not 90 days. A period counted back from a date
(N months before it) starts on the same day of the month N months earlier, with the same clamp.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

__all__ = ["Period", "add_months"]


def add_months(date: dt.date, n: int) -> dt.date:
    """``date`` moved by ``n`` calendar months (``n`` may be negative): the same day of the
    month, or the last day of the target month where that day does not exist.

    >>> add_months(dt.date(2025, 1, 31), 1)
    datetime.date(2025, 2, 28)
    >>> add_months(dt.date(2024, 1, 31), 1)
    datetime.date(2024, 2, 29)
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"months {n!r}: expected a whole number of months")
    index = date.year * 12 + (date.month - 1) + n
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError(f"{date.isoformat()} + {n} months is outside the calendar")
    return date.replace(year=year, month=month, day=min(date.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Period:
    """A length of time as a registry states it: whole ``days`` or whole calendar ``months``
    (exactly one of them). Weeks and years in days are given as days (12 weeks = 84 days)."""

    days: int | None = None
    months: int | None = None

    def __post_init__(self) -> None:
        if (self.days is None) == (self.months is None):
            raise ValueError("a period is days or months: give exactly one")
        value = self.days if self.days is not None else self.months
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"period {value!r}: expected a whole number >= 0")

    def after(self, start: dt.date) -> dt.date:
        """The day the period ends when it starts on ``start``."""
        if self.months is not None:
            return add_months(start, self.months)
        assert self.days is not None  # exactly one of days and months (__post_init__)
        return start + dt.timedelta(days=self.days)

    def before(self, end: dt.date) -> dt.date:
        """The day the period starts when it ends on ``end`` (counted back)."""
        if self.months is not None:
            return add_months(end, -self.months)
        assert self.days is not None  # exactly one of days and months (__post_init__)
        return end - dt.timedelta(days=self.days)

    def days_after(self, start: dt.date) -> int:
        """The period's length in days when it starts on ``start``."""
        return (self.after(start) - start).days

    def days_before(self, end: dt.date) -> int:
        """The period's length in days when it ends on ``end`` (counted back)."""
        return (end - self.before(end)).days

    def __str__(self) -> str:
        if self.months is not None:
            return f"{self.months} month{'' if self.months == 1 else 's'}"
        return f"{self.days} day{'' if self.days == 1 else 's'}"

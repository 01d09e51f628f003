"""Calendar months: "a window of N months ends on the same day of the month N months later (the
month's last day where that day does not exist)" (issue 25 item 8), checked against a hand table
and against python-dateutil's ``relativedelta(months=n)`` as the reference library."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta

from oligotrial.domain.kernel import Period, add_months

D = dt.date

# (start, months, expected): worked by hand from the calendar
HAND = [
    (D(2025, 1, 15), 1, D(2025, 2, 15)),    # same day of the month
    (D(2025, 1, 31), 1, D(2025, 2, 28)),    # 31 Feb does not exist: February's last day
    (D(2024, 1, 31), 1, D(2024, 2, 29)),    # leap year: 29 February
    (D(2024, 2, 29), 12, D(2025, 2, 28)),   # a leap day one year on
    (D(2023, 2, 28), 12, D(2024, 2, 28)),   # not moved to 29 Feb: the same day exists
    (D(2025, 3, 31), 1, D(2025, 4, 30)),
    (D(2025, 8, 31), 6, D(2026, 2, 28)),
    (D(2025, 11, 30), 3, D(2026, 2, 28)),
    (D(2025, 10, 15), 3, D(2026, 1, 15)),   # across the year
    (D(2025, 12, 31), 2, D(2026, 2, 28)),
    (D(2025, 3, 15), 3, D(2025, 6, 15)),    # "within 3 months": 15 March to 15 June (92 days)
    (D(2025, 5, 31), -3, D(2025, 2, 28)),   # counted back, same clamp
    (D(2024, 3, 31), -1, D(2024, 2, 29)),
    (D(2026, 1, 10), -2, D(2025, 11, 10)),  # back across the year
    (D(2025, 7, 4), 0, D(2025, 7, 4)),
]


@pytest.mark.parametrize(("start", "n", "expected"), HAND)
def test_add_months_hand_table(start, n, expected):
    assert add_months(start, n) == expected


def test_add_months_equals_dateutil_relativedelta_on_every_day_of_four_years():
    """Every day from 2023 to 2026 (a leap year inside), every shift from -25 to +25 months."""
    day = D(2023, 1, 1)
    while day <= D(2026, 12, 31):
        for n in range(-25, 26):
            assert add_months(day, n) == day + relativedelta(months=n), (day, n)
        day += dt.timedelta(days=1)


def test_add_months_refuses_a_fraction_of_a_month():
    with pytest.raises(TypeError, match="whole number of months"):
        add_months(D(2025, 1, 1), 1.5)


def test_month_period_has_no_fixed_day_count():
    """3 months is 89 days from 1 February 2025 and 92 from 1 July: not "90 days"."""
    three = Period(months=3)
    assert three.days_after(D(2025, 2, 1)) == 89     # to 1 May
    assert three.days_after(D(2025, 7, 1)) == 92     # to 1 October
    assert three.before(D(2025, 5, 31)) == D(2025, 2, 28)
    assert three.days_before(D(2025, 5, 31)) == 92
    assert str(three) == "3 months" and str(Period(months=1)) == "1 month"


def test_day_period_is_a_day_count():
    four_weeks = Period(days=28)
    assert four_weeks.after(D(2025, 1, 31)) == D(2025, 2, 28)
    assert four_weeks.before(D(2025, 3, 1)) == D(2025, 2, 1)
    assert four_weeks.days_after(D(2024, 2, 1)) == four_weeks.days_before(D(2024, 2, 1)) == 28
    assert str(four_weeks) == "28 days"


@pytest.mark.parametrize("kwargs", [{}, {"days": 3, "months": 1}, {"months": -1}, {"days": 1.5}])
def test_period_is_days_or_months(kwargs):
    with pytest.raises(ValueError, match="period"):
        Period(**kwargs)

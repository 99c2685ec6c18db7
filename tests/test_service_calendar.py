"""Public holidays and working-day arithmetic (bot.service.calendar)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.service.calendar import WorkCalendar, public_holidays
from bot.service.profile import load_profile


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(load_profile())


def easter(year: int) -> date:
    """Anonymous Gregorian algorithm, independent of the holidays library."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    return date(year, month, (h + l_ - 7 * m + 33 * month + 19) % 32)


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027, 2030, 2038, 2100])
def test_movable_holidays_follow_easter_in_any_year(year):
    days = set(public_holidays(year))
    e = easter(year)
    for offset in (-3, -2, 0, 1, 39, 49, 50):  # Maundy Thu, Good Fri, Easter, Ascension, Whitsun
        assert e + timedelta(days=offset) in days, (year, offset)
    for fixed in ((1, 1), (5, 1), (5, 17), (12, 25), (12, 26)):
        assert date(year, *fixed) in days


def test_easter_2027_closed_from_maundy_thursday_to_easter_monday(cal):
    assert cal.is_working_day(date(2027, 3, 24))
    for day in range(25, 30):
        assert not cal.is_working_day(date(2027, 3, day)), day
    assert cal.is_working_day(date(2027, 3, 30))


def test_holidays_and_profile_closed_days(cal):
    assert not cal.is_working_day(date(2027, 5, 17))        # Constitution Day (and Whit Monday 2027)
    assert not cal.is_working_day(date(2027, 5, 6))         # Ascension Day
    assert not cal.is_working_day(date(2026, 5, 25))        # Whit Monday 2026
    assert not cal.is_working_day(date(2026, 12, 24))       # closed day from the profile
    assert not cal.is_working_day(date(2026, 12, 31))       # closed day from the profile
    assert cal.is_working_day(date(2026, 12, 30))
    assert cal.closed_reason(date(2026, 12, 24)) == "julaftan"
    assert cal.closed_reason(date(2026, 12, 28)) is None    # an ordinary Monday


def test_weekend_is_not_a_working_day_but_not_a_closed_day(cal):
    saturday = date(2026, 11, 28)
    assert not cal.is_working_day(saturday)
    assert not cal.is_closed_day(saturday)


def test_add_working_days_skips_weekend_and_easter(cal):
    assert cal.add_working_days(date(2027, 3, 24), 3) == date(2027, 4, 1)
    assert cal.add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)   # Fri -> Mon
    assert cal.add_working_days(date(2026, 11, 27), 0) == date(2026, 11, 27)
    # Christmas 2026: 24 (closed), 25, 26 (Sat) and 31 (closed), 1 Jan; 28, 29, 30 Dec work
    assert cal.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 28)
    assert cal.add_working_days(date(2026, 12, 30), 1) == date(2027, 1, 4)


def test_working_days_between_counts_the_inverse(cal):
    start = date(2027, 3, 20)
    for n in range(0, 30):
        end = cal.add_working_days(start, n)
        assert cal.working_days_between(start, end) == n

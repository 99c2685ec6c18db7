"""Working days: Norwegian public holidays (the `holidays` library, any year, movable
Easter-based days included) plus the profile's own closed days, and working-day arithmetic.

Usage::

    cal = WorkCalendar(profile)
    cal.is_working_day(date(2027, 3, 25))          # False: Maundy Thursday
    cal.add_working_days(date(2027, 3, 24), 3)     # date(2027, 4, 1)
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from bot.service.profile import Profile

# Guard for searches that never find an open day (e.g. every day closed by mistake).
MAX_SEARCH_DAYS = 400


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    """Norwegian public holidays (helligdagar) of a year, date -> English name; Sundays
    are not listed unless they are holidays (Easter Sunday, Whit Sunday)."""
    return dict(holidays.country_holidays("NO", years=year))


class WorkCalendar:
    """Which days the municipality is closed, and working-day counting (Mon-Fri)."""

    def __init__(self, profile: Profile) -> None:
        self.closed_days = profile.closed_days

    def closed_reason(self, day: date) -> str | None:
        """Why the municipality is closed all day on `day` (holiday or closed day), else None.
        Weekends are not a reason here: opening hours decide about weekdays."""
        name = public_holidays(day.year).get(day)
        if name:
            return name
        for closed in self.closed_days:
            if closed.matches(day):
                return closed.note or "closed"
        return None

    def is_closed_day(self, day: date) -> bool:
        return self.closed_reason(day) is not None

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday and neither a public holiday nor a closed day."""
        return day.weekday() < 5 and not self.is_closed_day(day)

    def next_working_day(self, day: date, include_today: bool = False) -> date:
        """The first working day after `day` (or `day` itself with include_today)."""
        current = day if include_today else day + timedelta(days=1)
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_working_day(current):
                return current
            current += timedelta(days=1)
        raise ValueError(f"no working day within {MAX_SEARCH_DAYS} days after {day}; check closed_days")

    def add_working_days(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (`day` itself is not counted)."""
        if count < 0:
            raise ValueError("count must be zero or more")
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)
        return count

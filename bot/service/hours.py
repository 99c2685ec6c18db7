"""Opening hours in real time: is a schedule open at a moment, when does it close, when
does it next open. Moments are aware datetimes in the profile's time zone (summer time
included); naive datetimes are taken as local time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from bot.service.calendar import MAX_SEARCH_DAYS, WorkCalendar
from bot.service.profile import Profile, Schedule


def local(profile: Profile, at: datetime) -> datetime:
    """`at` in the profile's time zone; a naive datetime is taken as local time."""
    if at.tzinfo is None:
        return at.replace(tzinfo=profile.timezone)
    return at.astimezone(profile.timezone)


def shift(profile: Profile, at: datetime, delta: timedelta) -> datetime:
    """`at` + `delta` in elapsed time (correct across summer-time changes)."""
    return (local(profile, at).astimezone(timezone.utc) + delta).astimezone(profile.timezone)


def intervals_on(profile: Profile, schedule: Schedule, day: date,
                 calendar: WorkCalendar | None = None) -> list[tuple[datetime, datetime]]:
    """The open intervals [start, end) of `schedule` on `day`; none on holidays and closed days."""
    calendar = calendar or WorkCalendar(profile)
    if calendar.is_closed_day(day):
        return []
    tz = profile.timezone
    return [(datetime.combine(day, p.opens, tz), datetime.combine(day, p.closes, tz))
            for p in schedule.periods_on(day.weekday())]


def open_interval(profile: Profile, schedule: Schedule, at: datetime) -> tuple[datetime, datetime] | None:
    """The interval that contains `at` (open at opening time, closed at closing time), else None."""
    at = local(profile, at)
    for start, end in intervals_on(profile, schedule, at.date()):
        if start <= at < end:
            return start, end
    return None


def next_opening(profile: Profile, schedule: Schedule, at: datetime) -> datetime | None:
    """The earliest moment at or after `at` when `schedule` is open (`at` itself if open now);
    None if it does not open within MAX_SEARCH_DAYS."""
    at = local(profile, at)
    calendar = WorkCalendar(profile)
    for offset in range(MAX_SEARCH_DAYS):
        for start, end in intervals_on(profile, schedule, at.date() + timedelta(days=offset), calendar):
            if end > at:
                return max(start, at)
    return None


def closing_time(profile: Profile, schedule: Schedule, day: date) -> datetime | None:
    """When `schedule` last closes on `day`, or None if it is not open that day."""
    intervals = intervals_on(profile, schedule, day)
    return intervals[-1][1] if intervals else None

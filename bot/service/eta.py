"""Expected response time per channel: is a person available now, when is the next
opening, and by when the citizen gets an answer, with the sentence the bot says.

Usage::

    from bot.service.eta import availability
    a = availability(profile, "email", datetime(2027, 3, 24, 10, 0))
    a.expected_by   # 2027-04-01 15:00+02:00 (Easter 2027 skipped)
    a.text_nn       # "Du får svar innan torsdag 1. april."

Rules (the profile's `service_standard`):
- "when open" (phone): answered at once in opening hours, else at the next opening.
- minutes/hours (chat): from now when open; outside the hours the request becomes a
  case on the `after_hours` channel (or waits for the next opening if none is set).
- working days (e-mail, Messenger, meeting): counted from the day of the request, or
  from the next working day if the request comes after closing or on a day off; the
  answer is due at the closing time of the last working day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.handoff.clock import now as clock_now
from bot.service import hours
from bot.service.calendar import WorkCalendar
from bot.service.profile import ChannelStandard, Duration, Profile, Schedule
from bot.service.texts import Texts, clock, duration, relative_day, say, when

_ELAPSED_UNITS = {"minutes": "minutes", "hours": "hours"}


@dataclass(frozen=True)
class Availability:
    """What the bot can promise on one channel at one moment (datetimes in local time)."""

    channel: str
    available_now: bool
    next_open: datetime | None      # `at` itself when open now
    expected_by: datetime | None    # when the citizen has an answer (or is called back)
    text_nn: str
    text_nb: str
    closes_at: datetime | None = None  # end of the current opening, when open now

    def text(self, lang: str) -> str:
        """The sentence in the citizen's standard ("nn" or "nb")."""
        return Texts(self.text_nn, self.text_nb).get(lang)

    def to_json(self) -> dict:
        """The `eta --json` shape: ISO-8601 timestamps with offset."""
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {"channel": self.channel, "available_now": self.available_now,
                "next_open": iso(self.next_open), "expected_by": iso(self.expected_by),
                "text_nn": self.text_nn, "text_nb": self.text_nb}


def availability(profile: Profile, channel: str, at: datetime | None = None) -> Availability:
    """Availability of `channel` at `at` (default: now, from bot.handoff.clock so
    KOMMUNEBOT_NOW applies). ValueError for an unknown channel."""
    standard = profile.standard(channel)
    at = hours.local(profile, at or clock_now())
    schedule = profile.schedule(standard.hours)
    interval = hours.open_interval(profile, schedule, at)
    next_open = hours.next_opening(profile, schedule, at)
    expected_by = _expected_by(profile, standard, schedule, at, interval is not None, next_open)
    text = _text(profile, standard, at, interval, next_open, expected_by)
    return Availability(channel, interval is not None, next_open, expected_by, text.nn, text.nb,
                        interval[1] if interval else None)


def answer_deadline(profile: Profile, schedule: Schedule, at: datetime, working_days: int) -> datetime:
    """Closing time of the `working_days`-th working day after the day the request counts from."""
    calendar = WorkCalendar(profile)
    at = hours.local(profile, at)
    today_close = hours.closing_time(profile, schedule, at.date())
    counts_today = calendar.is_working_day(at.date()) and today_close is not None and at < today_close
    start = at.date() if counts_today else calendar.next_working_day(at.date())
    due = calendar.add_working_days(start, working_days)
    return hours.closing_time(profile, schedule, due) or datetime.combine(
        due, _usual_closing(schedule), profile.timezone)


def _usual_closing(schedule: Schedule):
    """The latest closing time of the schedule on any day (for days it is not open)."""
    return max((p.closes for p in schedule.periods), default=datetime.max.time())


def _expected_by(profile: Profile, standard: ChannelStandard, schedule: Schedule, at: datetime,
                 open_now: bool, next_open: datetime | None) -> datetime | None:
    promise: Duration = standard.answer_within
    if promise.unit == "working_days":
        return answer_deadline(profile, schedule, at, promise.amount)
    if promise.unit == "weeks":
        return hours.shift(profile, at, timedelta(weeks=promise.amount))
    if not open_now and standard.after_hours:
        return availability(profile, standard.after_hours, at).expected_by
    start = at if open_now else next_open
    if start is None:
        return None
    if promise.unit == "when_open":
        return start
    return hours.shift(profile, start, timedelta(**{_ELAPSED_UNITS[promise.unit]: promise.amount}))


def _deadline_text(expected_by: datetime, today, key: str = "answer_by_day") -> Texts:
    day = expected_by.date()
    if key == "answer_by_day" and (day - today).days in (0, 1):
        return say("answer_by_time", day=relative_day(day, today), time=clock(expected_by))
    return say(key, day=relative_day(day, today))


def _text(profile: Profile, standard: ChannelStandard, at: datetime,
          interval: tuple[datetime, datetime] | None, next_open: datetime | None,
          expected_by: datetime | None) -> Texts:
    today = at.date()
    channel, promise = standard.channel, standard.answer_within
    if promise.unit == "when_open":  # phone
        if interval:
            text = say("phone_open", close=clock(interval[1]), phone=profile.contact.phone)
        elif next_open:
            text = say("phone_closed", when=when(next_open, today), phone=profile.contact.phone)
        else:
            text = say("never_open")
        if standard.callback_within:
            text += say("phone_callback", duration=duration(standard.callback_within))
        return text
    if promise.unit in _ELAPSED_UNITS:  # chat
        if interval:
            return say("chat_open", duration=duration(promise))
        text = say("chat_closed", when=when(next_open, today)) if next_open else say("never_open")
        if standard.after_hours and expected_by:
            text += say("chat_leave_question") + _deadline_text(expected_by, today)
        return text
    if expected_by is None:
        return say("never_open")
    text = _deadline_text(expected_by, today, "meeting_by_day" if channel == "meeting" else "answer_by_day")
    if not standard.case_processing:
        text += say("no_case_processing")
    return text

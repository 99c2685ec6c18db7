"""Availability and promised answer times (bot.service.eta) for the Alver profile:
weekends, Easter 2027, 17 May, Ascension and Whitsun, Christmas, summer time, and
requests around opening and closing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.service.calendar import WorkCalendar
from bot.service.eta import availability
from bot.service.profile import load_profile

OSLO = ZoneInfo("Europe/Oslo")


@pytest.fixture(scope="module")
def profile():
    return load_profile()


def oslo(*args) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def test_email_before_easter_2027_skips_maundy_thursday_to_easter_monday(profile):
    a = availability(profile, "email", datetime(2027, 3, 24, 10, 0))
    assert a.expected_by == oslo(2027, 4, 1, 15, 0)
    assert a.text_nn == "Du får svar innan torsdag 1. april."
    assert a.text_nb == "Du får svar innen torsdag 1. april."


def test_request_after_closing_counts_from_next_working_day(profile):
    before = availability(profile, "email", datetime(2027, 3, 23, 14, 59))
    at_close = availability(profile, "email", datetime(2027, 3, 23, 15, 0))
    after = availability(profile, "email", datetime(2027, 3, 23, 15, 1))
    assert before.expected_by == oslo(2027, 3, 31, 15, 0)    # Tue + 3: Wed 24, Tue 30, Wed 31
    assert at_close.expected_by == after.expected_by == oslo(2027, 4, 1, 15, 0)
    assert before.available_now and not at_close.available_now


def test_exactly_at_opening_is_open_and_one_minute_before_is_not(profile):
    at_open = availability(profile, "chat", datetime(2026, 11, 24, 9, 0))
    before = availability(profile, "chat", datetime(2026, 11, 24, 8, 59))
    assert at_open.available_now and at_open.next_open == oslo(2026, 11, 24, 9, 0)
    assert at_open.expected_by == oslo(2026, 11, 24, 9, 5)
    assert at_open.text_nn == "Ein person svarar deg innan 5 minutt."
    assert at_open.text_nb == "En person svarer deg innen 5 minutter."
    assert not before.available_now and before.next_open == oslo(2026, 11, 24, 9, 0)
    # a morning request counts the same day: Tue + 3 working days
    early = availability(profile, "email", datetime(2026, 11, 24, 6, 0))
    assert early.expected_by == oslo(2026, 11, 27, 15, 0)


def test_friday_evening_and_weekend_wait_for_monday(profile):
    for at in (datetime(2026, 11, 27, 15, 30), datetime(2026, 11, 28, 12), datetime(2026, 11, 29, 23, 59)):
        phone = availability(profile, "phone", at)
        assert not phone.available_now
        assert phone.next_open == phone.expected_by == oslo(2026, 11, 30, 9, 0)
        sunday = at.weekday() == 6
        assert ("i morgon" if sunday else "måndag 30. november") + " kl. 09.00" in phone.text_nn
        assert ("i morgen" if sunday else "mandag 30. november") + " kl. 09.00" in phone.text_nb
        assert availability(profile, "messenger", at).expected_by == oslo(2026, 12, 1, 15, 0)


def test_closed_chat_offers_a_case_with_the_email_promise(profile):
    a = availability(profile, "chat", datetime(2026, 11, 27, 16, 0))
    assert not a.available_now
    assert a.next_open == oslo(2026, 11, 30, 9, 0)
    assert a.expected_by == availability(profile, "email", datetime(2026, 11, 27, 16, 0)).expected_by
    assert a.text_nn.startswith("Chatten er stengd no og opnar igjen måndag 30. november kl. 09.00.")
    assert a.text_nb.startswith("Chatten er stengt nå og åpner igjen mandag 30. november kl. 09.00.")


def test_tomorrow_and_today_are_said_as_words(profile):
    a = availability(profile, "phone", datetime(2026, 11, 24, 18, 0))
    assert "i morgon kl. 09.00" in a.text_nn and "i morgen kl. 09.00" in a.text_nb
    m = availability(profile, "messenger", datetime(2026, 11, 24, 10, 0))  # due Wed 15:00
    assert m.text_nn.startswith("Du får svar i morgon, innan kl. 15.00.")
    assert m.text_nb.startswith("Du får svar i morgen, innen kl. 15.00.")


def test_17_may_and_whit_monday_2027_coincide(profile):
    # Fri 14 May 2027; 16 (Whit Sunday) and 17 May (Whit Monday, Constitution Day) closed
    a = availability(profile, "messenger", datetime(2027, 5, 14, 16, 0))
    assert a.next_open == oslo(2027, 5, 18, 9, 0)
    assert a.expected_by == oslo(2027, 5, 19, 15, 0)
    assert "onsdag 19. mai" in a.text_nn


def test_ascension_day_2026_and_17_may_2026(profile):
    # Wed 13 May 2026 + 3: Thu 14 (Ascension) closed -> Fri 15, Mon 18 (17 May is a Sunday), Tue 19
    a = availability(profile, "email", datetime(2026, 5, 13, 11))
    assert a.expected_by == oslo(2026, 5, 19, 15)
    # Whit Monday 25 May 2026 is closed
    b = availability(profile, "phone", datetime(2026, 5, 22, 15, 30))
    assert b.next_open == oslo(2026, 5, 26, 9, 0)


def test_christmas_and_new_year_with_closed_days(profile):
    a = availability(profile, "email", datetime(2026, 12, 23, 12))
    # 24 (closed), 25, 26/27 (weekend) -> 28, 29, 30
    assert a.expected_by == oslo(2026, 12, 30, 15)
    b = availability(profile, "email", datetime(2026, 12, 30, 15, 30))
    # counts from Mon 4 Jan 2027 (31 Dec closed, 1 Jan holiday) -> 5, 6, 7 Jan
    assert b.expected_by == oslo(2027, 1, 7, 15)
    assert "torsdag 7. januar 2027" in b.text_nn and "torsdag 7. januar 2027" in b.text_nb
    c = availability(profile, "phone", datetime(2026, 12, 24, 10))
    assert not c.available_now and c.next_open == oslo(2026, 12, 28, 9)


def test_summer_time_ends_last_sunday_of_october(profile):
    # Fri 29 Oct 2027 16:00 CEST (+02:00); next opening Mon 1 Nov 09:00 CET (+01:00)
    a = availability(profile, "phone", datetime(2027, 10, 29, 14, 0, tzinfo=timezone.utc))
    assert not a.available_now
    assert a.next_open == oslo(2027, 11, 1, 9, 0)
    assert a.next_open.utcoffset() == timedelta(hours=1)
    e = availability(profile, "email", datetime(2027, 10, 29, 14, 0, tzinfo=timezone.utc))
    assert e.expected_by.isoformat() == "2027-11-04T15:00:00+01:00"


def test_summer_time_starts_last_sunday_of_march(profile):
    # Sun 29 March 2026 02:00 -> 03:00. 07:30 UTC is 08:30 on Friday (CET) but 09:30 on Monday (CEST).
    friday = availability(profile, "chat", datetime(2026, 3, 27, 7, 30, tzinfo=timezone.utc))
    monday = availability(profile, "chat", datetime(2026, 3, 30, 7, 30, tzinfo=timezone.utc))
    assert not friday.available_now and monday.available_now
    assert monday.next_open.isoformat() == "2026-03-30T09:30:00+02:00"
    assert monday.expected_by.isoformat() == "2026-03-30T09:35:00+02:00"
    sunday = availability(profile, "phone", datetime(2026, 3, 29, 2, 30))  # a time that does not exist
    assert sunday.next_open == oslo(2026, 3, 30, 9, 0)


def test_aware_input_in_another_zone_is_converted(profile):
    utc = availability(profile, "email", datetime(2027, 3, 24, 9, 0, tzinfo=timezone.utc))  # 10:00 Oslo
    naive = availability(profile, "email", datetime(2027, 3, 24, 10, 0))
    assert utc.expected_by == naive.expected_by and utc.available_now == naive.available_now


def test_meeting_is_offered_within_five_working_days(profile):
    a = availability(profile, "meeting", datetime(2027, 3, 24, 10))
    assert a.expected_by == oslo(2027, 4, 5, 15)   # 30, 31 Mar, 1, 2, 5 Apr
    assert a.text_nn == "Du får tilbod om eit møte innan måndag 5. april."
    assert a.text_nb == "Du får tilbud om et møte innen mandag 5. april."


def test_weekday_names_differ_between_standards(profile):
    a = availability(profile, "phone", datetime(2026, 11, 27, 16))   # Fri -> Mon
    assert "måndag" in a.text_nn and "mandag" in a.text_nb
    b = availability(profile, "email", datetime(2026, 11, 25, 12))   # Wed + 3 -> Mon
    assert "måndag 30. november" in b.text_nn and "mandag 30. november" in b.text_nb


def test_unknown_channel_is_a_clear_error(profile):
    with pytest.raises(ValueError, match="unknown channel 'fax'.*chat"):
        availability(profile, "fax", datetime(2027, 1, 5, 10))


def test_json_shape(profile):
    data = availability(profile, "chat", datetime(2027, 3, 24, 10)).to_json()
    assert list(data) == ["channel", "available_now", "next_open", "expected_by", "text_nn", "text_nb"]
    assert data["next_open"] == "2027-03-24T10:00:00+01:00"



@settings(max_examples=300, deadline=None)
@given(at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 12, 31)),
       channel=st.sampled_from(["chat", "phone", "email", "messenger", "meeting"]),
       aware=st.booleans())
def test_availability_properties(at, channel, aware):
    profile = load_profile()
    if aware:
        at = at.replace(tzinfo=timezone.utc)
    a = availability(profile, channel, at)
    local = at.astimezone(OSLO) if aware else at.replace(tzinfo=OSLO)
    assert a.next_open >= local and a.expected_by >= local
    assert a.available_now == (a.next_open == local)
    assert a.next_open.hour >= 9 and a.next_open.hour < 15
    assert WorkCalendar(profile).is_working_day(a.expected_by.date())
    assert a.text_nn and a.text_nb and a.text_nn != a.text_nb

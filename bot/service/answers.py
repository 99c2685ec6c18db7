"""Answers the dialogue gives about the municipality's services, in Nynorsk and Bokmål:
is it open now, the service desks, contact information, the best time to call,
emergency numbers and other authorities' services.

    from bot.service.answers import open_now
    open_now(profile).get("nn")     # now; or open_now(profile, at)
"""

from __future__ import annotations

from datetime import datetime

from bot.handoff.clock import now as clock_now
from bot.service import hours
from bot.service.calendar import WorkCalendar
from bot.service.profile import BusyTimes, Profile, Schedule
from bot.service.texts import (
    Texts,
    clock,
    duration,
    full_date,
    hour_span,
    join_words,
    lines,
    say,
    schedule_text,
    weekday_plurals,
    when,
)


def open_now(profile: Profile, at: datetime | None = None) -> Texts:
    """"Is it open now?": the time now, then phone, chat and each desk: open until when,
    or closed and when it opens next."""
    at = hours.local(profile, at or clock_now())
    today = at.date()
    answer = [say("clock_now", time=clock(at), day=Texts(full_date(today, "nn"), full_date(today, "nb")))]
    if WorkCalendar(profile).is_closed_day(today):
        answer.append(say("closed_today"))
    for name, open_key, closed_key in (("phone", "phone_is_open", "phone_is_closed"),
                                       ("chat", "chat_is_open", "chat_closed")):
        if name in profile.opening_hours:
            answer.append(_status(profile, profile.opening_hours[name], at, open_key, closed_key,
                                  phone=profile.contact.phone))
    for desk in profile.service_desks:
        answer.append(_status(profile, desk.hours, at, "desk_is_open", "desk_is_closed", desk=desk.display,
                              never_key="desk_never_open"))
    return lines(*answer)


def _status(profile: Profile, schedule: Schedule, at: datetime, open_key: str, closed_key: str,
            never_key: str = "never_open", **values: object) -> Texts:
    interval = hours.open_interval(profile, schedule, at)
    if interval:
        return say(open_key, close=clock(interval[1]), **values)
    nxt = hours.next_opening(profile, schedule, at)
    return say(closed_key, when=when(nxt, at.date()), **values) if nxt else say(never_key, **values)


def desk_list(profile: Profile) -> Texts:
    """The service desks with address, weekdays and hours, one per line."""
    rows = [say("desks_intro" if len(profile.service_desks) > 1 else "desk_intro")]
    rows += [say("desk_line", desk=desk.display, address=desk.address, when=schedule_text(desk.hours))
             for desk in profile.service_desks]
    return lines(*rows)


def contact_info(profile: Profile) -> Texts:
    """Phone with its hours, e-mail, contact form, Min side, postal address, website."""
    c = profile.contact
    phone_hours = schedule_text(profile.opening_hours["phone"]) if "phone" in profile.opening_hours else None
    phone = say("contact_phone", phone=c.phone, hours=phone_hours) if phone_hours else \
        say("contact_phone_plain", phone=c.phone)
    return lines(say("contact_intro", name=profile.name), phone, say("contact_email", email=c.email),
                 say("contact_form", url=c.contact_form), say("contact_min_side", url=c.min_side),
                 say("contact_post", address=c.postal_address), say("contact_website", url=c.website))


def best_time_to_call(profile: Profile) -> Texts:
    """When the phone queue is shortest and longest (from the profile's busy times)."""
    busy: BusyTimes = profile.busy_phone
    if not busy.quiet or not busy.peak:
        return say("best_time_unknown")
    return say("best_time_to_call", quiet=_spans(busy.quiet), peak=_spans(busy.peak))


def _spans(ranges) -> Texts:
    return join_words([f"kl. {hour_span(*r)}" for r in ranges])


def best_time_to_visit(profile: Profile, desk: str) -> Texts:
    """When a service desk is busiest (hours and weekdays), from the profile's busy times."""
    found = profile.desk(desk)
    name = found.name
    busy = profile.busy_desks.get(name)
    if busy is None or not busy.peak:
        return say("best_time_unknown")
    text = say("desk_busy", desk=found.display, peak=_spans(busy.peak))
    if busy.busiest_days:
        text += say("desk_busy_days", days=weekday_plurals(list(busy.busiest_days)))
    return text


def building_deadlines(profile: Profile) -> Texts:
    """The statutory processing times of building applications (case_deadlines
    building_simple and building); ValueError if the profile lacks them."""
    try:
        simple, other = profile.case_deadlines["building_simple"], profile.case_deadlines["building"]
    except KeyError:
        raise ValueError(f"{profile.source}: case_deadlines needs building_simple and building") from None
    return say("building_deadlines", simple=duration(simple), other=duration(other))


def emergency_numbers(profile: Profile) -> Texts:
    """The emergency and out-of-hours numbers, one per line."""
    rows = [say("emergency_intro")]
    rows += [say("emergency_line", number=e.number, label=Texts(e.label["nn"], e.label["nb"]))
             for e in profile.emergency_numbers]
    return lines(*rows)


def other_authority(profile: Profile, key: str) -> Texts:
    """Whose service it is and the way there, e.g. key "skatteetaten"; ValueError if unknown."""
    for authority in profile.other_authorities:
        if authority.key == key:
            phone = say("or_call", phone=authority.phone) if authority.phone else Texts("", "")
            return say("other_authority", authority=authority.name, municipality=profile.name,
                       handles=Texts(authority.handles["nn"], authority.handles["nb"]),
                       url=authority.url, phone_part=phone)
    known = ", ".join(a.key for a in profile.other_authorities)
    raise ValueError(f"unknown authority {key!r}; known: {known}")

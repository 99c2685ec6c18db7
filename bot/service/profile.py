"""A municipality profile (`municipalities/<slug>.yml`): typed, validated at load.

Usage::

    from bot.service.profile import load_profile
    profile = load_profile()              # the default municipality (bot.service.municipalities)
    profile = load_profile("municipalities/alver.yml")
    profile.slug                          # "alver" (from the file name)
    profile.contact.phone                 # "56 37 50 00"
    profile.standard("email").answer_within  # Duration(amount=3, unit="working_days")

Every problem in the file is reported at once, each line naming the file, the field and
what to write instead (`ProfileError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.insight.costs import parse as parse_contact_costs

CHANNELS = ("chat", "phone", "email", "contact_form", "letter", "messenger", "meeting")
REQUIRED_CHANNELS = ("chat", "phone", "email", "messenger", "meeting")
LANGUAGES = ("nn", "nb")
DESKS_HOURS = "desks"  # special `hours` name: any service desk open
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ALIASES = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    **{name: i for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    **{name: i for i, name in enumerate(
        ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "sundag"))},
    **{name: i for i, name in enumerate(
        ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"))},
}
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PREFIX = re.compile(r"^[A-ZÆØÅ]{2,5}$")
# The service that answers citizens when the profile does not name it.
DEFAULT_SERVICE_NAME = {"nn": "kommunen", "nb": "kommunen"}
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")
_DURATION = re.compile(
    r"^(\d+)\s*(minutes?|minutt(?:ar|er)?|hours?|working[ _]days?|weeks?)$", re.IGNORECASE
)
WHEN_OPEN = "when open"


class ProfileError(ValueError):
    """The municipality profile is missing or invalid; the message lists every problem."""


@dataclass(frozen=True)
class Period:
    """Open from `opens` to `closes` (exclusive) on the given weekdays (0 = Monday)."""

    days: frozenset[int]
    opens: time
    closes: time


@dataclass(frozen=True)
class Schedule:
    """Weekly opening hours; public holidays and closed days are applied by the calendar."""

    name: str
    periods: tuple[Period, ...]

    def periods_on(self, weekday: int) -> list[Period]:
        """Periods open on a weekday, earliest first."""
        return sorted((p for p in self.periods if weekday in p.days), key=lambda p: p.opens)

    @property
    def weekdays(self) -> list[int]:
        return sorted({d for p in self.periods for d in p.days})


@dataclass(frozen=True)
class Duration:
    """A promised time: unit is "minutes", "hours", "working_days", "weeks" or "when_open"."""

    amount: int
    unit: str


@dataclass(frozen=True)
class ChannelStandard:
    """The service standard of one channel."""

    channel: str
    hours: str
    answer_within: Duration
    callback_within: Duration | None = None
    after_hours: str | None = None
    case_processing: bool = True


@dataclass(frozen=True)
class ServiceDesk:
    name: str
    place: str
    address: str
    hours: Schedule
    title: str = ""  # how sentences name the desk ("Servicetorget i Knarvik"); default: the name

    @property
    def display(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class ClosedDay:
    """A day closed on top of public holidays; `year` None = every year."""

    month: int
    day: int
    year: int | None
    note: str

    def matches(self, day: date) -> bool:
        return (day.month, day.day) == (self.month, self.day) and self.year in (None, day.year)


@dataclass(frozen=True)
class Contact:
    phone: str
    email: str
    postal_address: str
    website: str
    contact_form: str
    min_side: str


@dataclass(frozen=True)
class BusyTimes:
    """Peak and quiet hours as (start, end) pairs, and the busiest weekdays."""

    peak: tuple[tuple[time, time], ...] = ()
    quiet: tuple[tuple[time, time], ...] = ()
    busiest_days: tuple[int, ...] = ()


@dataclass(frozen=True)
class EmergencyNumber:
    number: str
    label: dict[str, str]


@dataclass(frozen=True)
class Authority:
    key: str
    name: str
    handles: dict[str, str]
    url: str
    phone: str


@dataclass(frozen=True)
class Retention:
    """How many days conversations (tracker events) and closed cases are kept."""

    conversations_days: int = 30
    closed_cases_days: int = 90


@dataclass(frozen=True)
class LiveChatRules:
    """How the live chat queue behaves around closing time and absent citizens
    (section `live_chat`; owned by the handoff, bot/handoff)."""

    queue_closes_before: int = 15     # minutes before chat closes: no new chats in the queue
    citizen_gone_after: int = 3       # minutes disconnected: the citizen has left the chat
    idle_after: int = 15              # minutes without an answer from the citizen: the chat ends


@dataclass(frozen=True)
class Profile:
    """Everything municipality-specific the service answers need."""

    source: Path
    name: str
    number: str
    written_standard: str
    default_language: str
    timezone: ZoneInfo
    contact: Contact
    opening_hours: dict[str, Schedule]
    service_desks: tuple[ServiceDesk, ...]
    closed_days: tuple[ClosedDay, ...]
    service_standard: dict[str, ChannelStandard]
    case_deadlines: dict[str, Duration] = field(default_factory=dict)
    busy_phone: BusyTimes = BusyTimes()
    busy_desks: dict[str, BusyTimes] = field(default_factory=dict)
    emergency_numbers: tuple[EmergencyNumber, ...] = ()
    other_authorities: tuple[Authority, ...] = ()
    retention: Retention = Retention()
    # Cost per contact and channel, for "what the bot saves" (bot.insight.costs); None: defaults.
    contact_costs: Any = None
    # The municipality's id in URLs, metadata and folders (`municipalities/<slug>.yml`).
    slug: str = ""
    reference_prefix: str = ""   # case references: ALV-2026-000001
    service_name: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SERVICE_NAME))
    messenger_page_ids: tuple[str, ...] = ()
    live_chat: LiveChatRules = LiveChatRules()

    @property
    def channels(self) -> list[str]:
        return list(self.service_standard)

    def standard(self, channel: str) -> ChannelStandard:
        """The service standard of `channel`; ValueError names the known channels."""
        try:
            return self.service_standard[channel]
        except KeyError:
            known = ", ".join(self.service_standard)
            raise ValueError(f"unknown channel {channel!r}; choose one of: {known}") from None

    def schedule(self, name: str) -> Schedule:
        """Opening hours by name; "desks" is the union of all service desks."""
        if name == DESKS_HOURS:
            return Schedule(DESKS_HOURS, tuple(p for d in self.service_desks for p in d.hours.periods))
        return self.opening_hours[name]

    def desk(self, name: str) -> ServiceDesk:
        for desk in self.service_desks:
            if desk.name.lower() == name.lower():
                return desk
        raise ValueError(f"unknown service desk {name!r}; known: {', '.join(d.name for d in self.service_desks)}")


def load_profile(path: str | Path | None = None, slug: str | None = None) -> Profile:
    """Read and validate one profile file; without `path`, the default municipality's
    profile (`bot.service.municipalities.registry().default`). `slug` defaults to the
    file name (`alver.yml` -> "alver")."""
    if path is None:
        from bot.service.municipalities import registry

        return registry().default
    path = Path(path)
    if not path.is_file():
        raise ProfileError(
            f"{path}: municipality profile not found; create it (`bin/kommunebot municipality add SLUG` "
            "writes municipalities/SLUG.yml, see municipalities/alver.yml for an example) or set "
            "KOMMUNEBOT_MUNICIPALITY_FILE to its path"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    return parse_profile(data, source=path, slug=slug)


def slug_for(path: Path, name: str = "") -> str:
    """The slug of a profile file: its name (`ullensaker.yml` -> "ullensaker"); a file with a
    generic name (`municipality.yml`) takes it from the municipality's name."""
    stem = path.stem.lower()
    if SLUG.match(stem) and stem not in ("municipality", "profile", "kommune"):
        return stem
    first = (name.split() or ["kommune"])[0].lower()
    for old, new in (("æ", "ae"), ("ø", "o"), ("å", "a"), ("á", "a"), ("é", "e")):
        first = first.replace(old, new)
    return re.sub(r"[^a-z0-9]+", "-", first).strip("-") or "kommune"


def default_reference_prefix(name: str) -> str:
    """Three letters from the municipality's name ("Alver kommune" -> "ALV")."""
    letters = re.sub(r"[^A-Za-zÆØÅæøå]", "", name.split()[0] if name.split() else "")
    return (letters[:3] or "KOM").upper()


def parse_profile(data: Any, source: Path = Path("<profile>"), slug: str | None = None) -> Profile:
    """Validate already-parsed YAML data; raise ProfileError listing every problem."""
    v = _Validator(source)
    if not isinstance(data, dict):
        raise ProfileError(f"{source}: the profile must be a mapping of fields (name: ..., contact: ...)")
    profile = v.profile(data, slug)
    if v.errors:
        raise ProfileError(
            f"{source}: {len(v.errors)} problem(s) in the municipality profile:\n"
            + "\n".join(f"  - {e}" for e in v.errors)
        )
    return profile


class _Validator:
    """Walks the YAML data, converting values and collecting errors with field paths."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    # -- primitives -------------------------------------------------------------------
    def get(self, data: dict, key: str, where: str, required: bool = True) -> Any:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None and required:
            self.error(f"{where}{key}", "missing; add this field")
        return value

    def text(self, data: dict, key: str, where: str, required: bool = True) -> str:
        value = self.get(data, key, where, required)
        if value is None:
            return ""
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.error(f"{where}{key}", f"expected text, got {type(value).__name__}; write it in quotes")
            return ""
        value = str(value).strip()
        if required and not value:
            self.error(f"{where}{key}", "is empty; fill it in")
        return value

    def time_of_day(self, value: Any, where: str) -> time | None:
        if isinstance(value, int) and not isinstance(value, bool):
            hours, minutes = divmod(value, 60)
            self.error(where, f'got the number {value}; YAML reads an unquoted time as a number, '
                              f'write it in quotes, e.g. "{hours:02d}:{minutes:02d}"')
            return None
        match = _TIME.match(str(value).strip()) if isinstance(value, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            self.error(where, f'{value!r} is not a time; write "HH:MM" from "00:00" to "23:59", e.g. "15:00"')
            return None
        return time(int(match[1]), int(match[2]))

    def weekdays(self, value: Any, where: str) -> frozenset[int]:
        if not isinstance(value, list) or not value:
            self.error(where, "write a list of weekdays, e.g. [mon, tue, wed, thu, fri]")
            return frozenset()
        days = set()
        for i, item in enumerate(value):
            day = _WEEKDAY_ALIASES.get(str(item).strip().lower())
            if day is None:
                self.error(f"{where}[{i}]", f"unknown weekday {item!r}; use one of {', '.join(WEEKDAYS)}")
            else:
                days.add(day)
        return frozenset(days)

    def duration(self, value: Any, where: str, allow_when_open: bool = False) -> Duration | None:
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if allow_when_open and text == WHEN_OPEN:
            return Duration(0, "when_open")
        match = _DURATION.match(text)
        if not match:
            hint = '"when open", ' if allow_when_open else ""
            self.error(where, f'{value!r} is not a duration; write {hint}"N minutes", "N hours", '
                              '"N working days" or "N weeks", e.g. "3 working days"')
            return None
        unit = match[2].lower()
        unit = ("minutes" if unit.startswith("minut") else "hours" if unit.startswith("hour")
                else "weeks" if unit.startswith("week") else "working_days")
        return Duration(int(match[1]), unit)

    def hour_range(self, value: Any, where: str) -> tuple[time, time] | None:
        parts = str(value).split("-") if isinstance(value, str) else []
        if len(parts) != 2:
            self.error(where, f'{value!r} is not a range of hours; write "HH:MM-HH:MM", e.g. "10:00-11:00"')
            return None
        start, end = self.time_of_day(parts[0].strip(), where), self.time_of_day(parts[1].strip(), where)
        if start and end and end <= start:
            self.error(where, f"{value!r} ends before it starts")
            return None
        return (start, end) if start and end else None

    def known_keys(self, item: dict, allowed: tuple[str, ...], where: str) -> None:
        """Report misspelt optional fields instead of silently ignoring them."""
        for key in item:
            if key not in allowed:
                self.error(f"{where}.{key}", f"unknown field; known fields here: {', '.join(allowed)}")

    def mapping(self, value: Any, where: str) -> dict:
        if value is not None and not isinstance(value, dict):
            self.error(where, "expected named entries (key: value)")
        return value if isinstance(value, dict) else {}

    def mappings(self, value: Any, where: str) -> list[tuple[str, dict]]:
        """(path, entry) for each entry of a list of mappings; other entries are errors."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(where, "expected a list (lines starting with -)")
            return []
        result = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                result.append((f"{where}[{i}]", item))
            else:
                self.error(f"{where}[{i}]", "expected fields (key: value), got a single value")
        return result

    # -- composite fields -------------------------------------------------------------
    def schedule(self, name: str, value: Any, where: str) -> Schedule:
        if not isinstance(value, list) or not value:
            self.error(where, 'write a list of periods, e.g. - {days: [mon, tue], open: "09:00", close: "15:00"}')
            return Schedule(name, ())
        periods = []
        for i, item in enumerate(value):
            at = f"{where}[{i}]"
            if not isinstance(item, dict):
                self.error(at, 'write days, open and close, e.g. {days: [mon], open: "09:00", close: "15:00"}')
                continue
            self.known_keys(item, ("days", "open", "close"), at)
            raw_days, raw_open, raw_close = (self.get(item, key, f"{at}.") for key in ("days", "open", "close"))
            days = self.weekdays(raw_days, f"{at}.days") if raw_days is not None else frozenset()
            opens = self.time_of_day(raw_open, f"{at}.open") if raw_open is not None else None
            closes = self.time_of_day(raw_close, f"{at}.close") if raw_close is not None else None
            if isinstance(opens, time) and isinstance(closes, time) and closes <= opens:
                self.error(f"{at}.close", f"closes at {closes:%H:%M}, not after it opens at {opens:%H:%M}; "
                                          "write a closing time later than the opening time")
                continue
            if days and isinstance(opens, time) and isinstance(closes, time):
                periods.append(Period(days, opens, closes))
        return Schedule(name, tuple(periods))

    def contact(self, data: Any) -> Contact:
        data = data if isinstance(data, dict) else {}
        fields = ("phone", "email", "postal_address", "website", "contact_form", "min_side")
        self.known_keys(data, fields, "contact")
        contact = Contact(*(self.text(data, key, "contact.") for key in fields))
        if contact.email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact.email):
            self.error("contact.email", f"{contact.email!r} is not an e-mail address; write e.g. post@kommune.no")
        for key in ("website", "contact_form", "min_side"):
            value = getattr(contact, key)
            if value and not value.startswith(("https://", "http://")):
                self.error(f"contact.{key}", f"{value!r} is not a web address; write it with https://")
        return contact

    def retention(self, value: Any) -> Retention:
        data = self.mapping(value, "retention")
        self.known_keys(data, ("conversations_days", "closed_cases_days"), "retention")
        days = {}
        for key in ("conversations_days", "closed_cases_days"):
            raw = data.get(key, getattr(Retention, key))
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
                self.error(f"retention.{key}", f"{raw!r} is not a number of days; write a whole number, e.g. 30")
                raw = getattr(Retention, key)
            days[key] = raw
        return Retention(**days)

    def municipality_number(self, data: dict) -> str:
        value = self.text(data, "number", "")
        if value and not re.fullmatch(r"\d{4}", value):
            self.error("number", f"{value!r} is not a municipality number; write the four digits in quotes, "
                                 'e.g. "4631"')
        return value

    def language(self, data: dict, key: str) -> str:
        value = self.text(data, key, "")
        if value and value not in LANGUAGES:
            self.error(key, f"{value!r} is not a written standard; write nn (Nynorsk) or nb (Bokmål)")
        return value

    def timezone(self, data: dict) -> ZoneInfo:
        name = self.text(data, "timezone", "", required=False) or "Europe/Oslo"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error("timezone", f"unknown time zone {name!r}; write e.g. Europe/Oslo")
            return ZoneInfo("Europe/Oslo")

    def closed_days(self, value: Any) -> tuple[ClosedDay, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error("closed_days", 'write a list, e.g. - {date: "12-24", note: julaftan}')
            return ()
        days = []
        for i, item in enumerate(value):
            where = f"closed_days[{i}]"
            raw = item.get("date") if isinstance(item, dict) else item
            if isinstance(raw, date):  # unquoted YYYY-MM-DD
                days.append(ClosedDay(raw.month, raw.day, raw.year, _note(item)))
                continue
            match = re.match(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$", str(raw).strip()) if raw is not None else None
            try:
                if not match:
                    raise ValueError
                year = int(match[1]) if match[1] else None
                date(year or 2024, int(match[2]), int(match[3]))  # 2024: a leap year allows 02-29
            except ValueError:
                self.error(f"{where}.date", f'{raw!r} is not a date; write "MM-DD" (every year) or "YYYY-MM-DD"')
                continue
            days.append(ClosedDay(int(match[2]), int(match[3]), year, _note(item)))
        return tuple(days)

    def service_standard(self, value: Any, schedules: dict[str, Schedule]) -> dict[str, ChannelStandard]:
        if not isinstance(value, dict):
            self.error("service_standard", "missing; add the promised answer time per channel")
            return {}
        result = {}
        for channel, item in value.items():
            where = f"service_standard.{channel}"
            if channel not in CHANNELS:
                self.error(where, f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
                continue
            if not isinstance(item, dict):
                self.error(where, 'write hours and answer_within, e.g. {hours: office, answer_within: 3 working days}')
                continue
            self.known_keys(item, ("hours", "answer_within", "callback_within", "after_hours", "case_processing"),
                            where)
            hours = self.text(item, "hours", f"{where}.")
            if hours and hours != DESKS_HOURS and hours not in schedules:
                names = ", ".join([*schedules, DESKS_HOURS])
                self.error(f"{where}.hours", f"no opening hours named {hours!r}; use one of {names}")
            answer = self.get(item, "answer_within", f"{where}.")
            if answer is not None:
                answer = self.duration(answer, f"{where}.answer_within", allow_when_open=True)
            callback = item.get("callback_within")
            callback = self.duration(callback, f"{where}.callback_within") if callback is not None else None
            after = item.get("after_hours")
            if after is not None and after not in value:
                self.error(f"{where}.after_hours", f"{after!r} is not a channel of service_standard; "
                                                   f"use one of {', '.join(value)}")
            elif after is not None and (after == channel or (value.get(after) or {}).get("after_hours")):
                self.error(f"{where}.after_hours", f"{after!r} must be a channel without after_hours of its own, "
                                                   "e.g. email")
            processing = item.get("case_processing", True)
            if not isinstance(processing, bool):
                self.error(f"{where}.case_processing", "write true or false")
            if answer:
                result[channel] = ChannelStandard(channel, hours, answer, callback, after, processing is not False)
        for channel in REQUIRED_CHANNELS:
            if channel not in value:
                self.error(f"service_standard.{channel}", "missing; every deployment needs chat, phone, email, "
                                                          "messenger and meeting")
        return result

    def busy(self, value: Any, where: str) -> BusyTimes:
        if not isinstance(value, dict):
            self.error(where, 'write peak: ["10:00-11:00"] (and optionally quiet, busiest_days)')
            return BusyTimes()
        ranges = {}
        for key in ("peak", "quiet"):
            items = value.get(key) or []
            if not isinstance(items, list):
                self.error(f"{where}.{key}", 'write a list, e.g. ["10:00-11:00"]')
                items = []
            ranges[key] = tuple(r for i, x in enumerate(items) if (r := self.hour_range(x, f"{where}.{key}[{i}]")))
        days = self.weekdays(value["busiest_days"], f"{where}.busiest_days") if value.get("busiest_days") else ()
        return BusyTimes(ranges["peak"], ranges["quiet"], tuple(sorted(days)))

    def labelled(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            self.error(where, "write the text in both standards: {nn: ..., nb: ...}")
            return {}
        return {lang: self.text(value, lang, f"{where}.") for lang in LANGUAGES}

    # -- the whole profile ------------------------------------------------------------
    def reference_prefix(self, data: dict, name: str) -> str:
        value = data.get("reference_prefix")
        if value is None:
            return default_reference_prefix(name)
        value = str(value).strip()
        if not _PREFIX.match(value):
            self.error("reference_prefix", f"{value!r} is not a case reference prefix; write 2-5 capital letters, "
                                           "e.g. ALV (case references look like ALV-2026-000001)")
            return default_reference_prefix(name)
        return value

    def service_name(self, data: dict) -> dict[str, str]:
        value = data.get("service_name")
        if value is None:
            return dict(DEFAULT_SERVICE_NAME)
        if not isinstance(value, dict):
            self.error("service_name", "write the name of the citizen service in both standards, "
                                       "e.g. {nn: innbyggjarservice, nb: innbyggerservice}")
            return dict(DEFAULT_SERVICE_NAME)
        self.known_keys(value, LANGUAGES, "service_name")
        return {lang: self.text(value, lang, "service_name.") for lang in LANGUAGES}

    def page_ids(self, data: dict) -> tuple[str, ...]:
        value = data.get("messenger_page_ids")
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        ids = []
        for i, item in enumerate(items):
            text = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else ""
            if not text.isdigit():
                self.error(f"messenger_page_ids[{i}]", f"{item!r} is not a Facebook page id; write the page's "
                                                       'numeric id in quotes, e.g. ["104xxxxxxxxxxxx"]')
            else:
                ids.append(text)
        return tuple(ids)

    def profile(self, data: dict, slug: str | None = None) -> Profile:
        for key in data:
            if key not in _TOP_LEVEL:
                self.error(str(key), f"unknown field; known fields: {', '.join(_TOP_LEVEL)}")
        hours_data = self.get(data, "opening_hours", "")
        schedules = {}
        if hours_data is not None and not isinstance(hours_data, dict):
            self.error("opening_hours", "write named opening hours, e.g. phone: [...], chat: [...], office: [...]")
        elif hours_data:
            schedules = {name: self.schedule(name, v, f"opening_hours.{name}") for name, v in hours_data.items()}
        desks = []
        for where, item in self.mappings(data.get("service_desks"), "service_desks"):
            self.known_keys(item, ("name", "title", "place", "address", "hours"), where)
            name = self.text(item, "name", f"{where}.")
            hours = self.get(item, "hours", f"{where}.")
            desks.append(ServiceDesk(name, self.text(item, "place", f"{where}.", required=False),
                                     self.text(item, "address", f"{where}."),
                                     self.schedule(name, hours, f"{where}.hours") if hours is not None
                                     else Schedule(name, ()),
                                     self.text(item, "title", f"{where}.", required=False)))
        if data.get("service_desks") is None:
            self.error("service_desks", "missing; list the service desks with name, address and hours")
        deadlines = {}
        for key, raw in self.mapping(data.get("case_deadlines"), "case_deadlines").items():
            if (d := self.duration(raw, f"case_deadlines.{key}")):
                deadlines[key] = d
        busy = self.mapping(data.get("busy_times"), "busy_times")
        busy_desks = {}
        for name, raw in self.mapping(busy.get("desks"), "busy_times.desks").items():
            if not any(d.name == name for d in desks):
                self.error(f"busy_times.desks.{name}", f"no service desk named {name!r}")
            busy_desks[name] = self.busy(raw, f"busy_times.desks.{name}")
        emergency = tuple(
            EmergencyNumber(self.text(item, "number", f"{where}."),
                            {lang: self.text(item, lang, f"{where}.") for lang in LANGUAGES})
            for where, item in self.mappings(data.get("emergency_numbers"), "emergency_numbers")
        )
        authorities = tuple(
            Authority(self.text(item, "key", f"{where}."), self.text(item, "name", f"{where}."),
                      self.labelled(item.get("handles"), f"{where}.handles"),
                      self.text(item, "url", f"{where}."), self.text(item, "phone", f"{where}.", required=False))
            for where, item in self.mappings(data.get("other_authorities"), "other_authorities")
        )
        return Profile(
            source=self.source,
            name=self.text(data, "name", ""),
            number=self.municipality_number(data),
            written_standard=self.language(data, "written_standard"),
            default_language=self.language(data, "default_language"),
            timezone=self.timezone(data),
            contact=self.contact(self.get(data, "contact", "")),
            opening_hours=schedules,
            service_desks=tuple(desks),
            closed_days=self.closed_days(data.get("closed_days")),
            service_standard=self.service_standard(data.get("service_standard"), schedules),
            case_deadlines=deadlines,
            busy_phone=self.busy(busy["phone"], "busy_times.phone") if busy.get("phone") else BusyTimes(),
            busy_desks=busy_desks,
            emergency_numbers=emergency,
            other_authorities=authorities,
            retention=self.retention(data.get("retention")),
            contact_costs=parse_contact_costs(data.get("contact_costs"), self.error),
            slug=slug or slug_for(self.source, str(data.get("name") or "")),
            reference_prefix=self.reference_prefix(data, str(data.get("name") or "")),
            service_name=self.service_name(data),
            messenger_page_ids=self.page_ids(data),
            live_chat=self.live_chat(data.get("live_chat")),
        )

    def live_chat(self, value: Any) -> LiveChatRules:
        """The optional `live_chat` section: durations in minutes (handoff engineer)."""
        if value is None:
            return LiveChatRules()
        item = self.mapping(value, "live_chat")
        self.known_keys(item, ("queue_closes_before", "citizen_gone_after", "idle_after"), "live_chat")
        minutes = {}
        for key, raw in item.items():
            found = self.duration(raw, f"live_chat.{key}")
            if found is not None and found.unit not in ("minutes", "hours"):
                self.error(f"live_chat.{key}", 'write minutes or hours, e.g. "15 minutes"')
            elif found is not None:
                minutes[key] = found.amount * (60 if found.unit == "hours" else 1)
        return LiveChatRules(**minutes)


_TOP_LEVEL = ("name", "number", "written_standard", "default_language", "timezone", "contact",
              "opening_hours", "service_desks", "closed_days", "service_standard", "case_deadlines",
              "busy_times", "emergency_numbers", "other_authorities", "retention", "reference_prefix",
              "service_name", "messenger_page_ids", "contact_costs", "live_chat")


def _note(item: Any) -> str:
    return str(item.get("note", "")) if isinstance(item, dict) else ""

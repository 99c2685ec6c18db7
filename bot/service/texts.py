"""Every Norwegian sentence the service answers use, in Nynorsk (nn) and Bokmål (nb),
plus date, time and duration formatting. One place, so the two variants stay together
(tests check that every key has both with the same placeholders).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from bot.language import LANGS
from bot.service.profile import Duration, Schedule

TEXTS: dict[str, dict[str, str]] = {
    # availability per channel
    "answer_by_day": {
        "nn": "Du får svar innan {day}.",
        "nb": "Du får svar innen {day}.",
    },
    "answer_by_time": {  # today or tomorrow: say the time
        "nn": "Du får svar {day}, innan kl. {time}.",
        "nb": "Du får svar {day}, innen kl. {time}.",
    },
    "chat_open": {
        "nn": "Ein person svarar deg innan {duration}.",
        "nb": "En person svarer deg innen {duration}.",
    },
    "chat_closed": {
        "nn": "Chatten er stengd no og opnar igjen {when}.",
        "nb": "Chatten er stengt nå og åpner igjen {when}.",
    },
    "chat_leave_question": {
        "nn": "Du kan leggje igjen spørsmålet ditt.",
        "nb": "Du kan legge igjen spørsmålet ditt.",
    },
    "phone_open": {
        "nn": "Telefonen er open no, fram til kl. {close}. Ring oss på {phone}.",
        "nb": "Telefonen er åpen nå, fram til kl. {close}. Ring oss på {phone}.",
    },
    "phone_closed": {
        "nn": "Telefonen er stengd no og opnar igjen {when}. Ring oss då på {phone}.",
        "nb": "Telefonen er stengt nå og åpner igjen {when}. Ring oss da på {phone}.",
    },
    "phone_callback": {
        "nn": "Må spørsmålet ditt vidare til ei fagavdeling, ringjer vi deg opp att innan {duration}.",
        "nb": "Må spørsmålet ditt videre til en fagavdeling, ringer vi deg opp igjen innen {duration}.",
    },
    "meeting_by_day": {
        "nn": "Du får tilbod om eit møte innan {day}.",
        "nb": "Du får tilbud om et møte innen {day}.",
    },
    "no_case_processing": {
        "nn": "Skriv ikkje personopplysningar her: vi behandlar ikkje saker i sosiale medium.",
        "nb": "Ikke skriv personopplysninger her: vi behandler ikke saker i sosiale medier.",
    },
    "never_open": {
        "nn": "Denne kanalen har ingen opningstider dei neste månadene.",
        "nb": "Denne kanalen har ingen åpningstider de neste månedene.",
    },
    # "is it open now?"
    "clock_now": {
        "nn": "Klokka er {time} no, {day}.",
        "nb": "Klokka er {time} nå, {day}.",
    },
    "closed_today": {
        "nn": "Kommunen har stengt i dag.",
        "nb": "Kommunen har stengt i dag.",
    },
    "chat_is_open": {
        "nn": "Chatten er open no, fram til kl. {close}.",
        "nb": "Chatten er åpen nå, fram til kl. {close}.",
    },
    "phone_is_open": {
        "nn": "Telefonen ({phone}) er open no, fram til kl. {close}.",
        "nb": "Telefonen ({phone}) er åpen nå, fram til kl. {close}.",
    },
    "phone_is_closed": {
        "nn": "Telefonen ({phone}) er stengd no og opnar igjen {when}.",
        "nb": "Telefonen ({phone}) er stengt nå og åpner igjen {when}.",
    },
    "desk_is_open": {
        "nn": "{desk} er ope no, fram til kl. {close}.",
        "nb": "{desk} er åpent nå, fram til kl. {close}.",
    },
    "desk_is_closed": {
        "nn": "{desk} er stengt no og opnar igjen {when}.",
        "nb": "{desk} er stengt nå og åpner igjen {when}.",
    },
    "desk_never_open": {
        "nn": "{desk} har ingen opningstider dei neste månadene.",
        "nb": "{desk} har ingen åpningstider de neste månedene.",
    },
    # lists and contact information
    "desk_intro": {
        "nn": "Du finn oss her:",
        "nb": "Du finner oss her:",
    },
    "desks_intro": {
        "nn": "Du finn oss på desse servicetorga:",
        "nb": "Du finner oss på disse servicetorgene:",
    },
    "desk_line": {
        "nn": "- {desk} ({address}): {when}",
        "nb": "- {desk} ({address}): {when}",
    },
    "contact_intro": {
        "nn": "Slik kontaktar du {name}:",
        "nb": "Slik kontakter du {name}:",
    },
    "contact_phone": {
        "nn": "- Telefon: {phone} ({hours})",
        "nb": "- Telefon: {phone} ({hours})",
    },
    "contact_phone_plain": {"nn": "- Telefon: {phone}", "nb": "- Telefon: {phone}"},
    "days_hours": {"nn": "{days} kl. {hours}", "nb": "{days} kl. {hours}"},
    "contact_email": {"nn": "- E-post: {email}", "nb": "- E-post: {email}"},
    "contact_form": {"nn": "- Kontaktskjema: {url}", "nb": "- Kontaktskjema: {url}"},
    "contact_min_side": {
        "nn": "- Min side (for eigne saker): {url}",
        "nb": "- Min side (for egne saker): {url}",
    },
    "contact_post": {"nn": "- Postadresse: {address}", "nb": "- Postadresse: {address}"},
    "contact_website": {"nn": "- Nettstad: {url}", "nb": "- Nettsted: {url}"},
    "best_time_to_call": {
        "nn": "Det er minst kø på telefonen {quiet}. Flest ringjer {peak}.",
        "nb": "Det er minst kø på telefonen {quiet}. Flest ringer {peak}.",
    },
    "desk_busy": {
        "nn": "{desk} har flest besøkande {peak}.",
        "nb": "{desk} har flest besøkende {peak}.",
    },
    "desk_busy_days": {
        "nn": "Det er travlast på {days}.",
        "nb": "Det er travlest på {days}.",
    },
    "building_deadlines": {
        "nn": "Ein enkel byggjesøknad utan dispensasjon skal vere behandla innan {simple}. "
              "Andre byggjesøknader skal vere behandla innan {other}. Fristen gjeld frå søknaden er komplett.",
        "nb": "En enkel byggesøknad uten dispensasjon skal være behandlet innen {simple}. "
              "Andre byggesøknader skal være behandlet innen {other}. Fristen gjelder fra søknaden er komplett.",
    },
    "best_time_unknown": {
        "nn": "Vi har ikkje tal på når det er mest kø på telefonen.",
        "nb": "Vi har ikke tall på når det er mest kø på telefonen.",
    },
    "emergency_intro": {
        "nn": "Naudnummer og legevakt:",
        "nb": "Nødnummer og legevakt:",
    },
    "emergency_line": {"nn": "- {number}: {label}", "nb": "- {number}: {label}"},
    "other_authority": {
        "nn": "Dette er ei teneste frå {authority}, ikkje frå {municipality}. {authority} tek seg av {handles}. "
              "Sjå {url}{phone_part}.",
        "nb": "Dette er en tjeneste fra {authority}, ikke fra {municipality}. {authority} tar seg av {handles}. "
              "Se {url}{phone_part}.",
    },
    "or_call": {"nn": " eller ring {phone}", "nb": " eller ring {phone}"},
    # small words
    "today": {"nn": "i dag", "nb": "i dag"},
    "tomorrow": {"nn": "i morgon", "nb": "i morgen"},
    "and": {"nn": "og", "nb": "og"},
    "at_clock": {"nn": "{day} kl. {time}", "nb": "{day} kl. {time}"},
}

WEEKDAY_NAMES = {
    "nn": ("måndag", "tysdag", "onsdag", "torsdag", "fredag", "laurdag", "sundag"),
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
}
WEEKDAY_PLURALS = {
    "nn": ("måndagar", "tysdagar", "onsdagar", "torsdagar", "fredagar", "laurdagar", "sundagar"),
    "nb": ("mandager", "tirsdager", "onsdager", "torsdager", "fredager", "lørdager", "søndager"),
}
MONTH_NAMES = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
               "september", "oktober", "november", "desember")
UNIT_NAMES = {  # unit -> lang -> (singular, plural)
    "minutes": {"nn": ("minutt", "minutt"), "nb": ("minutt", "minutter")},
    "hours": {"nn": ("time", "timar"), "nb": ("time", "timer")},
    "working_days": {"nn": ("arbeidsdag", "arbeidsdagar"), "nb": ("arbeidsdag", "arbeidsdager")},
    "weeks": {"nn": ("veke", "veker"), "nb": ("uke", "uker")},
}


@dataclass(frozen=True)
class Texts:
    """One answer in both written standards."""

    nn: str
    nb: str

    def get(self, lang: str) -> str:
        """The text in `lang` ("nn" or "nb"); ValueError for anything else."""
        if lang not in LANGS:
            raise ValueError(f"unknown written standard {lang!r}; use nn or nb")
        return self.nn if lang == "nn" else self.nb

    def __add__(self, other: Texts) -> Texts:
        """Join two answers sentence by sentence."""
        return Texts(f"{self.nn} {other.nn}".strip(), f"{self.nb} {other.nb}".strip())


def say(key: str, **values: object) -> Texts:
    """The text `key` in both standards; values may be Texts (per-language) or plain."""
    parts = {}
    for lang in LANGS:
        filled = {k: (v.get(lang) if isinstance(v, Texts) else v) for k, v in values.items()}
        parts[lang] = TEXTS[key][lang].format(**filled)
    return Texts(**parts)


def lines(*texts: Texts) -> Texts:
    """Join answers as separate lines."""
    return Texts("\n".join(t.nn for t in texts), "\n".join(t.nb for t in texts))


def clock(t: time | datetime) -> str:
    """Norwegian clock time: 09.00."""
    return f"{t.hour:02d}.{t.minute:02d}"


def weekday_name(day: date | int, lang: str) -> str:
    return WEEKDAY_NAMES[lang][day if isinstance(day, int) else day.weekday()]


def full_date(day: date, lang: str, today: date | None = None) -> str:
    """"torsdag 1. april", with the year when it is not the year of `today`."""
    text = f"{weekday_name(day, lang)} {day.day}. {MONTH_NAMES[day.month - 1]}"
    return text if today is None or day.year == today.year else f"{text} {day.year}"


def relative_day(day: date, today: date) -> Texts:
    """"i dag", "i morgon"/"i morgen", or the full date."""
    delta = (day - today).days
    if delta == 0:
        return say("today")
    if delta == 1:
        return say("tomorrow")
    return Texts(full_date(day, "nn", today), full_date(day, "nb", today))


def when(moment: datetime, today: date) -> Texts:
    """"i morgon kl. 09.00" / "måndag 29. mars kl. 09.00"."""
    return say("at_clock", day=relative_day(moment.date(), today), time=clock(moment))


def duration(d: Duration) -> Texts:
    """"5 minutt" / "5 minutter", "3 arbeidsdagar" / "3 arbeidsdager"."""
    names = UNIT_NAMES[d.unit]
    return Texts(*(f"{d.amount} {names[lang][0 if d.amount == 1 else 1]}" for lang in LANGS))


def weekday_list(days: list[int]) -> Texts:
    """"måndag–fredag" for a run of 3 or more days, else "måndag, tysdag og torsdag"."""
    days = sorted(days)
    result = []
    for lang in LANGS:
        if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
            result.append(f"{weekday_name(days[0], lang)}–{weekday_name(days[-1], lang)}")
            continue
        names = [weekday_name(d, lang) for d in days]
        result.append(names[0] if len(names) == 1 else
                      f"{', '.join(names[:-1])} {TEXTS['and'][lang]} {names[-1]}")
    return Texts(*result)


def weekday_plurals(days: list[int]) -> Texts:
    """"måndagar og tysdagar" / "mandager og tirsdager"."""
    return Texts(*(join_words([WEEKDAY_PLURALS[lang][d] for d in sorted(days)]).get(lang) for lang in LANGS))


def hour_span(start: time, end: time) -> str:
    """"09.00–15.00"."""
    return f"{clock(start)}–{clock(end)}"


def join_words(items: list[str]) -> Texts:
    """"a, b og c" in both standards."""
    if len(items) <= 1:
        word = items[0] if items else ""
        return Texts(word, word)
    return Texts(*(f"{', '.join(items[:-1])} {TEXTS['and'][lang]} {items[-1]}" for lang in LANGS))


def schedule_text(schedule: Schedule) -> Texts:
    """"måndag–fredag kl. 09.00–15.00", periods joined with "; "."""
    by_hours: dict[tuple, list[int]] = {}
    for period in schedule.periods:
        by_hours.setdefault((period.opens, period.closes), []).extend(period.days)
    parts = [(weekday_list(sorted(set(days))), hour_span(*span)) for span, days in by_hours.items()]
    texts = [say("days_hours", days=days, hours=span) for days, span in parts]
    return Texts("; ".join(t.nn for t in texts), "; ".join(t.nb for t in texts))

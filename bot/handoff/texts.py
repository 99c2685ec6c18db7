"""Short computed sentences of the handoff, in Nynorsk (nn) and Bokmål (nb).

The fixed texts live in domain.yml (`# --- handoff ---`); these fill their placeholders.

    queue_text("nn", position=2, minutes=6)
    # "Du er nummer 2 i køen. Du må truleg vente om lag 6 minutt."
"""

from __future__ import annotations

from datetime import datetime

from bot.service import hours
from bot.service.profile import Profile
from bot.service.texts import clock, when


def _pick(lang: str, nn: str, nb: str) -> str:
    return nb if lang == "nb" else nn


def position_text(lang: str, position: int | None) -> str:
    if not position:
        return ""
    if position == 1:
        return _pick(lang, "Du er først i køen.", "Du er først i køen.")
    return _pick(lang, f"Du er nummer {position} i køen.", f"Du er nummer {position} i køen.")


def wait_text(lang: str, minutes: int | None, fallback: str) -> str:
    """The one promise: the estimate from staff on duty and handling times, else the
    service standard's sentence (`fallback`, e.g. "Ein person svarar deg innan 5 minutt.")."""
    if minutes is None:
        return fallback
    if minutes <= 1:
        return _pick(lang, "Du får truleg svar innan eitt minutt.", "Du får trolig svar innen ett minutt.")
    return _pick(lang, f"Du må truleg vente om lag {minutes} minutt.",
                 f"Du må trolig vente omtrent {minutes} minutter.")


def queue_text(lang: str, position: int | None, minutes: int | None, fallback: str = "") -> str:
    return " ".join(part for part in (position_text(lang, position), wait_text(lang, minutes, fallback)) if part)


def urgent_text(profile: Profile, now: datetime, lang: str) -> str:
    """One line for "it is urgent": call now (until when), or when the phone opens."""
    schedule = profile.opening_hours.get("phone")
    phone = profile.contact.phone
    if schedule is None:
        return _pick(lang, f"Hastar det? Ring oss på {phone}.", f"Haster det? Ring oss på {phone}.")
    at = hours.local(profile, now)
    interval = hours.open_interval(profile, schedule, at)
    if interval:
        return _pick(lang, f"Hastar det? Ring oss på {phone} før kl. {clock(interval[1])} i dag.",
                     f"Haster det? Ring oss på {phone} før kl. {clock(interval[1])} i dag.")
    opening = hours.next_opening(profile, schedule, at)
    if opening is None:
        return _pick(lang, f"Hastar det? Ring oss på {phone}.", f"Haster det? Ring oss på {phone}.")
    moment = when(opening, at.date()).get(lang)
    return _pick(lang, f"Hastar det? Ring oss på {phone} {moment}.", f"Haster det? Ring oss på {phone} {moment}.")


def next_chat_text(profile: Profile, now: datetime, lang: str) -> str:
    """When the chat opens again: "måndag 30. november kl. 09.00" (empty if never)."""
    schedule = profile.opening_hours.get("chat")
    if schedule is None:
        return ""
    at = hours.local(profile, now)
    opening = hours.next_opening(profile, schedule, at)
    return when(opening, at.date()).get(lang) if opening else ""

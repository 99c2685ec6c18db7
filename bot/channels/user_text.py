"""Checks on citizen text arriving through a channel, and the friendly replies to bad input.

    >>> check_text("  Kva kostar SFO?\\x00 ")
    Checked(text='Kva kostar SFO?', problem=None)
    >>> check_text("   ").problem
    'empty'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Longest message a citizen may send (characters). The widget's textarea uses the same limit.
MAX_MESSAGE_CHARS = 1000
# Longer raw text is refused before any work on it: normalisation (NFC) and removing
# control characters can shorten a text, but not by this factor.
MAX_RAW_CHARS = 4 * MAX_MESSAGE_CHARS

# C0/C1 control characters except tab, newline and carriage return; lone surrogates.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

EMPTY, TOO_LONG, NOT_TEXT = "empty", "too_long", "not_text"

_REPLIES = {
    EMPTY: {
        "nn": "Meldinga di var tom. Skriv spørsmålet ditt, så skal eg prøve å hjelpe.",
        "nb": "Meldingen din var tom. Skriv spørsmålet ditt, så skal jeg prøve å hjelpe.",
    },
    TOO_LONG: {
        "nn": f"Meldinga di er for lang. Skriv spørsmålet kortare, høgst {MAX_MESSAGE_CHARS} teikn.",
        "nb": f"Meldingen din er for lang. Skriv spørsmålet kortere, høyst {MAX_MESSAGE_CHARS} tegn.",
    },
    NOT_TEXT: {
        "nn": "Eg kan berre lese tekst. Skriv spørsmålet ditt med ord.",
        "nb": "Jeg kan bare lese tekst. Skriv spørsmålet ditt med ord.",
    },
}


@dataclass(frozen=True)
class Checked:
    """Cleaned text, or the problem that stops it from reaching the assistant."""

    text: str
    problem: str | None  # None, EMPTY, TOO_LONG or NOT_TEXT


def check_text(raw: object) -> Checked:
    """Clean `raw` (NFC, no control characters, trimmed) and say whether it may be processed."""
    if not isinstance(raw, str):
        return Checked("", NOT_TEXT)
    if len(raw) > MAX_RAW_CHARS:
        return Checked("", TOO_LONG)
    text = _CONTROL.sub("", unicodedata.normalize("NFC", raw)).strip()
    if not text:
        return Checked("", EMPTY)
    if len(text) > MAX_MESSAGE_CHARS:
        return Checked("", TOO_LONG)
    return Checked(text, None)


def reply_for(problem: str, lang: str | None) -> str:
    """The friendly reply to a `problem` from `check_text`, in `lang` (nn if unknown)."""
    return _REPLIES[problem]["nb" if lang == "nb" else "nn"]


def language_of(text: str, fallback: str) -> str:
    """The written standard (nn/nb) `text` is in, or `fallback` when detection is unsure."""
    from bot.language import detect

    text = text.strip()
    return (detect(text).lang or fallback) if text else fallback


def default_language(metadata: object = None) -> str:
    """The language the bot uses before it knows the citizen's: the default standard of the
    message's municipality (metadata), else of the deployment's default municipality."""
    from bot.channels.municipality import default_language as municipality_language

    return municipality_language(metadata)

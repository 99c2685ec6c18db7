"""Personal data in free text: find Norwegian national identity numbers and redact them,
phone numbers and e-mail addresses before anything is logged or kept for analytics.
Stdlib only; runs in the Rasa process (Python 3.10) and the action server (3.11).

    from bot.privacy import redact, find_national_ids
    redact("Fnr 010190 12345, ring 912 34 567")  # placeholders where the values were
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.privacy.national_id import NationalId, find_national_ids, is_national_id
from bot.privacy.patterns import email_spans, phone_spans

__all__ = ["NationalId", "find_national_ids", "is_national_id", "redact", "PLACEHOLDERS"]

PLACEHOLDERS = {"national_id": "[fødselsnummer]", "phone": "[telefon]", "email": "[e-post]"}


def _replace(text: str, spans: list[tuple[int, int]], placeholder: str, keep: set[str]) -> str:
    for start, end in sorted(spans, reverse=True):
        if _normal(text[start:end]) not in keep:
            text = text[:start] + placeholder + text[end:]
    return text


def _normal(value: str) -> str:
    """Compare kept values without spaces, case or a +47/0047 prefix."""
    value = "".join(value.split()).lower().replace("\u00a0", "")
    for prefix in ("(+47)", "(47)", "+47", "0047"):
        if value.startswith(prefix) and len(value) > len(prefix) + 7:
            return value[len(prefix):]
    return value


def redact(text: str, keep: Iterable[str] = ()) -> str:
    """`text` with national ids, e-mail addresses and phone numbers replaced by
    [fødselsnummer], [e-post] and [telefon]. Values in `keep` (e.g. the municipality's
    own phone number and e-mail) stay. Idempotent; never raises on a str."""
    kept = {_normal(k) for k in keep}
    while True:  # repeat until stable: each pass removes digits or "@", so this ends
        result = _replace(text, [(i.start, i.end) for i in find_national_ids(text)],
                          PLACEHOLDERS["national_id"], set())
        result = _replace(result, email_spans(result), PLACEHOLDERS["email"], kept)
        result = _replace(result, phone_spans(result), PLACEHOLDERS["phone"], kept)
        if result == text:
            return result
        text = result

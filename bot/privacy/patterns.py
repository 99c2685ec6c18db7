"""Norwegian phone numbers and e-mail addresses in free text.

Phone numbers: 8 digits starting with 2-9, optionally after +47 / 0047 / (+47), written
together (12345678) or in the usual groups (123 45 678, 12 34 56 78, 1234 5678). Groups
that continue into more digits are not phone numbers, so prices like "12 500 000",
organisation numbers (123 456 789), case numbers (2024/1234), dates, times and postcodes
are left alone, and so is a year followed by a number ("2024 1234"). An 8-digit run that
reads as a date (20270401, 01042027) is left alone.
"""

from __future__ import annotations

import re
from datetime import date

_PREFIX = r"(?:(?:\+|00)47[ \u00a0]?|\(\+?47\)[ \u00a0]?)"
_SEP = r"[ \u00a0]"
# Bounded quantifiers keep the scan linear on long texts without an "@".
EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.[^\W\d_]{2,24}(?![\w-])")
# With a country prefix: any common grouping of the 8 digits.
PHONE_PREFIXED = re.compile(
    rf"(?<![0-9+]){_PREFIX}([2-9](?:{_SEP}?[0-9]){{7}})(?![0-9])(?!{_SEP}[0-9])"
)
PHONE_RUN = re.compile(r"(?<![0-9])[2-9][0-9]{7}(?![0-9])")
PHONE_GROUPED = re.compile(
    rf"(?<![0-9])(?<![0-9][ \u00a0.,/-])"
    rf"(?:[2-9][0-9]{{2}}{_SEP}[0-9]{{2}}{_SEP}[0-9]{{3}}"      # 123 45 678
    rf"|[2-9][0-9]{_SEP}[0-9]{{2}}{_SEP}[0-9]{{2}}{_SEP}[0-9]{{2}}"  # 12 34 56 78
    rf"|(?!19|20)[2-9][0-9]{{3}}{_SEP}[0-9]{{4}})"                # 1234 5678, not "2024 1234"
    rf"(?![0-9])(?![ \u00a0.,/-][0-9])"
)


def looks_like_date(digits: str) -> bool:
    """An 8-digit run that is a date YYYYMMDD or DDMMYYYY (years 1900-2099)."""
    for year, month, day in ((digits[:4], digits[4:6], digits[6:]), (digits[4:], digits[2:4], digits[:2])):
        if year[:2] in ("19", "20"):
            try:
                date(int(year), int(month), int(day))
                return True
            except ValueError:
                pass
    return False


def phone_spans(text: str) -> list[tuple[int, int]]:
    """Spans of Norwegian phone numbers in `text`, in order, not overlapping."""
    spans: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in spans)

    for match in PHONE_PREFIXED.finditer(text):
        spans.append(match.span())
    for match in PHONE_RUN.finditer(text):
        if free(*match.span()) and not looks_like_date(match[0]):
            spans.append(match.span())
    for match in PHONE_GROUPED.finditer(text):
        if free(*match.span()):
            spans.append(match.span())
    return sorted(spans)


def email_spans(text: str) -> list[tuple[int, int]]:
    """Spans of e-mail addresses in `text`."""
    if "@" not in text:
        return []
    return [m.span() for m in EMAIL.finditer(text)]

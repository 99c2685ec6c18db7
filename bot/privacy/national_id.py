"""Norwegian national identity numbers: fødselsnummer, D-number (day + 40), H-number
(month + 40) and synthetic test numbers (month + 80), 11 digits DDMMYY IIIKK with two
mod-11 check digits. Written with or without a space (or hyphen) after the date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29 Feb: any century may be leap

# Not part of a longer number: no digit (or digit group) directly before or after.
CANDIDATE = re.compile(r"(?<![0-9])(?<![0-9][ \-])([0-9]{6})[ \u00a0\-]?([0-9]{5})(?![0-9])(?![ \-][0-9])")


@dataclass(frozen=True)
class NationalId:
    """A national identity number found in a text: span, digits and kind."""

    start: int
    end: int
    digits: str
    kind: str  # "fødselsnummer", "d-nummer", "h-nummer", "syntetisk"


def _check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    remainder = 11 - sum(int(d) * w for d, w in zip(digits, weights)) % 11
    return 0 if remainder == 11 else None if remainder == 10 else remainder


def has_valid_check_digits(digits: str) -> bool:
    """Both mod-11 check digits of an 11-digit number are right."""
    k1 = _check_digit(digits[:9], _WEIGHTS_1)
    if k1 is None or k1 != int(digits[9]):
        return False
    k2 = _check_digit(digits[:10], _WEIGHTS_2)
    return k2 is not None and k2 == int(digits[10])


def kind_of(digits: str) -> str | None:
    """The kind of national id `digits` (11 ASCII digits) is, or None if it is not one."""
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit() or not has_valid_check_digits(digits):
        return None
    day, month = int(digits[:2]), int(digits[2:4])
    kind = "fødselsnummer"
    if day > 40:
        day, kind = day - 40, "d-nummer"
    if 80 < month <= 92:
        month, kind = month - 80, "syntetisk"
    elif 40 < month <= 52:
        month, kind = month - 40, "h-nummer" if kind == "fødselsnummer" else kind
    if not (1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]):
        return None
    return kind


def is_national_id(text: str) -> bool:
    """`text` is one valid national id (spaces, NBSP and hyphens ignored)."""
    return kind_of(re.sub(r"[ \u00a0\-]", "", text)) is not None


def find_national_ids(text: str) -> list[NationalId]:
    """Every valid national id in `text`, in order."""
    found = []
    for match in CANDIDATE.finditer(text):
        digits = match[1] + match[2]
        kind = kind_of(digits)
        if kind:
            found.append(NationalId(match.start(), match.end(), digits, kind))
    return found

"""Validate the contact a citizen gives for a case: an e-mail address or a Norwegian phone.

The one place that decides what counts as a usable contact.

    >>> parse_contact("Ring meg på 912 34 567")
    Contact(kind='phone', value='+4791234567')
    >>> parse_contact("ola.nordmann@Example.NO")
    Contact(kind='email', value='ola.nordmann@example.no')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Pragmatic e-mail check: one @, no spaces, a domain with a dot and a letter TLD.
_EMAIL = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})(?![\w-])"
)
# Norwegian numbers have 8 digits; the first is 2-9 (1xx are short emergency/service
# numbers, 0 is not used). Optional +47 / 0047; spaces, dots and hyphens between digits.
_PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)\s?47[\s.-]?)?([2-9](?:[\s.-]?\d){7})(?![\d])")


@dataclass(frozen=True)
class Contact:
    """A validated contact: kind "email" or "phone"; value normalised."""

    kind: str
    value: str

    def display(self) -> str:
        """The contact as people write it (phone as +47 912 34 567)."""
        if self.kind == "phone":
            digits = self.value[3:]
            if digits[0] in "49":  # mobile numbers: 3-2-3
                return f"+47 {digits[:3]} {digits[3:5]} {digits[5:]}"
            return f"+47 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"
        return self.value


def parse_email(text: str) -> Contact | None:
    """The first valid e-mail address in `text` (domain lower-cased), or None."""
    for match in _EMAIL.finditer(text or ""):
        local, domain = match.group(1), match.group(2)
        if len(local) <= 64 and len(local) + 1 + len(domain) <= 254 and ".." not in local:
            return Contact("email", f"{local}@{domain.lower()}")
    return None


def parse_phone(text: str) -> Contact | None:
    """The first Norwegian phone number in `text` as +47XXXXXXXX, or None."""
    match = _PHONE.search(text or "")
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group(1))
    return Contact("phone", "+47" + digits)


def parse_contact(text: str) -> Contact | None:
    """An e-mail address or Norwegian phone number found in `text`; e-mail wins."""
    return parse_email(text) or parse_phone(text)

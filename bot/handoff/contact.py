"""Validate the contact a citizen gives for a case: an e-mail address or a Norwegian phone.

The one place that decides what counts as a usable contact. What a phone number or an
e-mail address looks like in text is defined once, in bot.privacy.patterns (the same
patterns the redaction uses); this module adds the checks a reply address needs.

    >>> parse_contact("Ring meg på 912 34 567")
    Contact(kind='phone', value='+4791234567')
    >>> parse_contact("ola.nordmann@Example.NO")
    Contact(kind='email', value='ola.nordmann@example.no')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.privacy.patterns import EMAIL, phone_spans


@dataclass(frozen=True)
class Contact:
    """A validated contact: kind "email" or "phone"; value normalised (+47XXXXXXXX)."""

    kind: str
    value: str

    def display(self) -> str:
        """The contact as people write it (phone as +47 912 34 567 or +47 56 37 50 00)."""
        if self.kind == "phone":
            d = self.value[3:]
            if d[0] in "49":  # mobile numbers: 3-2-3
                return f"+47 {d[:3]} {d[3:5]} {d[5:]}"
            return f"+47 {d[:2]} {d[2:4]} {d[4:6]} {d[6:]}"
        return self.value


def _valid_email(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    return (bool(local) and not local.startswith(".") and not local.endswith(".") and ".." not in local
            and all(label and not label.startswith("-") and not label.endswith("-") for label in domain.split("."))
            and len(address) <= 254)


def parse_email(text: str) -> Contact | None:
    """The first valid e-mail address in `text` (domain lower-cased), or None."""
    for match in EMAIL.finditer(text or ""):
        address = match.group(0)
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "@."):
            continue  # part of something longer, e.g. "ola@@example.no"
        if _valid_email(address):
            local, _, domain = address.rpartition("@")
            return Contact("email", f"{local}@{domain.lower()}")
    return None


def parse_phone(text: str) -> Contact | None:
    """The first Norwegian phone number in `text` as +47XXXXXXXX, or None."""
    for start, end in phone_spans(text or ""):
        digits = re.sub(r"\D", "", text[start:end])[-8:]
        return Contact("phone", "+47" + digits)
    return None


def parse_contact(text: str) -> Contact | None:
    """An e-mail address or Norwegian phone number found in `text`; e-mail wins."""
    return parse_email(text) or parse_phone(text)

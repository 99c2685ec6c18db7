"""Contact validation: e-mail addresses and Norwegian phone numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.handoff.contact import Contact, parse_contact, parse_email, parse_phone


@pytest.mark.parametrize("text, expected", [
    ("912 34 567", "+4791234567"),
    ("+47 912 34 567", "+4791234567"),
    ("0047 91234567", "+4791234567"),
    ("56 37 50 00", "+4756375000"),
    ("ring meg på 412 34 567, takk", "+4741234567"),
    ("Tlf. 2207 3000", "+4722073000"),
])
def test_norwegian_phone_numbers_are_normalised(text, expected):
    assert parse_phone(text) == Contact("phone", expected)


@pytest.mark.parametrize("text", [
    "113", "1234567", "12345678", "01234567", "912345678", "9123 456", "01019912345", "nei", "",
])
def test_not_a_norwegian_phone_number(text):
    assert parse_phone(text) is None


@pytest.mark.parametrize("text, expected", [
    ("ola@example.no", "ola@example.no"),
    ("Ola.Nordmann@Alver.Kommune.NO", "Ola.Nordmann@alver.kommune.no"),
    ("e-posten min er kari+kommune@post.example.com.", "kari+kommune@post.example.com"),
])
def test_email_addresses(text, expected):
    assert parse_email(text) == Contact("email", expected)


@pytest.mark.parametrize("text", ["ola@", "@example.no", "ola@example", "ola@@example.no", "ola..n@example.no",
                                  "ola @example.no", "ola@-example.no"])
def test_not_an_email_address(text):
    assert parse_email(text) is None


def test_email_wins_over_phone_and_display_formats():
    assert parse_contact("91234567 eller ola@example.no").kind == "email"
    assert Contact("phone", "+4791234567").display() == "+47 912 34 567"
    assert Contact("phone", "+4756375000").display() == "+47 56 37 50 00"


@given(st.text(max_size=300))
def test_any_text_gives_a_valid_contact_or_none(text):
    contact = parse_contact(text)
    if contact is not None:
        assert contact.kind in ("email", "phone")
        if contact.kind == "phone":
            assert contact.value.startswith("+47") and len(contact.value) == 11 and contact.value[3:].isdigit()
        else:
            assert contact.value.count("@") == 1 and " " not in contact.value

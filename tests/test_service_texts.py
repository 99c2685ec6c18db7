"""The Norwegian texts (bot.service.texts) and the dialogue answers (bot.service.answers)."""

from __future__ import annotations

import string
from datetime import date, datetime

import pytest

from bot.config import ROOT
from bot.service import answers
from bot.service.profile import Duration, load_profile
from bot.service.texts import TEXTS, Texts, duration, full_date, relative_day, weekday_list


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_text_has_nynorsk_and_bokmal_with_same_placeholders(key):
    variants = TEXTS[key]
    assert set(variants) == {"nn", "nb"}, key
    assert variants["nn"].strip() and variants["nb"].strip()
    assert placeholders(variants["nn"]) == placeholders(variants["nb"])


# Words that exist in only one standard: Bokmål words must not appear in Nynorsk text and
# vice versa (a Nynorsk answer in Bokmål is a bug).
NB_ONLY = {"nå", "en", "et", "innen", "mandag", "tirsdag", "lørdag", "søndag", "i morgen", "ikke", "fra",
           "åpen", "åpner", "åpent", "finner", "disse", "tjeneste", "tar", "egne", "ringer", "videre", "tilbud"}
NN_ONLY = {"no", "ein", "eit", "innan", "måndag", "tysdag", "laurdag", "sundag", "i morgon", "ikkje", "frå",
           "open", "opnar", "ope", "finn", "desse", "teneste", "tek", "eigne", "ringjer", "vidare", "tilbod"}


def words(text: str) -> set[str]:
    tokens = "".join(c if c.isalpha() or c == " " else " " for c in text.lower()).split()
    return set(tokens) | {f"{a} {b}" for a, b in zip(tokens, tokens[1:])}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_no_words_from_the_other_standard(key):
    assert not words(TEXTS[key]["nn"]) & NB_ONLY, TEXTS[key]["nn"]
    assert not words(TEXTS[key]["nb"]) & NN_ONLY, TEXTS[key]["nb"]


def test_dates_and_relative_days():
    assert full_date(date(2027, 4, 1), "nn") == "torsdag 1. april"
    assert full_date(date(2027, 4, 3), "nn") == "laurdag 3. april"
    assert full_date(date(2027, 4, 3), "nb") == "lørdag 3. april"
    assert full_date(date(2027, 4, 4), "nn", today=date(2026, 12, 30)) == "sundag 4. april 2027"
    assert full_date(date(2027, 4, 4), "nb") == "søndag 4. april"
    today = date(2027, 3, 30)
    assert relative_day(today, today) == Texts("i dag", "i dag")
    assert relative_day(date(2027, 3, 31), today) == Texts("i morgon", "i morgen")


def test_durations_and_weekday_lists():
    assert duration(Duration(5, "minutes")) == Texts("5 minutt", "5 minutter")
    assert duration(Duration(1, "working_days")) == Texts("1 arbeidsdag", "1 arbeidsdag")
    assert duration(Duration(3, "working_days")) == Texts("3 arbeidsdagar", "3 arbeidsdager")
    assert duration(Duration(12, "weeks")) == Texts("12 veker", "12 uker")
    assert weekday_list([0, 1, 2, 3, 4]) == Texts("måndag–fredag", "mandag–fredag")
    assert weekday_list([0, 1, 3]) == Texts("måndag, tysdag og torsdag", "mandag, tirsdag og torsdag")
    assert weekday_list([2]) == Texts("onsdag", "onsdag")


@pytest.fixture(scope="module")
def profile():
    return load_profile()


def test_open_now_in_opening_hours(profile):
    t = answers.open_now(profile, datetime(2026, 11, 24, 10, 15))    # Tuesday
    assert t.nn.startswith("Klokka er 10.15 no, tysdag 24. november.")
    assert "Telefonen (56 37 50 00) er open no, fram til kl. 15.00." in t.nn
    assert "Servicetorget på Manger er ope no" in t.nn
    assert "Servicetorget på Frekhaug er stengt no og opnar igjen i morgon kl. 09.00." in t.nn
    assert "Servicetorget på Frekhaug er stengt nå og åpner igjen i morgen kl. 09.00." in t.nb
    assert "Servicetorget i Knarvik er åpent nå" in t.nb


def test_open_now_on_a_holiday(profile):
    t = answers.open_now(profile, datetime(2027, 3, 25, 10))         # Maundy Thursday
    assert "Kommunen har stengt i dag." in t.nn
    assert "Telefonen (56 37 50 00) er stengd no og opnar igjen tysdag 30. mars kl. 09.00." in t.nn
    assert "Chatten er stengt nå og åpner igjen tirsdag 30. mars kl. 09.00." in t.nb


def test_desk_list(profile):
    t = answers.desk_list(profile)
    assert t.nn.startswith("Du finn oss på desse servicetorga:")
    assert "- Servicetorget på Manger (Radøyvegen 1690, 5936 Manger): måndag, tysdag og torsdag kl. 09.00–15.00" in t.nn
    assert "- Servicetorget på Frekhaug (Havnevegen 41 A, 5918 Frekhaug): onsdag og fredag kl. 09.00–15.00" in t.nb
    assert "Servicetorget i Knarvik" in t.nn and "mandag–fredag" in t.nb


def test_one_desk_is_named_by_its_title_and_in_the_singular():
    """A municipality with one desk called just "Servicetorget": no "Servicetorget i Servicetorget",
    no plural "servicetorga"."""
    ullensaker = load_profile(ROOT / "municipalities" / "ullensaker.yml")
    listed = answers.desk_list(ullensaker)
    assert listed.nb.startswith("Du finner oss her:\n- Servicetorget på rådhuset (")
    now = answers.open_now(ullensaker, datetime(2026, 11, 24, 10, 15))
    assert "Servicetorget på rådhuset er åpent nå" in now.nb
    assert "Servicetorget i Servicetorget" not in now.nb + now.nn


def test_contact_info(profile):
    t = answers.contact_info(profile)
    for value in ("56 37 50 00", "post@alver.kommune.no", "Postboks 4, 5906 Frekhaug", profile.contact.min_side,
                  profile.contact.contact_form):
        assert value in t.nn and value in t.nb
    assert "måndag–fredag kl. 09.00–15.00" in t.nn


def test_best_time_to_call_uses_busy_times(profile):
    t = answers.best_time_to_call(profile)
    assert "kl. 09.00–10.00 og kl. 14.00–15.00" in t.nn
    assert "Flest ringjer kl. 10.00–11.00" in t.nn and "Flest ringer kl. 10.00–11.00" in t.nb


def test_emergency_and_other_authorities(profile):
    t = answers.emergency_numbers(profile)
    assert "113: Medisinsk naudhjelp" in t.nn and "113: Medisinsk nødhjelp" in t.nb
    assert "116 117: Legevakt" in t.nn
    a = answers.other_authority(profile, "skatteetaten")
    assert a.nn.startswith("Dette er ei teneste frå Skatteetaten, ikkje frå Alver kommune.")
    assert "https://www.skatteetaten.no" in a.nb and "ikke fra Alver kommune" in a.nb
    with pytest.raises(ValueError, match="unknown authority"):
        answers.other_authority(profile, "fbi")


@pytest.mark.parametrize("channel", ["chat", "phone", "email", "messenger", "meeting"])
def test_rendered_availability_texts_stay_in_their_standard(profile, channel):
    from bot.service.eta import availability

    for day in range(21, 31):                      # a week around Easter 2027
        for hour in (8, 10, 14, 16):
            a = availability(profile, channel, datetime(2027, 3, day, hour))
            assert not words(a.text_nn) & NB_ONLY, a.text_nn
            assert not words(a.text_nb) & NN_ONLY, a.text_nb


def test_best_time_to_visit_a_desk(profile):
    t = answers.best_time_to_visit(profile, "manger")
    assert t.nn == ("Servicetorget på Manger har flest besøkande kl. 10.00–11.00 og kl. 13.00–14.00. "
                    "Det er travlast på måndagar og tysdagar.")
    assert t.nb.endswith("Det er travlest på mandager og tirsdager.")
    with pytest.raises(ValueError, match="unknown service desk"):
        answers.best_time_to_visit(profile, "Bergen")


def test_building_deadlines(profile):
    t = answers.building_deadlines(profile)
    assert "innan 3 veker" in t.nn and "innan 12 veker" in t.nn
    assert "innen 3 uker" in t.nb and "innen 12 uker" in t.nb

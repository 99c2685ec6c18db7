"""Many municipalities through the REAL servers (the `servers` fixture): each message is
routed by the municipality its channel names, every response carries that municipality's
words, and a new conversation starts in that municipality's written standard.

Runs over every profile in municipalities/ (the demo ships Alver, Nynorsk, and
Ullensaker, Bokmål)."""

from __future__ import annotations

import re

import pytest

from bot.service.municipalities import registry

pytestmark = pytest.mark.servers

PROFILES = list(registry())
SLUGS = [p.slug for p in PROFILES]


def send(servers, text: str, slug: str | None, sender: str | None = None) -> list[dict]:
    return servers.send(text, sender=sender, metadata={"municipality": slug} if slug else None)


def slot(servers, sender: str, name: str):
    return servers.tracker(sender)["slots"].get(name)


def test_an_unknown_municipality_is_refused_with_a_400_that_names_the_known_ones(servers):
    response = servers.http.post(f"{servers.rasa_url}/webhooks/rest/webhook", json={
        "sender": servers.new_sender(), "message": "hei", "metadata": {"municipality": "atlantis"}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "unknown municipality 'atlantis'" in error
    assert all(slug in error for slug in SLUGS), error


@pytest.mark.parametrize("slug", SLUGS)
def test_greeting_names_the_municipality_in_its_own_standard(servers, slug):
    profile = registry().get(slug)
    sender = servers.new_sender()
    text = servers.text(send(servers, "hei", slug, sender))
    assert f"chatboten til {profile.name}" in text
    opening = {"nn": "Eg er chatboten", "nb": "Jeg er chatboten"}[profile.default_language]
    assert opening in text, f"{slug} greets in {profile.default_language}: {text!r}"
    assert slot(servers, sender, "municipality") == slug
    assert slot(servers, sender, "language") == profile.default_language


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang,question", [("nn", "Kva er telefonnummeret til kommunen?"),
                                           ("nb", "Hva er telefonnummeret til kommunen?")])
def test_contact_details_are_the_municipalitys_in_the_citizens_standard(servers, slug, lang, question):
    profile = registry().get(slug)
    sender = servers.new_sender()
    text = servers.text(send(servers, question, slug, sender))
    assert profile.contact.phone in text
    others = [p.contact.phone for p in PROFILES if p.slug != slug]
    assert not any(phone in text for phone in others), text
    intro = {"nn": "Slik kontaktar du", "nb": "Slik kontakter du"}[lang]
    assert f"{intro} {profile.name}" in text


def test_a_conversation_keeps_its_municipality_when_later_messages_name_none(servers):
    slug = SLUGS[-1]
    sender = servers.new_sender()
    send(servers, "hei", slug, sender)
    text = servers.text(send(servers, "Kva er telefonnummeret til kommunen?", None, sender))
    assert registry().get(slug).contact.phone in text


def test_without_a_municipality_the_default_one_answers(servers):
    sender = servers.new_sender()
    text = servers.text(send(servers, "hei", None, sender))
    assert f"chatboten til {registry().default.name}" in text
    assert slot(servers, sender, "municipality") == registry().default.slug


@pytest.mark.parametrize("slug", SLUGS)
def test_a_case_carries_the_municipalitys_reference_prefix_and_service_name(servers, slug):
    profile = registry().get(slug)
    servers.set_clock("2026-11-24T20:00:00+01:00")  # Tuesday evening: chat closed, a case
    try:
        sender = servers.new_sender()
        lang = profile.default_language
        for text in ({"nn": "eg vil snakke med eit menneske", "nb": "jeg vil snakke med et menneske"}[lang],
                     {"nn": "Eg har ikkje fått svar på byggjesøknaden min frå september",
                      "nb": "Jeg har ikke fått svar på byggesøknaden min fra september"}[lang]):
            send(servers, text, slug, sender)
        reply = servers.text(send(servers, "ola@example.no", slug, sender))
    finally:
        servers.set_clock("2026-11-24T10:00:00+01:00")
    assert re.search(rf"referanse {profile.reference_prefix}-2026-\d{{6}}", reply), reply
    assert f"sendt til {profile.service_name[lang]}" in reply


def test_the_demo_page_links_every_municipality_and_each_page_sets_its_widget(servers):
    assert servers.staff_url, "the staff portal serves the demo pages"
    front = servers.http.get(servers.staff_url + "/")
    assert front.status_code == 200
    for profile in PROFILES:
        assert f'href="/demo/{profile.slug}"' in front.text and profile.name in front.text
        page = servers.http.get(f"{servers.staff_url}/demo/{profile.slug}")
        assert page.status_code == 200
        assert f'<html lang="{profile.default_language}">' in page.text
        assert f'data-municipality="{profile.slug}"' in page.text
        assert f'data-phone="{profile.contact.phone}"' in page.text  # the widget's "ring kommunen på ..."
        assert f'data-lang="{profile.default_language}"' in page.text
        assert f'data-server="{servers.rasa_url}"' in page.text
        assert profile.contact.phone in page.text
    missing = servers.http.get(servers.staff_url + "/demo/atlantis")
    assert missing.status_code == 404 and "unknown municipality 'atlantis'" in missing.text


def _answer(replies: list[dict]) -> dict:
    answers = [r["custom"]["data"] for r in replies if isinstance(r.get("custom"), dict)
               and (r["custom"].get("data") or {}).get("type") == "answer"]
    assert answers, f"no answer payload in {replies}"
    data = answers[0]
    return {"url": data.get("url") or (data.get("source") or {}).get("url"), "lang": data.get("lang")}


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang,question", [("nn", "Kor mykje må eg betale i eigedomsskatt?"),
                                           ("nb", "Hvor mye må jeg betale i eiendomsskatt?")])
def test_the_same_question_is_answered_from_the_municipalitys_own_page(servers, slug, lang, question):
    """Each municipality's index: the answer cites its own site, in the citizen's standard."""
    profile = registry().get(slug)
    sender = servers.new_sender()
    send(servers, "hei", slug, sender)
    answer = _answer(send(servers, question, slug, sender))
    assert answer["url"].startswith(profile.contact.website), answer
    assert answer["lang"] == lang
    for other in PROFILES:
        if other.slug != slug:
            assert other.contact.website not in servers.text(send(servers, question, slug, sender))

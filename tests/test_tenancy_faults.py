"""With the action server down, the Rasa server alone still speaks for the right
municipality: the fallback session start takes the municipality from the channel's
metadata and its default standard, and the apology gives that municipality's phone
(bot/rasa_guard.py fills the profile's values in the Rasa process)."""

from __future__ import annotations

import httpx
import pytest
from conftest import free_port, start_stack

from bot.channels.guard import SESSION_HEADER
from bot.service.municipalities import registry

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def rasa_without_actions(tmp_path_factory):
    dead = f"http://127.0.0.1:{free_port()}/webhook"  # nothing listens there
    stack, _ = start_stack(tmp_path_factory.mktemp("no-actions"), names=["rasa"], KOMMUNEBOT_ACTION_URL=dead)
    yield stack
    stack.stop()


TOKENS: dict[str, str] = {}  # each REST conversation's token, from its first reply (docs/PRIVACY.md)


def say(stack, sender: str, text: str, slug: str) -> str:
    headers = {SESSION_HEADER: TOKENS[sender]} if sender in TOKENS else {}
    reply = httpx.post(f"{stack.config.rasa_url}/webhooks/rest/webhook", timeout=120, headers=headers,
                       json={"sender": sender, "message": text, "metadata": {"municipality": slug}})
    reply.raise_for_status()
    TOKENS.setdefault(sender, reply.headers[SESSION_HEADER])
    return "\n".join(m.get("text", "") for m in reply.json())


@pytest.mark.parametrize("slug", registry().slugs)
def test_greeting_and_apology_are_the_municipalitys_without_the_action_server(rasa_without_actions, slug):
    profile = registry().get(slug)
    lang = profile.default_language
    sender = f"down-{slug}"
    greeting = say(rasa_without_actions, sender, "hei", slug)
    assert {"nn": "Eg er chatboten til", "nb": "Jeg er chatboten til"}[lang] + f" {profile.name}" in greeting
    question = {"nn": "Kor mykje kostar SFO?", "nb": "Hvor mye koster SFO?"}[lang]
    apology = say(rasa_without_actions, sender, question, slug)
    assert profile.contact.phone in apology, apology
    assert {"nn": "teknisk problem akkurat no", "nb": "teknisk problem akkurat nå"}[lang] in apology
    assert "{" not in apology, f"a placeholder was not filled: {apology!r}"
    for other in registry():
        if other.slug != slug:
            assert other.contact.phone not in apology

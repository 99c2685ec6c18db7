"""Message rate limits at the channels (bot.channels.guard), over real HTTP, socket.io and
the Messenger webhook, against the channel test server (tests/channels_app.py) started with
small limits: 3 messages a minute per conversation, 5 per client address."""

from __future__ import annotations

import uuid

import httpx
import pytest
from channels_support import ChannelApp, FakeGraphAPI
from test_facebook import post as facebook_post
from test_facebook import webhook_body
from test_socketio_channel import Client

from bot.channels.guard import MessageRate

LIMITS = {"KOMMUNEBOT_LIMIT_MESSAGES_PER_MINUTE": "3", "KOMMUNEBOT_LIMIT_MESSAGES_PER_ADDRESS_MINUTE": "5",
          "KOMMUNEBOT_TRUSTED_PROXIES": "127.0.0.1"}


@pytest.fixture(scope="module")
def graph():
    fake = FakeGraphAPI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def app(graph, tmp_path_factory):
    server = ChannelApp(graph.url, tmp_path_factory.mktemp("rate") / "channels_app.log", **LIMITS)
    yield server
    server.close()


TOKENS: dict[str, str] = {}  # each REST conversation's token (X-Kommunebot-Session)


def rest(app: ChannelApp, sender: str, text: str, address: str = "203.0.113.1") -> httpx.Response:
    """A REST message from `address` (as nginx would forward it)."""
    headers = {"X-Forwarded-For": address}
    if sender in TOKENS:
        headers["X-Kommunebot-Session"] = TOKENS[sender]
    response = httpx.post(f"{app.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                          headers=headers, timeout=30)
    TOKENS.setdefault(sender, response.headers.get("X-Kommunebot-Session", ""))
    return response


def test_a_conversation_over_the_message_rate_gets_429_and_a_friendly_reply(app):
    sender = f"rate-{uuid.uuid4().hex[:8]}"
    for n in range(3):
        response = rest(app, sender, f"Spørsmål {n}", address="203.0.113.10")
        assert response.status_code == 200 and response.json()[0]["text"] == f"Du spurde om: Spørsmål {n}"
    refused = rest(app, sender, "Kva tid opnar de?", address="203.0.113.10")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert refused.json() == [{"recipient_id": sender, "text": "Du sender mange meldingar på kort tid. "
                                                              "Vent eit minutt, så kan du skrive igjen."}]
    bokmal = rest(app, sender, "Hvilke åpningstider har dere ikke?", address="203.0.113.10")
    assert bokmal.status_code == 429 and "Vent et minutt" in bokmal.json()[0]["text"]
    assert not [r for r in app.received() if r["sender"] == sender and r["text"] == "Kva tid opnar de?"]
    other = f"rate-{uuid.uuid4().hex[:8]}"
    assert rest(app, other, "Hei", address="203.0.113.11").status_code == 200  # others are not affected


def test_one_address_over_the_rate_gets_429_whatever_conversation_it_uses(app):
    for _ in range(5):
        assert rest(app, f"spray-{uuid.uuid4().hex[:8]}", "Hei", address="198.51.100.20").status_code == 200
    assert rest(app, f"spray-{uuid.uuid4().hex[:8]}", "Hei", address="198.51.100.20").status_code == 429
    assert rest(app, f"spray-{uuid.uuid4().hex[:8]}", "Hei", address="198.51.100.21").status_code == 200


def test_the_widget_over_the_message_rate_gets_a_friendly_reply(app):
    client = Client(app.url)
    try:
        client.session()
        for n in range(3):
            client.sio.emit("user_uttered", {"message": f"Melding {n}", "session_id": "x"})
            assert client.reply()["text"] == f"Du spurde om: Melding {n}"
        client.sio.emit("user_uttered", {"message": "Ei til", "session_id": "x", "metadata": {"widget_lang": "nb"}})
        assert client.reply()["text"].startswith("Du sender mange meldinger på kort tid.")
    finally:
        client.close()


def test_messenger_over_the_message_rate_gets_a_friendly_reply(app, graph):
    for n in range(4):
        assert facebook_post(app, webhook_body("77001", {"text": f"Melding nummer {n}"})).status_code == 200
    sent = graph.wait_for("77001", 4)
    assert [m["text"] for m in sent[:3]] == [f"Du spurde om: Melding nummer {n}" for n in range(3)]
    assert sent[3]["text"].startswith("Du sender mange meldingar på kort tid.")


def test_message_rate_windows_slide_and_memory_is_bounded():
    rate = MessageRate(per_conversation=2, per_client=3, window_s=60, max_keys=10)
    assert rate.allow("a", "c1", now=0) and rate.allow("a", "c1", now=1)
    assert not rate.allow("a", "c1", now=2)          # conversation full
    assert rate.allow("b", "c1", now=3)               # client: 3rd message
    assert not rate.allow("c", "c1", now=4)           # client full
    assert rate.allow("c", None, now=4)               # no client (exempt): conversation only
    assert rate.allow("a", "c1", now=61)              # the window slid
    for n in range(100):
        rate.allow(f"spray-{n}", None, now=70)
    assert len(rate._seen) <= 10

"""The hardened Facebook Messenger webhook (bot.channels.facebook) over real HTTP.

The channel runs in a Rasa Sanic app in the Rasa virtualenv (tests/channels_app.py, with
a scripted stand-in for the assistant); Facebook's Graph API is replaced by a local fake
that records what would have been sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid

import httpx
import pytest
from channels_support import FACEBOOK_ENV, ChannelApp, FakeGraphAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SECRET = FACEBOOK_ENV["KOMMUNEBOT_FACEBOOK_APP_SECRET"]
NATIONAL_ID = "01010012356"  # valid check digits (a test number)


@pytest.fixture(scope="module")
def graph():
    fake = FakeGraphAPI()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def app(graph, tmp_path_factory):
    server = ChannelApp(graph.url, tmp_path_factory.mktemp("facebook") / "channels_app.log")
    yield server
    server.close()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(sender: str, message: dict | None = None, postback: dict | None = None) -> bytes:
    event: dict = {"sender": {"id": sender}, "recipient": {"id": "999"}, "timestamp": int(time.time() * 1000)}
    if message is not None:
        event["message"] = {"mid": f"m-{uuid.uuid4().hex}", **message}  # each delivery its own id
    if postback is not None:
        event["postback"] = postback
    return json.dumps({"object": "page", "entry": [{"id": "999", "time": 1, "messaging": [event]}]}).encode()


def post(app: ChannelApp, body: bytes, signature: str | None = "sign", **headers) -> httpx.Response:
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(app.url + "/webhooks/facebook/webhook", content=body,
                      headers={"Content-Type": "application/json", **headers}, timeout=30)


def test_signed_message_is_answered_through_the_graph_api(app, graph):
    reply = post(app, webhook_body("1001", {"text": "Kva kostar SFO?"}))
    assert reply.status_code == 200
    sent = graph.wait_for("1001", 1)
    assert sent == [{"text": "Du spurde om: Kva kostar SFO?"}]
    call = next(c for c in graph.calls if c["body"]["recipient"]["id"] == "1001")
    assert call["path"].startswith("/v19.0/me/messages?access_token=test-page-token")
    assert call["body"]["messaging_type"] == "RESPONSE"


@pytest.mark.parametrize("signature", [
    None,                                         # missing
    "sha256=" + "0" * 64,                         # forged
    sign(b"another body"),                        # signature of a different body
    "sha256=" + hmac.new(b"wrong-secret", b"x", hashlib.sha256).hexdigest(),
    "sha1=deadbeef",                              # the old SHA-1 header format only
    "",
])
def test_missing_or_wrong_signature_is_refused_with_403(app, graph, signature):
    sender = f"20{abs(hash(signature)) % 10**6}"
    body = webhook_body(sender, {"text": "Forfalska melding"})
    reply = post(app, body, signature=signature)
    assert reply.status_code == 403
    assert "X-Hub-Signature-256" in reply.json()["error"]
    time.sleep(0.3)
    assert graph.messages_to(sender) == []
    assert all(m["sender"] != sender for m in app.received())


def test_sha1_header_alone_is_not_enough(app, graph):
    body = webhook_body("2100", {"text": "Berre SHA-1"})
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    reply = post(app, body, signature=None, **{"X-Hub-Signature": sha1})
    assert reply.status_code == 403


@pytest.mark.parametrize("body", [
    b"{not json",
    b"\xff\xfe\x00binary",
    b"",
    b'["a list"]',
    b'{"object": "page"}',
    b'{"object": "page", "entry": [{"messaging": "x"}]}',
    b'{"object": "page", "entry": ["x"]}',
    b'{"object": "instagram", "entry": []}',
])
def test_malformed_or_wrongly_shaped_json_gets_400_and_the_server_stays_up(app, graph, body):
    reply = post(app, body)
    assert reply.status_code == 400
    assert "expected a JSON page webhook" in reply.json()["error"]
    again = post(app, webhook_body("3001", {"text": "Er du der?"}))
    assert again.status_code == 200


def test_oversized_body_gets_413(app):
    body = b'{"object": "page", "entry": [], "pad": "' + b"x" * 300_000 + b'"}'
    assert post(app, body).status_code == 413


def test_national_id_gives_a_warning_and_is_never_stored_or_logged(app, graph):
    spaced = NATIONAL_ID[:6] + " " + NATIONAL_ID[6:]
    reply = post(app, webhook_body("4001", {"text": f"Mitt personnummer er {spaced}, kan de sjekke saka mi?"}))
    assert reply.status_code == 200
    sent = graph.wait_for("4001", 2)
    assert "personnummer" in sent[0]["text"] and "Messenger" in sent[0]["text"]
    assert "Ikkje skriv personnummer" in sent[0]["text"]  # Nynorsk question, Nynorsk warning
    texts = [m["text"] for m in app.received() if m["sender"] == "4001"]
    assert texts and all(NATIONAL_ID[:6] not in t and NATIONAL_ID[6:] not in t for t in texts)
    assert "[fødselsnummer]" in texts[0]
    for message in sent:
        assert NATIONAL_ID[6:] not in json.dumps(message, ensure_ascii=False)
    time.sleep(0.3)
    log = app.log()
    assert NATIONAL_ID[6:] not in log and NATIONAL_ID not in log


def test_bokmal_national_id_warning_is_in_bokmal(app, graph):
    text = f"Hei, jeg lurer på om dere har fått søknaden min. Fødselsnummeret mitt er {NATIONAL_ID}"
    post(app, webhook_body("4002", {"text": text}))
    sent = graph.wait_for("4002", 1)
    assert "Ikke skriv personnummer" in sent[0]["text"]


def test_custom_payloads_never_reach_the_graph_api(app, graph):
    for n, command in enumerate(("/answer", "/handoff", "/feedback")):
        assert post(app, webhook_body(f"500{n}", {"text": command})).status_code == 200
    answer = graph.wait_for("5000", 2)
    assert answer[0] == {"text": "Søknadsfristen for barnehageplass i hovudopptaket er 1. mars."}
    assert answer[1] == {"text": "Les meir: https://www.alver.kommune.no/barnehage/"}
    handoff = graph.wait_for("5001", 1)
    assert handoff == [{"text": "Hei, eg heiter Kari og jobbar i servicetorget."}]
    time.sleep(0.5)
    assert graph.messages_to("5002") == []
    for call in graph.calls:
        message = call["body"]["message"]
        assert set(message) <= {"text", "quick_replies", "attachment"}, message
        assert "data" not in json.dumps(message)


def test_answer_source_already_in_the_text_is_not_repeated(app, graph):
    post(app, webhook_body("5101", {"text": "/answer-linked"}))
    time.sleep(0.5)
    sent = graph.wait_for("5101", 2)
    assert sum("https://www.alver.kommune.no/barnehage/" in m["text"] for m in sent) == 1, sent


def test_buttons_become_quick_replies_and_their_payload_comes_back(app, graph):
    post(app, webhook_body("6001", {"text": "/buttons"}))
    sent = graph.wait_for("6001", 1)
    assert sent[0]["text"] == "Fekk du svar på spørsmålet ditt?"
    assert sent[0]["quick_replies"] == [
        {"content_type": "text", "title": "Ja", "payload": "/affirm"},
        {"content_type": "text", "title": "Nei", "payload": "/deny"},
    ]
    post(app, webhook_body("6001", {"text": "Ja", "quick_reply": {"payload": "/affirm"}}))
    post(app, webhook_body("6001", postback={"title": "Nei", "payload": "/deny"}))
    sent = graph.wait_for("6001", 3)
    assert sent[1] == {"text": "Du spurde om: /affirm"} and sent[2] == {"text": "Du spurde om: /deny"}


@pytest.mark.parametrize("message, expected", [
    ({"text": "   "}, "Meldinga di var tom"),
    ({"text": "Kva " * 400}, "Meldinga di er for lang"),
    ({"attachments": [{"type": "image", "payload": {"url": "https://example.org/x.jpg"}}]}, "berre lese tekst"),
], ids=["empty", "too-long", "image"])
def test_bad_messages_get_a_friendly_answer_not_the_assistant(app, graph, message, expected):
    sender = f"70{len(json.dumps(message))}"
    assert post(app, webhook_body(sender, message)).status_code == 200
    sent = graph.wait_for(sender, 1)
    assert expected in sent[0]["text"]
    assert all(m["sender"] != sender for m in app.received())


def test_entries_without_messaging_are_accepted_and_ignored(app, graph):
    body = json.dumps({"object": "page", "entry": [{"id": "999", "time": 1, "standby": [
        {"sender": {"id": "8101"}, "recipient": {"id": "999"}, "message": {"text": "til ein annan app"}}]}]}).encode()
    assert post(app, body).status_code == 200
    time.sleep(0.3)
    assert graph.messages_to("8101") == []


def test_echoes_and_delivery_receipts_are_ignored(app, graph):
    post(app, webhook_body("8001", {"text": "Page said this", "is_echo": True}))
    body = json.dumps({"object": "page", "entry": [{"messaging": [
        {"sender": {"id": "8001"}, "recipient": {"id": "999"}, "delivery": {"mids": ["m1"]}}]}]}).encode()
    assert post(app, body).status_code == 200
    time.sleep(0.5)
    assert graph.messages_to("8001") == []


def test_a_retried_delivery_is_handled_once(app, graph):
    """Facebook retries a call it got no 200 for, with the same message id."""
    body = webhook_body("9101", {"text": "Kva kostar SFO?", "mid": f"m-retry-{uuid.uuid4().hex}"})
    for _ in range(3):
        assert post(app, body).status_code == 200
    assert graph.wait_for("9101", 1) == [{"text": "Du spurde om: Kva kostar SFO?"}]
    time.sleep(1.0)
    assert graph.messages_to("9101") == [{"text": "Du spurde om: Kva kostar SFO?"}]
    assert len([m for m in app.received() if m["sender"] == "9101"]) == 1
    # A new message with the same text is a new delivery.
    post(app, webhook_body("9101", {"text": "Kva kostar SFO?"}))
    assert len(graph.wait_for("9101", 2)) == 2


def test_the_webhook_answers_200_before_the_answer_is_made(app, graph):
    started = time.monotonic()
    reply = post(app, webhook_body("9102", {"text": "/later"}))  # the stand-in answers after 1.5 s
    assert reply.status_code == 200 and time.monotonic() - started < 1.0
    assert graph.messages_to("9102") == []
    assert graph.wait_for("9102", 1) == [{"text": "Takk for at du venta. Her er svaret."}]


def test_one_citizens_messages_are_handled_in_order(app, graph):
    post(app, webhook_body("9103", {"text": "/later"}))
    post(app, webhook_body("9103", {"text": "Andre melding"}))
    sent = graph.wait_for("9103", 2)
    assert [m["text"] for m in sent] == ["Takk for at du venta. Her er svaret.", "Du spurde om: Andre melding"]


def test_webhook_verification_checks_the_verify_token(app):
    ok = httpx.get(app.url + "/webhooks/facebook/webhook", params={
        "hub.mode": "subscribe", "hub.verify_token": FACEBOOK_ENV["KOMMUNEBOT_FACEBOOK_VERIFY_TOKEN"],
        "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = httpx.get(app.url + "/webhooks/facebook/webhook", params={
        "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert bad.status_code == 403


def test_slow_graph_api_does_not_block_the_server(app, graph):
    graph.delay = 2.0
    try:
        thread = threading.Thread(target=post, args=(app, webhook_body("9001", {"text": "Treg Facebook"})))
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        health = httpx.get(app.url + "/webhooks/facebook/", timeout=10)
        assert health.status_code == 200
        assert time.monotonic() - started < 1.0, "the event loop was blocked by the Graph API call"
        thread.join(timeout=20)
    finally:
        graph.delay = 0.0
    assert graph.wait_for("9001", 1) == [{"text": "Du spurde om: Treg Facebook"}]


def test_graph_api_timeout_is_logged_and_the_webhook_still_answers(app, graph):
    graph.delay = 4.0  # longer than KOMMUNEBOT_FACEBOOK_TIMEOUT=3 in the test server
    try:
        started = time.monotonic()
        reply = post(app, webhook_body("9002", {"text": "Tidsavbrot"}))
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 20  # the answer is sent after the 200, in the background
        while "Graph API not reachable" not in app.log() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        graph.delay = 0.0
    assert reply.status_code == 200
    assert elapsed < 8
    assert "Graph API not reachable" in app.log()


@pytest.fixture(scope="module")
def messenger_rasa(servers, graph, tmp_path_factory):
    """A second real Rasa server (the trained model, the session's action server) with
    the Facebook channel pointed at the fake Graph API."""
    from conftest import start_stack

    stack, _ = start_stack(tmp_path_factory.mktemp("messenger"), names=["rasa"],
                           KOMMUNEBOT_ACTION_URL=servers.action_url,
                           KOMMUNEBOT_FACEBOOK_GRAPH_URL=graph.url, KOMMUNEBOT_FACEBOOK_TIMEOUT="5",
                           **FACEBOOK_ENV)
    yield stack
    stack.stop()


@pytest.mark.servers
def test_trained_assistant_answers_in_messenger_with_text_only(messenger_rasa, graph):
    from bot.service.profile import load_profile

    url = messenger_rasa.config.rasa_url + "/webhooks/facebook/webhook"
    body = webhook_body("11001", {"text": "Kva er telefonnummeret til kommunen?"})
    reply = httpx.post(url, content=body, headers={"X-Hub-Signature-256": sign(body)}, timeout=60)
    assert reply.status_code == 200
    sent = graph.wait_for("11001", 1, timeout=60)
    assert any(load_profile().contact.phone in m.get("text", "") for m in sent), sent
    for message in sent:
        assert set(message) <= {"text", "quick_replies", "attachment"}, message
        assert len(message.get("text", "")) <= 2000

    forged = httpx.post(url, content=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}, timeout=30)
    assert forged.status_code == 403


@pytest.mark.servers
def test_national_id_never_reaches_the_real_tracker_or_logs(messenger_rasa, graph):
    url = messenger_rasa.config.rasa_url + "/webhooks/facebook/webhook"
    body = webhook_body("11002", {"text": f"Har de fått søknaden min? Fødselsnummer {NATIONAL_ID}"})
    assert httpx.post(url, content=body, headers={"X-Hub-Signature-256": sign(body)}, timeout=60).status_code == 200
    sent = graph.wait_for("11002", 2, timeout=60)
    assert "personnummer" in sent[0]["text"]
    tracker = httpx.get(f"{messenger_rasa.config.rasa_url}/conversations/11002/tracker",
                        params={"token": messenger_rasa.token}, timeout=30).json()
    assert NATIONAL_ID not in json.dumps(tracker, ensure_ascii=False)
    assert NATIONAL_ID not in messenger_rasa.log("rasa").read_text(encoding="utf-8", errors="replace")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.dictionaries(st.sampled_from(["sender", "message", "postback", "delivery", "read", "x"]),
                             json_values, max_size=4))
def test_fuzzed_signed_events_never_break_the_webhook(app, event):
    body = json.dumps({"object": "page", "entry": [{"messaging": [event]}]}).encode()
    assert post(app, body).status_code == 200


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzzed_signed_bodies_get_a_clear_status(app, body):
    assert post(app, body).status_code in (200, 400)

"""Bad input on every public endpoint of the real servers: REST webhook, socket.io,
Facebook webhook and staff portal.

Each bad request must get a clear error (4xx with a message saying what is expected, or a
503 naming the missing setting) or a polite bot answer, never a 500 or a stack trace,
never a hang (every call has a timeout), and the server must answer the next normal
request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import uuid

import httpx
import pytest
import socketio
from reliability_support import assert_clean, assert_login_refused

from bot.channels.user_text import MAX_MESSAGE_CHARS

pytestmark = pytest.mark.servers

TIMEOUT = 60  # seconds: a reply slower than this is a hang
BIG = "Kva kostar SFO? " * 640  # ~10 kB: over the length limit, under the 64 KB body limit
HUGE = "Kva kostar SFO? " * 6400  # ~100 kB: over the body limit


def assert_still_answers(servers) -> None:
    replies = servers.send("Hei")
    assert servers.text(replies), "the REST channel did not answer a normal greeting after bad input"


def rest(servers, content: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook", content=content,
                      headers={"Content-Type": content_type}, timeout=TIMEOUT)


# -- REST ---------------------------------------------------------------------------------

POLITE_TEXTS = {
    "empty": "",
    "whitespace": "  \n\t  ",
    "control characters": "\x00\x01\x1b[31mkva\x07 kostar\x7f sfo\x9f",
    "control characters only": "\x00\x01\x02\x1b",
    "emoji only": "🙂🙂🎉👍🏽",
    "html and script": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "sql-like": "Robert'); DROP TABLE events; DELETE FROM handoffs; --",
    "right-to-left override": "\u202ekva tid opnar de\u202c",
    "lone surrogate": "hei \ud800 der",
    "exactly at the limit": "a" * MAX_MESSAGE_CHARS,
}


@pytest.mark.parametrize("name", sorted(POLITE_TEXTS))
def test_rest_odd_text_gets_a_polite_answer(servers, name):
    body = json.dumps({"sender": servers.new_sender(), "message": POLITE_TEXTS[name]})
    response = rest(servers, body.encode("utf-8"))
    assert_clean(response)
    assert response.status_code == 200
    replies = response.json()
    assert isinstance(replies, list) and any(r.get("text") for r in replies), replies
    assert_still_answers(servers)


def test_rest_over_long_message_gets_the_length_limit_in_the_citizens_standard(servers):
    for text, lang_word in ((BIG, "teikn"), ("Hvordan søker jeg om barnehageplass? " * 40, "tegn")):
        response = rest(servers, json.dumps({"sender": servers.new_sender(), "message": text}).encode())
        assert_clean(response)
        reply = " ".join(r.get("text", "") for r in response.json())
        assert str(MAX_MESSAGE_CHARS) in reply and lang_word in reply, reply
    assert_still_answers(servers)


def test_rest_body_over_the_limit_is_refused_with_413(servers):
    response = rest(servers, json.dumps({"sender": servers.new_sender(), "message": HUGE}).encode())
    assert_clean(response)
    assert response.status_code == 413
    assert_still_answers(servers)


def test_rest_over_long_message_is_not_stored(servers):
    sender = servers.new_sender()
    rest(servers, json.dumps({"sender": sender, "message": BIG}).encode())
    tracker = servers.tracker(sender)
    assert not any(e.get("event") == "user" and len(e.get("text") or "") > MAX_MESSAGE_CHARS
                   for e in tracker.get("events", []))


STRUCTURAL = {
    "empty body": (b"", "application/json"),
    "malformed json": (b'{"sender": "x", "message": "hei"', "application/json"),
    "json array": (b'[{"sender": "x", "message": "hei"}]', "application/json"),
    "json string": (b'"hei"', "application/json"),
    "json null": (b"null", "application/json"),
    "missing message": (b'{"sender": "rel-missing-message"}', "application/json"),
    "missing sender": (b'{"message": "hei"}', "application/json"),
    "message is a number": (b'{"sender": "rel-number", "message": 123}', "application/json"),
    "message is an object": (b'{"sender": "rel-object", "message": {"text": "hei"}}', "application/json"),
    "sender is a list": (b'{"sender": ["x"], "message": "hei"}', "application/json"),
    "sender too long": (json.dumps({"sender": "x" * 5000, "message": "hei"}).encode(), "application/json"),
    "metadata is a string": (b'{"sender": "rel-meta", "message": "hei", "metadata": "x"}', "application/json"),
    "binary": (os.urandom(4096), "application/octet-stream"),
    "binary as json": (b"\x89PNG\r\n\x1a\n" + os.urandom(512), "application/json"),
    "invalid utf-8": (b'{"sender": "rel-utf8", "message": "hei \xff\xfe der"}', "application/json"),
    "form encoded": (b"sender=x&message=hei", "application/x-www-form-urlencoded"),
    "plain text": (b"hei", "text/plain"),
    "xml": (b"<message>hei</message>", "application/xml"),
}


@pytest.mark.parametrize("name", sorted(STRUCTURAL))
def test_rest_malformed_requests_get_a_clear_400(servers, name):
    content, content_type = STRUCTURAL[name]
    response = rest(servers, content, content_type)
    assert_clean(response)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "sender" in response.json()["error"] or "metadata" in response.json()["error"]
    assert_still_answers(servers)


def test_rest_ignores_a_claimed_input_channel(servers):
    sender = servers.new_sender()
    response = rest(servers, json.dumps({"sender": sender, "message": "Hei", "input_channel": "facebook"}).encode())
    assert response.status_code == 200
    channels = {e.get("input_channel") for e in servers.tracker(sender)["events"] if e.get("event") == "user"}
    assert channels == {"rest"}


def test_rest_wrong_method_and_unknown_paths_are_clean(servers):
    for method, path in (("GET", "/webhooks/rest/webhook"), ("PUT", "/webhooks/rest/webhook"),
                         ("GET", "/webhooks/nonexistent/webhook"), ("GET", "/%00%ff")):
        assert_clean(httpx.request(method, f"{servers.rasa_url}{path}", timeout=TIMEOUT))
    assert_still_answers(servers)


# -- socket.io ----------------------------------------------------------------------------

class Widget:
    """A socket.io client like the web widget (session persistence)."""

    def __init__(self, url: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.messages: queue.Queue = queue.Queue()
        confirmed: queue.Queue = queue.Queue()
        self.sio.on("bot_uttered", self.messages.put)
        self.sio.on("session_confirm", confirmed.put)
        self.sio.connect(url, transports=["websocket"], wait_timeout=20)
        self.session_id = uuid.uuid4().hex
        self.sio.emit("session_request", {"session_id": self.session_id})
        confirmed.get(timeout=20)

    def emit(self, payload) -> None:
        self.sio.emit("user_uttered", payload)

    def reply(self) -> dict:
        return self.messages.get(timeout=TIMEOUT)

    def drain(self) -> None:
        while not self.messages.empty():
            self.messages.get_nowait()


@pytest.fixture(scope="module")
def widget(servers):
    client = Widget(servers.rasa_url)
    yield client
    client.sio.disconnect()


SOCKET_BAD = {
    "empty": lambda sid: {"message": "", "session_id": sid},
    "whitespace": lambda sid: {"message": " \n ", "session_id": sid},
    "10 kB": lambda sid: {"message": BIG, "session_id": sid},
    "binary message": lambda sid: {"message": os.urandom(256), "session_id": sid},
    "number message": lambda sid: {"message": 42, "session_id": sid},
    "missing message": lambda sid: {"session_id": sid},
    "not an object": lambda sid: "hei",
    "a list": lambda sid: ["hei", sid],
    "control characters only": lambda sid: {"message": "\x00\x1b\x7f", "session_id": sid},
}


@pytest.mark.parametrize("name", sorted(SOCKET_BAD))
def test_socketio_bad_input_gets_a_polite_answer(servers, widget, name):
    widget.drain()
    widget.emit(SOCKET_BAD[name](widget.session_id))
    assert widget.reply().get("text"), f"no polite answer to {name}"
    widget.drain()
    widget.emit({"message": "Hei", "session_id": widget.session_id})
    assert widget.reply().get("text"), "the widget's next normal message got no answer"


def test_socketio_message_without_session_is_refused_politely(servers, widget):
    widget.drain()
    widget.emit({"message": "Hei", "session_id": "<script>"})
    assert widget.reply().get("text")


# -- Facebook webhook ---------------------------------------------------------------------

FB_BODIES = {
    "empty": b"",
    "malformed json": b'{"object": "page", "entry": [',
    "not a page event": b'{"object": "user"}',
    "binary": os.urandom(2048),
    "invalid utf-8": b'{"object": "page", "entry": [{"messaging": [{"message": {"text": "\xff"}}]}]}',
    "100 kB": json.dumps({"object": "page", "entry": [{"messaging": [
        {"sender": {"id": "123"}, "message": {"text": HUGE}}]}]}).encode(),
    "missing fields": b'{"object": "page", "entry": [{"messaging": [{}]}]}',
}


def _fb_secret(servers) -> str:
    return servers.env.get("KOMMUNEBOT_FACEBOOK_APP_SECRET", "")


@pytest.mark.parametrize("name", sorted(FB_BODIES))
@pytest.mark.parametrize("signed", [False, True])
def test_facebook_webhook_bad_input_gets_a_clear_error(servers, name, signed):
    body = FB_BODIES[name]
    headers = {"Content-Type": "application/json"}
    secret = _fb_secret(servers)
    if signed and secret:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    elif signed:
        headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    response = httpx.post(f"{servers.rasa_url}/webhooks/facebook/webhook", content=body, headers=headers,
                          timeout=TIMEOUT)
    assert_clean(response)
    if len(body) > 64 * 1024:
        assert response.status_code == 413  # refused before it is read, whatever the configuration
    elif not secret:
        # Not configured in this test stack: the webhook says which settings are missing.
        assert response.status_code == 503 and "KOMMUNEBOT_FACEBOOK_APP_SECRET" in response.text
    elif not signed:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 400, 413), response.text[:300]
    assert_still_answers(servers)


def test_facebook_verification_with_bad_tokens_is_refused(servers):
    for params in ({}, {"hub.mode": "subscribe", "hub.verify_token": "\x00wrong", "hub.challenge": "<b>x</b>"},
                   {"hub.mode": "subscribe", "hub.verify_token": "x" * 10000}):
        response = httpx.get(f"{servers.rasa_url}/webhooks/facebook/webhook", params=params, timeout=TIMEOUT)
        assert_clean(response)
        assert response.status_code in (403, 413, 414)  # a 10 kB query string is refused as too large


# -- staff portal -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def portal(servers):
    if not servers.staff_url:
        pytest.fail("the staff portal did not start in the servers fixture (bot.staff missing?)")
    return servers.staff_url


PORTAL_BAD = {
    "empty form": (b"", "application/x-www-form-urlencoded"),
    "binary": (os.urandom(4096), "application/octet-stream"),
    "invalid utf-8 form": (b"username=\xff\xfe&password=\xc3", "application/x-www-form-urlencoded"),
    "100 kB fields": (("username=" + "a" * 50000 + "&password=" + "b" * 50000).encode(),
                      "application/x-www-form-urlencoded"),
    "json instead of form": (b'{"username": "a", "password": "b"}', "application/json"),
    "malformed multipart": (b"--xyz\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\na",
                            "multipart/form-data; boundary=xyz"),
    "sql-like": (b"username=admin'--&password=' OR '1'='1&csrf_token=x", "application/x-www-form-urlencoded"),
    "control characters": (b"username=%00%01%1b&password=%7f", "application/x-www-form-urlencoded"),
}


@pytest.mark.parametrize("name", sorted(PORTAL_BAD))
def test_staff_login_bad_input_is_refused_cleanly(servers, portal, name):
    content, content_type = PORTAL_BAD[name]
    response = httpx.post(f"{portal}/staff/login", content=content, headers={"Content-Type": content_type},
                          timeout=TIMEOUT, follow_redirects=False)
    assert_login_refused(response)
    assert httpx.get(f"{portal}/healthz", timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("path", ["/staff/cases/%00%ff", "/staff/cases/" + "A" * 5000, "/staff/cases/'%20OR%201=1",
                                  "/staff/../../etc/passwd", "/widget/../../bot/config.py", "/staff/?q=<script>"])
def test_staff_portal_odd_paths_are_clean_and_need_login(servers, portal, path):
    response = httpx.get(f"{portal}{path}", timeout=TIMEOUT, follow_redirects=False)
    assert_clean(response)
    assert response.status_code in (302, 303, 400, 401, 403, 404), response.status_code
    assert "ROOT" not in response.text and "settings()" not in response.text
    assert httpx.get(f"{portal}/healthz", timeout=TIMEOUT).status_code == 200

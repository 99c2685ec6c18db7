"""Bad input on the widget's socket.io channel (bot.channels.socketio) from a raw client.

The channel runs in a Rasa Sanic app in the Rasa virtualenv (tests/channels_app.py, with
a scripted stand-in for the assistant that answers "Du spurde om: <text>").
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess

import httpx
import pytest
import socketio

from channels_support import ChannelApp, FakeGraphAPI, channel_app_with_fake_graph, free_port, wait_for_port


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with channel_app_with_fake_graph(tmp_path_factory.mktemp("socketio")) as server:
        yield server


class Client:
    """A raw socket.io client that records bot_uttered and session_confirm events."""

    def __init__(self, url: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.replies: queue.Queue = queue.Queue()
        self.confirms: queue.Queue = queue.Queue()
        self.sio.on("bot_uttered", lambda data: self.replies.put(data))
        self.sio.on("session_confirm", lambda data: self.confirms.put(data))
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def session(self, data=None) -> str:
        self.sio.emit("session_request", data)
        return self.confirms.get(timeout=10)

    def reply(self) -> dict:
        return self.replies.get(timeout=10)

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def client(app):
    c = Client(app.url)
    yield c
    c.close()


@pytest.mark.parametrize("data", [None, 42, "a string", ["list"], {"session_id": 5},
                                  {"session_id": "../../etc"}, {"session_id": "x" * 500}])
def test_bad_session_request_gets_a_fresh_session_id(client, data):
    session_id = client.session(data)
    assert re.fullmatch(r"[0-9a-f]{32}", session_id)


def test_a_valid_session_id_is_kept(client):
    assert client.session({"session_id": "abcdef0123456789"}) == "abcdef0123456789"


@pytest.mark.parametrize("message, expected", [
    ("", "Meldinga di var tom"),
    ("   \n\t ", "Meldinga di var tom"),
    ("\x00\x01\x1b", "Meldinga di var tom"),
    ("Kva " * 25_000, "Meldinga di er for lang"),  # 100 kB
    (12345, "Eg kan berre lese tekst"),
    ({"nested": "object"}, "Eg kan berre lese tekst"),
    (None, "Eg kan berre lese tekst"),
], ids=["empty", "whitespace", "control-chars", "100kB", "number", "object", "null"])
def test_bad_messages_get_a_friendly_reply_and_the_next_one_works(client, message, expected):
    session_id = client.session()
    client.sio.emit("user_uttered", {"message": message, "session_id": session_id,
                                      "metadata": {"widget_lang": "nn"}})
    assert expected in client.reply()["text"]
    client.sio.emit("user_uttered", {"message": "Kva kostar SFO?", "session_id": session_id})
    assert client.reply()["text"] == "Du spurde om: Kva kostar SFO?"


def test_bokmal_page_gets_bokmal_error_replies(client):
    session_id = client.session()
    client.sio.emit("user_uttered", {"message": " ", "session_id": session_id,
                                      "metadata": {"widget_lang": "nb"}})
    assert "Meldingen din var tom" in client.reply()["text"]


@pytest.mark.parametrize("payload", ["just a string", 7, ["a", "list"]])
def test_non_object_payload_is_answered_not_dropped(client, payload):
    client.session()
    client.sio.emit("user_uttered", payload)
    assert "Eg kan berre lese tekst" in client.reply()["text"]


def test_message_without_session_id_gets_a_reload_hint(client):
    client.session()
    client.sio.emit("user_uttered", {"message": "hei"})
    assert "Last inn sida på nytt" in client.reply()["text"]


@pytest.mark.parametrize("text", ["😀🎉👍", "<script>alert(1)</script>", "'; DROP TABLE cases; --",
                                  "Kva\u200bkostar\u00a0SFO"], ids=["emoji", "html", "sql", "zero-width"])
def test_unusual_but_valid_text_reaches_the_assistant_unchanged(client, text):
    session_id = client.session()
    client.sio.emit("user_uttered", {"message": text, "session_id": session_id})
    assert client.reply()["text"] == f"Du spurde om: {text}"


def test_control_characters_are_removed_before_the_assistant(client, app):
    session_id = client.session()
    client.sio.emit("user_uttered", {"message": "Opnings\x00tider\x1b", "session_id": session_id})
    assert client.reply()["text"] == "Du spurde om: Opningstider"


def test_text_messages_carry_the_detected_written_standard(client):
    session_id = client.session()
    client.sio.emit("user_uttered", {"message": "Kva tid opnar servicetorget i Knarvik?", "session_id": session_id})
    assert client.reply()["lang"] == "nn"
    client.sio.emit("user_uttered", {"message": "Hvilke åpningstider har servicetorget ikke?", "session_id": session_id})
    assert client.reply()["lang"] == "nb"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server not found: apt-get install redis-server")
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_relay_through_another_rasa_server_reaches_the_widget(redis_url, tmp_path_factory):
    """Two Rasa servers share socket.io rooms through Redis: a staff reply relayed by the
    server the widget is not connected to still reaches it."""
    graph = FakeGraphAPI()
    logs = tmp_path_factory.mktemp("scaleout")
    first = ChannelApp(graph.url, logs / "a.log", KOMMUNEBOT_SOCKETIO_REDIS_URL=redis_url)
    second = ChannelApp(graph.url, logs / "b.log", KOMMUNEBOT_SOCKETIO_REDIS_URL=redis_url)
    client = Client(first.url)
    try:
        session_id = client.session()
        httpx.post(f"{second.url}/_relay/{session_id}", content="Hei frå servicetorget.".encode(),
                   timeout=10).raise_for_status()
        assert client.reply()["text"] == "Hei frå servicetorget."
    finally:
        client.close()
        first.close()
        second.close()
        graph.close()

"""Bad input on the widget's socket.io channel (bot.channels.socketio) from a raw client.

The channel runs in a Rasa Sanic app in the Rasa virtualenv (tests/channels_app.py, with
a scripted stand-in for the assistant that answers "Du spurde om: <text>").
"""

from __future__ import annotations

import json
import pickle
import queue
import re
import shutil
import socket
import subprocess
import time

import httpx
import pytest
import socketio
import websocket
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
        """Ask for a session; returns its id (the token is kept in `self.token`)."""
        self.sio.emit("session_request", data)
        confirmed = self.confirms.get(timeout=10)
        assert isinstance(confirmed, dict), confirmed
        self.token = confirmed["session_token"]
        return confirmed["session_id"]

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
                                  {"session_id": "../../etc"}, {"session_id": "x" * 500},
                                  {"session_token": "abcdef0123456789.forged"}, {"session_token": 7}])
def test_bad_session_request_gets_a_fresh_session_id(client, data):
    session_id = client.session(data)
    assert re.fullmatch(r"[0-9a-f]{32}", session_id)


def test_a_client_chosen_session_id_is_not_taken(client):
    """The server issues session ids: asking for one (a victim's, say) gives a new one."""
    assert client.session({"session_id": "abcdef0123456789"}) != "abcdef0123456789"


def test_the_session_token_leads_back_to_the_session(app):
    first, again = Client(app.url), Client(app.url)
    try:
        session_id = first.session()
        assert again.session({"session_token": first.token}) == session_id
        again.sio.emit("user_uttered", {"message": "Er eg tilbake?", "session_id": session_id})
        assert again.reply()["text"] == "Du spurde om: Er eg tilbake?"
    finally:
        first.close()
        again.close()


def test_knowing_a_session_id_gives_no_access_to_the_conversation(app):
    """An attacker who learns the citizen's session id can neither join its room (staff
    replies, bot answers) nor write into the conversation."""
    citizen, attacker = Client(app.url), Client(app.url)
    try:
        victim = citizen.session()
        assert attacker.session({"session_id": victim}) != victim
        attacker.sio.emit("user_uttered", {"message": "Kapra", "session_id": victim})
        assert attacker.reply()["text"] == "Du spurde om: Kapra"  # answered in the attacker's own session
        httpx.post(f"{app.url}/_relay/{victim}", content=b"Svar til innbyggjaren", timeout=10).raise_for_status()
        assert citizen.reply()["text"] == "Svar til innbyggjaren"
        with pytest.raises(queue.Empty):
            citizen.replies.get(timeout=1)  # the attacker's message did not land in the citizen's session
        with pytest.raises(queue.Empty):
            attacker.replies.get(timeout=1)  # nor did the staff reply reach the attacker
        senders = {r["sender"] for r in app.received() if r["text"] == "Kapra"}
        assert senders and victim not in senders
    finally:
        citizen.close()
        attacker.close()


def test_a_script_asking_for_sessions_in_a_loop_is_cut_off(app):
    """Every session request (and, with a live chat, every sync and acknowledgement) reads
    the handoff database: one socket gets at most 60 a minute; other sockets still work."""
    looping = Client(app.url)
    try:
        for _ in range(90):
            looping.sio.emit("session_request", None)
        time.sleep(3)
        assert 50 <= looping.confirms.qsize() <= 60
    finally:
        looping.close()
    fresh = Client(app.url)
    try:
        assert re.fullmatch(r"[0-9a-f]{32}", fresh.session())
    finally:
        fresh.close()


def test_a_script_syncing_in_a_loop_is_cut_off_and_cannot_sync_another_session(app):
    """kb_sync (the widget asks for what it missed) reads the handoff database: at most 60
    a minute for a session, and only for the session the socket proved."""
    citizen, looping = Client(app.url), Client(app.url)
    statuses: queue.Queue = queue.Queue()
    looping.sio.on("kb_status", lambda data: statuses.put(data))
    try:
        victim = citizen.session()
        own = looping.session()
        time.sleep(1)
        while not statuses.empty():  # the status every session request is answered with
            statuses.get_nowait()
        for _ in range(5):
            looping.sio.emit("kb_sync", {"session_id": victim})
        time.sleep(1)
        assert statuses.empty()  # nothing for a session this socket did not prove
        for _ in range(90):
            looping.sio.emit("kb_sync", {"session_id": own})
        time.sleep(3)
        assert 50 <= statuses.qsize() <= 60
    finally:
        citizen.close()
        looping.close()


@pytest.mark.parametrize("message, expected", [
    ("", "Meldinga di var tom"),
    ("   \n\t ", "Meldinga di var tom"),
    ("\x00\x01\x1b", "Meldinga di var tom"),
    ("Kva " * 2_500, "Meldinga di er for lang"),  # 10 kB: over the length limit, under the body limit
    (12345, "Eg kan berre lese tekst"),
    ({"nested": "object"}, "Eg kan berre lese tekst"),
    (None, "Eg kan berre lese tekst"),
], ids=["empty", "whitespace", "control-chars", "10kB", "number", "object", "null"])
def test_bad_messages_get_a_friendly_reply_and_the_next_one_works(client, message, expected):
    session_id = client.session()
    client.sio.emit("user_uttered", {"message": message, "session_id": session_id,
                                      "metadata": {"widget_lang": "nn"}})
    assert expected in client.reply()["text"]
    client.sio.emit("user_uttered", {"message": "Kva kostar SFO?", "session_id": session_id})
    assert client.reply()["text"] == "Du spurde om: Kva kostar SFO?"


def test_a_frame_over_the_body_limit_closes_the_socket_and_the_server_stays_up(app):
    big = Client(app.url)
    big.session()
    big.sio.emit("user_uttered", {"message": "Kva " * 25_000, "session_id": "x"})  # 100 kB
    deadline = time.monotonic() + 10
    while big.sio.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not big.sio.connected, "a 100 kB frame was accepted"
    with pytest.raises(queue.Empty):
        big.replies.get(timeout=0.5)
    assert not [r for r in app.received() if len(r["text"]) > 50_000]
    fresh = Client(app.url)
    try:
        fresh.session()
        fresh.sio.emit("user_uttered", {"message": "Er du der?", "session_id": "x"})
        assert fresh.reply()["text"] == "Du spurde om: Er du der?"
    finally:
        fresh.close()


def test_a_long_polling_body_over_the_limit_is_refused_with_413(app):
    handshake = httpx.get(f"{app.url}/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=10)
    sid = json.loads(handshake.text[handshake.text.index("{"):])["sid"]
    big = httpx.post(f"{app.url}/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid},
                     content=b"4" + b"x" * 200_000, headers={"Content-Type": "text/plain"}, timeout=10)
    assert big.status_code == 413
    assert httpx.get(f"{app.url}/webhooks/socketio/", timeout=10).status_code == 200


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


def test_message_before_a_session_gets_a_reload_hint(client):
    client.sio.emit("user_uttered", {"message": "hei", "session_id": "abcdef0123456789"})
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
    question = "Hvilke åpningstider har servicetorget ikke?"
    client.sio.emit("user_uttered", {"message": question, "session_id": session_id})
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


def redis_publish(redis_url: str, channel: str, payload: bytes) -> int:
    """PUBLISH over a raw socket (RESP); returns how many subscribers got it."""
    host_port = redis_url.split("//")[1].split("/")[0]
    host, port = host_port.split(":")
    parts = [b"PUBLISH", channel.encode(), payload]
    command = b"*3\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(command)
        reply = conn.recv(100)
    assert reply.startswith(b":"), reply
    return int(reply[1:].split(b"\r\n")[0])


class Exploit:
    """Unpickling this creates a file: proof that the unpickler ran code from Redis."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_messages_from_redis_are_never_unpickled(redis_url, tmp_path_factory):
    """Whoever can write to the socket.io Redis channel must not run code in Rasa."""
    graph = FakeGraphAPI()
    logs = tmp_path_factory.mktemp("unpickle")
    proof = logs / "pwned"
    server = ChannelApp(graph.url, logs / "a.log", KOMMUNEBOT_SOCKETIO_REDIS_URL=redis_url)
    client = Client(server.url)
    try:
        session_id = client.session()
        payload = pickle.dumps({"method": "emit", "event": "bot_uttered", "data": {"text": "frå pickle"},
                                "namespace": "/", "room": session_id, "skip_sid": None, "callback": None,
                                "host_id": "x", "exploit": Exploit(str(proof))})
        assert redis_publish(redis_url, "kommunebot-socketio", payload) >= 1
        time.sleep(1.5)
        assert not proof.exists(), "a pickled message from Redis was unpickled (and ran code)"
        with pytest.raises(queue.Empty):
            client.replies.get(timeout=0.5)
        # JSON messages (what another Rasa server sends) still reach the widget.
        message = {"method": "emit", "event": "bot_uttered", "data": {"text": "frå JSON"}, "namespace": "/",
                   "room": session_id, "skip_sid": None, "callback": None, "host_id": "another-server"}
        assert redis_publish(redis_url, "kommunebot-socketio", json.dumps(message).encode()) >= 1
        assert client.reply()["text"] == "frå JSON"
    finally:
        client.close()
        server.close()
        graph.close()


@pytest.fixture(scope="module")
def strict_origin_app(tmp_path_factory):
    graph = FakeGraphAPI()
    server = ChannelApp(graph.url, tmp_path_factory.mktemp("origin") / "a.log",
                        KOMMUNEBOT_CORS="https://www.alver.kommune.no https://alver.kommune.no")
    yield server
    server.close()
    graph.close()


@pytest.mark.parametrize("origin, accepted", [
    ("https://www.alver.kommune.no", True),
    ("https://alver.kommune.no", True),
    ("https://evil.example", False),
    ("https://www.alver.kommune.no.evil.example", False),
    ("null", False),
])
def connects_from(url: str, origin: str | None) -> bool:
    """Open the widget's socket.io connection as a page from `origin` would (raw engine.io
    over a websocket, so exactly one Origin header is sent); True if socket.io accepts it."""
    ws = websocket.create_connection(url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=10, **({"origin": origin} if origin else {"suppress_origin": True}))
    try:
        assert ws.recv().startswith("0")  # engine.io open
        ws.send("40")                      # socket.io connect to "/"
        answer = ws.recv()
        return answer.startswith("40")     # "44..." is a refused connection
    finally:
        ws.close()


@pytest.mark.parametrize("origin, accepted", [
    ("https://www.alver.kommune.no", True),
    ("https://alver.kommune.no", True),
    (None, True),  # not a browser page: nothing to protect
    ("https://evil.example", False),
    ("https://www.alver.kommune.no.evil.example", False),
    ("null", False),
])
def test_socketio_refuses_web_sites_not_in_kommunebot_cors(strict_origin_app, origin, accepted):
    assert connects_from(strict_origin_app.url, origin) is accepted


def test_the_servers_own_origin_is_always_allowed(strict_origin_app):
    assert connects_from(strict_origin_app.url, strict_origin_app.url)

"""Every channel routes a message to the municipality it names, and refuses one that does
not exist: the real channel classes (tests/channels_app.py, Rasa virtualenv) in a
deployment of two municipalities (alver, Nynorsk, and testby, Bokmål, each with a
Facebook page)."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import time
import uuid

import httpx
import pytest
import socketio
from channels_support import FACEBOOK_ENV, ChannelApp, FakeGraphAPI
from test_municipalities import ALVER, bokmal_profile, write_profiles

ALVER_PAGE, TESTBY_PAGE = "100200300", "400500600"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tenancy-channels")
    folder = write_profiles(tmp / "municipalities", alver={**ALVER, "messenger_page_ids": [ALVER_PAGE]},
                            testby=bokmal_profile(pages=[TESTBY_PAGE]))
    graph = FakeGraphAPI()
    server = ChannelApp(graph.url, tmp / "channels_app.log", KOMMUNEBOT_MUNICIPALITIES_DIR=str(folder),
                        KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKENS=json.dumps({TESTBY_PAGE: "testby-page-token"}))
    yield server, graph
    server.close()
    graph.close()


def received_from(app: ChannelApp, sender: str) -> list[dict]:
    return [m for m in app.received() if m["sender"] == sender]


def messenger(app: ChannelApp, sender: str, page: str, text: str) -> httpx.Response:
    event = {"sender": {"id": sender}, "recipient": {"id": page}, "timestamp": 1,
             "message": {"mid": f"m-{uuid.uuid4().hex}", "text": text}}  # each delivery its own id
    body = json.dumps({"object": "page", "entry": [{"id": page, "time": 1, "messaging": [event]}]}).encode()
    signature = "sha256=" + hmac.new(FACEBOOK_ENV["KOMMUNEBOT_FACEBOOK_APP_SECRET"].encode(), body,
                                     hashlib.sha256).hexdigest()
    return httpx.post(app.url + "/webhooks/facebook/webhook", content=body, timeout=30,
                      headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})


def test_messenger_routes_by_the_page_the_message_was_sent_to(app):
    server, _ = app
    assert messenger(server, "7001", TESTBY_PAGE, "hei").status_code == 200
    assert messenger(server, "7002", ALVER_PAGE, "hei").status_code == 200
    _, graph = app
    graph.wait_for("7001", 1)  # handled after the 200, in the background
    graph.wait_for("7002", 1)
    assert [m["municipality"] for m in received_from(server, "7001")] == ["testby"]
    assert [m["municipality"] for m in received_from(server, "7002")] == ["alver"]


def test_messenger_answers_with_the_token_of_the_page_that_was_written_to(app):
    server, graph = app
    messenger(server, "7004", TESTBY_PAGE, "hei")
    messenger(server, "7005", ALVER_PAGE, "hei")
    graph.wait_for("7004", 1)
    graph.wait_for("7005", 1)
    tokens = {c["body"]["recipient"]["id"]: c["path"].split("access_token=")[-1] for c in graph.calls}
    assert tokens["7004"] == "testby-page-token"
    assert tokens["7005"] == FACEBOOK_ENV["KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKEN"]   # pages not listed


def test_messenger_drops_a_page_no_municipality_lists(app):
    server, graph = app
    assert messenger(server, "7003", "999999", "hei").status_code == 200   # Facebook must not retry
    deadline = time.monotonic() + 10  # handled after the 200, in the background
    while "no municipality lists it" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert received_from(server, "7003") == [] and graph.messages_to("7003") == []
    assert "no municipality lists it in messenger_page_ids" in server.log()


class Client:
    def __init__(self, url: str) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.replies: queue.Queue = queue.Queue()
        self.confirms: queue.Queue = queue.Queue()
        self.sio.on("bot_uttered", lambda data: self.replies.put(data))
        self.sio.on("session_confirm", lambda data: self.confirms.put(data))
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def say(self, text: str, metadata: dict) -> str:
        self.sio.emit("session_request", {})
        confirmed = self.confirms.get(timeout=10)  # {"session_id", "session_token"} (bot.channels.socketio)
        session = confirmed["session_id"]
        self.sio.emit("user_uttered", {"message": text, "session_id": session, "metadata": metadata})
        return session


def test_widget_messages_carry_the_script_tags_municipality(app):
    server, _ = app
    client = Client(server.url)
    try:
        session = client.say("hei", {"widget_lang": "nb", "municipality": "testby"})
        client.replies.get(timeout=10)
        assert [m["municipality"] for m in received_from(server, session)] == ["testby"]
        unknown = client.say("hei", {"widget_lang": "nb", "municipality": "atlantis"})
        reply = client.replies.get(timeout=10)
        assert "kommune som ikke finnes her (atlantis)" in reply["text"]
        assert received_from(server, unknown) == []
    finally:
        client.sio.disconnect()

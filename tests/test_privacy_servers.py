"""Abuse of the running servers (issue 14), over real HTTP against the real servers:

- the action server answers only Rasa (a token); a forged call cannot read another
  conversation's staff replies or create cases;
- request bodies over 64 KB are refused with 413 before they are read; the server stays up;
- a REST conversation is continued only with the token its first reply carried: knowing
  a sender id (or a widget's session id) gives no access to the conversation;
- the servers' files (SQLite databases, logs, secrets) are readable by their owner only.
"""

from __future__ import annotations

import json
import socket
import stat
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from handoff_clients import Citizen

from bot.handoff.db import Database
from bot.handoff.store import HandoffStore

pytestmark = pytest.mark.servers

SESSION = "X-Kommunebot-Session"


def rest(servers, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook", json=body, headers=headers, timeout=120)


# -- the action server ---------------------------------------------------------------------

def forged_call(action: str, sender: str) -> dict:
    """What a forged Rasa request to the action server looks like."""
    tracker = {"sender_id": sender, "slots": {"language": "nn"}, "latest_message": {"text": "hei", "intent": {}},
               "events": [], "paused": False, "followup_action": None, "active_loop": {},
               "latest_action_name": "action_listen", "latest_input_channel": "rest"}
    return {"next_action": action, "sender_id": sender, "tracker": tracker, "domain": {}, "version": "3.6.21"}


def test_the_action_server_refuses_calls_without_the_token(servers):
    """A forged tracker must not read (and mark delivered) another conversation's staff
    replies, nor create a case."""
    store = HandoffStore(Database(servers.env["KOMMUNEBOT_DATABASE_URL"]))
    victim = servers.new_sender()
    now = datetime.now(timezone.utc)
    entry = store.open_live_chat(victim, channel="socketio", lang="nn", question="Kan eg få hjelp?", now=now,
                                 promised_by=now + timedelta(minutes=5))
    store.add_staff_message(entry.reference, "kari", "Hei! Saksnummeret ditt er 2026/1234.", now=now)
    assert len(store.pending_messages(victim)) == 2  # "joined" and the reply

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": servers.env["KOMMUNEBOT_ACTION_TOKEN"]}):
        for action in ("action_relay_staff_message", "action_create_case", "action_answer_question"):
            response = httpx.post(servers.action_url, json=forged_call(action, victim), headers=headers, timeout=60)
            assert response.status_code == 401, (action, headers, response.status_code, response.text[:300])
            assert "2026/1234" not in response.text
        assert httpx.get(servers.action_url.replace("/webhook", "/actions"), headers=headers,
                         timeout=60).status_code == 401
    assert len(store.pending_messages(victim)) == 2, "a forged call delivered the staff replies"
    assert httpx.get(servers.action_url.replace("/webhook", "/health"), timeout=60).status_code == 200
    # Rasa itself has the token: the assistant still answers.
    assert servers.text(servers.send("Kva er telefonnummeret til kommunen?"))


def test_the_action_server_answers_rasa_with_the_token(servers):
    token = servers.env["KOMMUNEBOT_ACTION_TOKEN"]
    response = httpx.post(servers.action_url, json=forged_call("action_contact", servers.new_sender()),
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 200 and response.json()["responses"], response.text[:300]


# -- body size -----------------------------------------------------------------------------

def raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[bytes, float]:
    """Send `head` (and `body`) over a raw socket; returns the status line and how long it took."""
    parts = urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(head + body)
        answer = conn.recv(4096)
    return answer.split(b"\r\n", 1)[0], time.monotonic() - started


def test_a_20_mb_rest_message_is_refused_with_413_before_it_is_read(servers):
    big = json.dumps({"sender": servers.new_sender(), "message": "Kva kostar SFO? " * 1_300_000}).encode()
    assert len(big) > 20_000_000
    response = httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook", content=big,
                          headers={"Content-Type": "application/json"}, timeout=120)
    assert response.status_code == 413, response.status_code
    # Refused from the announced length alone: the server answers without waiting for a body.
    status, seconds = raw_request(servers.rasa_url, b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n")
    assert b" 413 " in status + b" " and seconds < 5, (status, seconds)
    assert servers.text(servers.send("Hei"))


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(servers):
    def chunks():
        for _ in range(50):
            yield b" " * 4096  # 200 KB of JSON whitespace
    response = httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook", content=chunks(),
                          headers={"Content-Type": "application/json"}, timeout=120)
    assert response.status_code == 413
    assert servers.text(servers.send("Hei"))


def test_a_body_just_under_the_limit_is_still_read(servers):
    body = {"sender": servers.new_sender(), "message": "Kva kostar SFO?", "metadata": {"pad": "x" * 60_000}}
    assert len(json.dumps(body)) < 64 * 1024
    response = rest(servers, body)
    assert response.status_code == 200 and response.json()


def test_rasa_allows_only_the_configured_web_sites(servers):
    """CORS on Rasa's HTTP endpoints is KOMMUNEBOT_CORS (default: the portal's demo page), not *."""
    allowed = servers.env["KOMMUNEBOT_CORS"].split()[0]
    url = f"{servers.rasa_url}/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    evil = httpx.options(url, headers={"Origin": "https://angripar.example", **preflight}, timeout=30)
    assert evil.headers.get("access-control-allow-origin") not in ("*", "https://angripar.example"), evil.headers
    ok = httpx.options(url, headers={"Origin": allowed, **preflight}, timeout=30)
    assert ok.headers.get("access-control-allow-origin") == allowed, ok.headers


# -- REST conversations --------------------------------------------------------------------

def test_a_new_rest_client_needs_no_token_and_gets_one(servers):
    sender = f"integrasjon-{uuid.uuid4().hex[:8]}"
    first = rest(servers, {"sender": sender, "message": "hei"})
    assert first.status_code == 200 and first.json()
    token = first.headers[SESSION]
    second = rest(servers, {"sender": sender, "message": "Kva tid opnar de?"}, **{SESSION: token})
    assert second.status_code == 200 and second.json()
    third = rest(servers, {"sender": sender, "message": "takk", "session_token": token})  # in the body works too
    assert third.status_code == 200 and third.headers[SESSION] == token


def test_knowing_a_rest_sender_id_gives_no_access_to_the_conversation(servers):
    victim = servers.new_sender()
    servers.send("Eg vil snakke med eit menneske om byggjesaka mi", sender=victim)
    events_before = len(servers.tracker(victim)["events"])
    other = rest(servers, {"sender": servers.new_sender(), "message": "hei"}).headers[SESSION]
    for headers in ({}, {SESSION: other}, {SESSION: "forged"}):
        response = rest(servers, {"sender": victim, "message": "kva sa eg i stad?"}, **headers)
        assert response.status_code == 403, (headers, response.status_code)
        assert "X-Kommunebot-Session" in response.json()["error"]
    assert len(servers.tracker(victim)["events"]) == events_before  # nothing was written or run


def test_rest_cannot_write_into_a_widget_conversation(servers):
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("Hei")
        citizen.next()
        response = rest(servers, {"sender": citizen.session_id, "message": "Eg overtek denne samtalen"})
        assert response.status_code == 403
    finally:
        citizen.close()


def test_a_trusted_integration_may_use_any_sender_id(servers):
    sender = servers.new_sender()
    servers.send("hei", sender=sender)
    integration = servers.env["KOMMUNEBOT_REST_INTEGRATION_TOKEN"]
    response = rest(servers, {"sender": sender, "message": "takk"}, Authorization=f"Bearer {integration}")
    assert response.status_code == 200 and response.json()
    assert rest(servers, {"sender": sender, "message": "takk"}, Authorization="Bearer wrong").status_code == 403


# -- files ---------------------------------------------------------------------------------

def test_databases_logs_and_secrets_are_readable_by_the_owner_only(servers):
    var_dir = Path(servers.var_dir)
    servers.send("Hei")  # the databases exist
    assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700
    files = [p for p in var_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"kommunebot.db", "rasa-tracker.db", "rasa.log", "actions.log", "secret-key", "action-token"} <= names
    loose = {str(p.relative_to(var_dir)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
             if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}, f"readable by others: {loose}"


# -- limits on cases and live chats ---------------------------------------------------------

class Client:
    """One client address (as nginx forwards it) talking REST; remembers its tokens."""

    def __init__(self, servers, address: str) -> None:
        self.servers, self.address, self.tokens = servers, address, {}

    def say(self, sender: str, text: str) -> str:
        headers = {"X-Forwarded-For": self.address}
        if sender in self.tokens:
            headers[SESSION] = self.tokens[sender]
        response = rest(self.servers, {"sender": sender, "message": text}, **headers)
        assert response.status_code == 200, response.text[:300]
        self.tokens.setdefault(sender, response.headers[SESSION])
        return self.servers.text(response.json())

    def leave_case(self, sender: str, n: int) -> str:
        """Ask for a person after hours and fill the case form; returns the last answers."""
        first = self.say(sender, "/request_human")
        if "Skriv kort kva du lurer på" not in first:
            return first
        self.say(sender, f"Kvifor har eg fått faktura nummer {n} to gonger?")
        return self.say(sender, f"innbyggjar{n}@example.no")


def cases_of(servers, senders: list[str]) -> int:
    store = HandoffStore(Database(servers.env["KOMMUNEBOT_DATABASE_URL"]))
    return sum(1 for item in store.open_items(datetime.now(timezone.utc)) if item.conversation_id in senders)


@pytest.fixture
def after_hours(servers):
    from conftest import SERVERS_DEFAULT_NOW
    from reliability_support import AFTER_HOURS

    servers.set_clock(AFTER_HOURS)
    yield
    servers.set_clock(SERVERS_DEFAULT_NOW)


def test_one_client_address_leaves_at_most_ten_cases_an_hour(servers, after_hours):
    client = Client(servers, f"203.0.113.{uuid.uuid4().int % 200 + 20}")
    senders = [servers.new_sender() for _ in range(11)]
    for n, sender in enumerate(senders[:10]):
        assert "referanse" in client.leave_case(sender, n)
    refused = client.leave_case(senders[10], 10)
    assert "mange spørsmål frå same stad" in refused and "Prøv igjen om ein time" in refused, refused
    assert cases_of(servers, senders) == 10
    # Another address is not affected.
    other = Client(servers, f"198.51.100.{uuid.uuid4().int % 200 + 20}")
    assert "referanse" in other.leave_case(servers.new_sender(), 99)


def test_one_conversation_leaves_at_most_three_cases(servers, after_hours):
    client = Client(servers, f"192.0.2.{uuid.uuid4().int % 200 + 20}")
    sender = servers.new_sender()
    for n in range(3):
        assert "referanse" in client.leave_case(sender, n)
    refused = client.leave_case(sender, 3)
    assert "Du har alt sendt fleire spørsmål til oss i denne samtalen" in refused, refused
    assert cases_of(servers, [sender]) == 3


def test_one_client_address_queues_at_most_ten_live_chats_an_hour(servers):
    from conftest import SERVERS_DEFAULT_NOW

    servers.set_clock(SERVERS_DEFAULT_NOW)  # inside chat opening hours
    address = f"203.0.113.{uuid.uuid4().int % 200 + 20}"
    citizens = []
    try:
        for n in range(11):
            citizen = Citizen(servers.rasa_url, headers={"X-Forwarded-For": address})
            citizens.append(citizen)
            citizen.say("/request_human")
            assert "Vil du det?" in citizen.next()["text"]
            citizen.say("/affirm")
            if n < 10:
                citizen.until_handoff("waiting")
        refused = citizens[-1].next()["text"]
        assert "chatten tek ikkje imot fleire no" in refused, refused
    finally:
        for citizen in citizens:
            citizen.close()
    assert cases_of(servers, [c.session_id for c in citizens]) == 10

"""Faults with the real servers: a crashed action server, Rasa server and staff portal
(SIGKILL, as in a crash), and a database that is not there at start.

- Action server killed mid-conversation: the citizen gets the apology with the phone
  number, not silence; once it is back, the same conversation goes on.
- Rasa server and staff portal killed and restarted during a short load run: every
  message that got an answer is still in its conversation, and the case created before
  is still there (SQL stores, committed before the reply).
- Conversation database unreachable at start: the Rasa server stops with an error that
  names KOMMUNEBOT_TRACKER_URL instead of retrying forever.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest
from conftest import MODEL, free_port
from reliability_support import create_case

from bot.handoff.db import Database
from bot.handoff.store import HandoffStore
from bot.service.profile import load_profile
from bot.stack import Stack, StackConfig, StackError

pytestmark = pytest.mark.servers


def crash(servers, name: str) -> None:
    """SIGKILL one server of the test stack (its whole process group)."""
    proc = servers.stack.procs[name]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def ensure_running(servers, name: str) -> None:
    proc = servers.stack.procs.get(name)
    if proc is None or proc.poll() is not None:
        servers.stack.start([name])


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def test_action_server_crash_gets_an_apology_with_the_phone_number_then_the_conversation_goes_on(servers):
    phone = digits(load_profile().contact.phone)
    sender = servers.new_sender()
    assert servers.text(servers.send("Hei", sender=sender))
    crash(servers, "actions")
    try:
        started = time.monotonic()
        replies = servers.send("Kor mykje kostar SFO?", sender=sender)
        assert time.monotonic() - started < 30, "the Rasa server hung waiting for the dead action server"
        text = servers.text(replies)
        assert phone in digits(text), f"no phone number in the reply while the action server is down: {text!r}"
    finally:
        ensure_running(servers, "actions")
    text = servers.text(servers.send("Kva er telefonnummeret til kommunen?", sender=sender))
    assert text and "teknisk problem" not in text
    users = [e["text"] for e in servers.tracker(sender)["events"] if e.get("event") == "user"]
    assert users == ["Hei", "Kor mykje kostar SFO?", "Kva er telefonnummeret til kommunen?"]


class Traffic(threading.Thread):
    """A few citizens sending messages until stopped; remembers what was answered."""

    MESSAGES = ["Hei", "Kva tid opnar servicetorget?", "Korleis søkjer eg barnehageplass?", "takk"]

    def __init__(self, url: str, citizens: int = 4) -> None:
        super().__init__(daemon=True)
        self.url = f"{url}/webhooks/rest/webhook"
        self.senders = [f"fault-{i}-{os.urandom(4).hex()}" for i in range(citizens)]
        self.answered: list[tuple[str, str]] = []
        self.tokens: dict[str, str] = {}  # each conversation's token (X-Kommunebot-Session)
        self.failed = 0
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            turn = 0
            while not self.halt.is_set():
                for sender in self.senders:
                    text = f"{self.MESSAGES[turn % len(self.MESSAGES)]} ({turn})"
                    try:
                        token = self.tokens.get(sender)
                        response = client.post(self.url, json={"sender": sender, "message": text},
                                               headers={"X-Kommunebot-Session": token} if token else {})
                        self.tokens[sender] = response.headers.get("X-Kommunebot-Session", token or "")
                        if response.status_code == 200 and response.json():
                            self.answered.append((sender, text))
                        else:
                            self.failed += 1
                    except httpx.HTTPError:
                        self.failed += 1
                        time.sleep(0.5)
                turn += 1


def test_rasa_and_portal_crash_during_load_lose_no_conversation_and_no_case(servers):
    sender = servers.new_sender()
    reference = create_case(servers, sender, "Kan eg få utsett betalinga av eigedomsskatten?", "kari@example.no")

    traffic = Traffic(servers.rasa_url)
    traffic.start()
    try:
        time.sleep(3)
        crash(servers, "rasa")
        if "staff" in servers.stack.procs:
            crash(servers, "staff")
        ensure_running(servers, "rasa")
        if "staff" in servers.stack.procs:
            ensure_running(servers, "staff")
        time.sleep(3)
    finally:
        traffic.halt.set()
        traffic.join(timeout=120)
        ensure_running(servers, "rasa")

    assert traffic.answered, "no message was answered during the run"
    before_crash = {s for s, _ in traffic.answered}
    for conversation in before_crash:
        kept = {e.get("text") for e in servers.tracker(conversation)["events"] if e.get("event") == "user"}
        lost = [text for s, text in traffic.answered if s == conversation and text not in kept]
        assert not lost, f"answered messages lost from {conversation}: {lost}"
    case = HandoffStore(Database(servers.env["KOMMUNEBOT_DATABASE_URL"])).get(reference)
    assert case is not None and case.question == "Kan eg få utsett betalinga av eigedomsskatten?"
    kept = [e["text"] for e in servers.tracker(sender)["events"] if e.get("event") == "user"]
    assert kept[:2] == ["/request_human", "Kan eg få utsett betalinga av eigedomsskatten?"]
    assert len(kept) >= 3 and "kari@example.no" not in kept[2], "the e-mail address was stored unredacted"
    if servers.staff_url:
        assert httpx.get(f"{servers.staff_url}/healthz", timeout=30).status_code == 200


def test_unreachable_conversation_database_at_start_names_the_setting(tmp_path):
    dead = f"postgresql://kommunebot@127.0.0.1:{free_port()}/kommunebot"
    config = StackConfig(rasa_port=free_port(), action_port=free_port(), staff_port=free_port(), model=MODEL,
                         var_dir=tmp_path, token="t", env={"KOMMUNEBOT_TRACKER_URL": dead,
                                                           "KOMMUNEBOT_DB_WAIT_SECONDS": "2"})
    stack = Stack(config, progress=lambda line: None)
    try:
        with pytest.raises(StackError) as failure:
            stack.start(["rasa"])
    finally:
        stack.stop()
    assert "KOMMUNEBOT_TRACKER_URL" in str(failure.value)
    assert "stopped while starting" in str(failure.value), "the Rasa server kept retrying instead of stopping"

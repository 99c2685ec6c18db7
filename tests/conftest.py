"""Shared pytest fixtures. The `servers` fixture is a stable interface for every engineer.

`servers` (session scope) starts the REAL action server, Rasa server and, when bot.staff
exists, the staff portal once per test session (bot.stack.Stack), on free ports, with a
temporary var dir and their own SQLite databases, and stops them at the end:

    @pytest.mark.servers
    def test_something(servers):
        replies = servers.send("Kva tid opnar de?")        # REST; list of message dicts
        servers.send("takk", sender=sid)                   # continues sid's conversation (its token)
        text = servers.text(replies)                       # all reply texts joined
        servers.rasa_url, servers.action_url, servers.staff_url, servers.token
        servers.set_clock("2026-11-24T10:00:00+01:00")     # KOMMUNEBOT_NOW for all servers
        servers.tracker(sender_id)                         # GET /conversations/{id}/tracker
        servers.env                                        # the servers' environment
        servers.mailbox.wait_for(lambda m: ...)             # e-mail the portal sent (a real SMTP server)

The clock starts at SERVERS_DEFAULT_NOW (a Tuesday morning inside opening hours) so
answers about "open now" and handoffs are reproducible; tests that move it should set
it back (`servers.set_clock(SERVERS_DEFAULT_NOW)`). The model is models/rasa (or
KOMMUNEBOT_TEST_RASA_MODEL): run `make train` first. Logs: <tmp>/var/logs/*.log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import ROOT
from bot.stack import Stack, StackConfig, StackError

SERVERS_DEFAULT_NOW = "2026-11-24T10:00:00+01:00"  # Tuesday, inside opening hours
REST_SESSION_HEADER = "X-Kommunebot-Session"  # bot.channels.guard.SESSION_HEADER
MODEL = Path(os.environ.get("KOMMUNEBOT_TEST_RASA_MODEL", ROOT / "models" / "rasa"))


def run_coroutine(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright (sync API) keeps an
    event loop running in the main thread for the rest of the session, where asyncio.run
    refuses to start another."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """Handle on the running test stack: addresses, REST helper, clock, tracker."""

    def __init__(self, stack: Stack, clock_file: Path, mailbox: Any = None) -> None:
        self.stack = stack
        self.mailbox = mailbox
        self.clock_file = clock_file
        self.rasa_url = stack.config.rasa_url
        self.action_url = stack.config.action_url
        self.staff_url = stack.config.staff_url if "staff" in stack.procs else None
        self.token = stack.token
        self.env = stack.env
        self.var_dir = stack.config.var_dir
        self.http = httpx.Client(timeout=120)
        # REST conversations are bound to the token their first reply carries
        # (X-Kommunebot-Session, bot.channels.guard): remembered here per sender.
        self.rest_tokens: dict[str, str] = {}

    def new_sender(self) -> str:
        return f"test-{uuid.uuid4().hex[:12]}"

    def send(self, text: str, sender: str | None = None, metadata: dict | None = None) -> list[dict[str, Any]]:
        """POST to the REST channel; returns Rasa's list of bot messages."""
        body: dict[str, Any] = {"sender": sender or self.new_sender(), "message": text}
        if metadata:
            body["metadata"] = metadata
        token = self.rest_tokens.get(body["sender"])
        response = self.http.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body,
                                  headers={REST_SESSION_HEADER: token} if token else {})
        response.raise_for_status()
        if response.headers.get(REST_SESSION_HEADER):
            self.rest_tokens[body["sender"]] = response.headers[REST_SESSION_HEADER]
        return response.json()

    @staticmethod
    def text(replies: list[dict[str, Any]]) -> str:
        """All text of a reply, one message a line."""
        return "\n".join(r["text"] for r in replies if r.get("text"))

    @staticmethod
    def payloads(replies: list[dict[str, Any]], kind: str | None = None) -> list[dict[str, Any]]:
        """The custom payloads' `data` objects (optionally only of one `type`)."""
        found = [r["custom"]["data"] for r in replies if isinstance(r.get("custom"), dict) and "data" in r["custom"]]
        return [d for d in found if kind is None or d.get("type") == kind]

    def tracker(self, sender: str) -> dict[str, Any]:
        response = self.http.get(f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.token})
        response.raise_for_status()
        return response.json()

    def set_clock(self, moment: str) -> None:
        """Move the servers' clock (KOMMUNEBOT_NOW=file:...) to an ISO-8601 moment."""
        self.clock_file.write_text(moment, encoding="utf-8")


def start_stack(tmp: Path, names: list[str] | None = None, **env: str) -> tuple[Stack, Path]:
    """Start the servers in `tmp` on free ports; returns (stack, clock file)."""
    var_dir = tmp / "var"
    var_dir.mkdir(parents=True, exist_ok=True)
    clock_file = tmp / "now.txt"
    clock_file.write_text(SERVERS_DEFAULT_NOW, encoding="utf-8")
    config = StackConfig(
        rasa_port=free_port(), action_port=free_port(), staff_port=free_port(), model=MODEL, var_dir=var_dir,
        token=f"test-{uuid.uuid4().hex}",
        env={"KOMMUNEBOT_DATABASE_URL": f"sqlite:///{var_dir / 'kommunebot.db'}",
             "KOMMUNEBOT_TRACKER_URL": f"sqlite:///{var_dir / 'rasa-tracker.db'}",
             "KOMMUNEBOT_NOW": f"file:{clock_file}", "SANIC_NO_UVLOOP": "true",
             # A trusted integration may continue any REST conversation (bot.channels.guard).
             "KOMMUNEBOT_REST_INTEGRATION_TOKEN": f"integration-{uuid.uuid4().hex}",
             # The tests themselves (on loopback) are not one citizen: no per-address limits
             # for them. A test that plays a citizen sends X-Forwarded-For (loopback is a
             # trusted proxy), and meets the limits like one.
             "KOMMUNEBOT_LIMIT_EXEMPT": "127.0.0.1/32 ::1/128", **env},
    )
    stack = Stack(config, progress=lambda line: None)
    try:
        stack.start(names)
    except StackError as error:
        pytest.fail(f"Could not start the test servers: {error}", pytrace=False)
    return stack, clock_file


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory):
    """The real servers, started once per session (see the module docstring), with a
    local SMTP server the staff portal sends its e-mail to."""
    from mail_support import Mailbox

    mailbox = Mailbox().start()
    stack, clock_file = start_stack(tmp_path_factory.mktemp("servers"), **mailbox.env)
    handle = Servers(stack, clock_file, mailbox)
    try:
        yield handle
    finally:
        handle.http.close()
        stack.stop()
        mailbox.stop()

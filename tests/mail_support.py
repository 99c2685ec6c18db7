"""A real SMTP server for the tests (aiosmtpd on a free port) that keeps what it receives.

    with Mailbox() as mailbox:
        env = mailbox.env                        # KOMMUNEBOT_SMTP_* for the staff portal
        message = mailbox.wait_for(lambda m: "ALV-2026" in m["Subject"])
"""

from __future__ import annotations

import socket
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Keep:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(self, sender: str = "Alver kommune <post@alver.kommune.no>") -> None:
        self.port = _free_port()
        self._handler = _Keep()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self.env = {"KOMMUNEBOT_SMTP_HOST": "127.0.0.1", "KOMMUNEBOT_SMTP_PORT": str(self.port),
                    "KOMMUNEBOT_SMTP_SECURITY": "none", "KOMMUNEBOT_MAIL_FROM": sender}

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def messages(self) -> list[tuple[str, list[str], EmailMessage]]:
        return list(self._handler.messages)

    def wait_for(self, match, timeout: float = 20.0) -> tuple[str, list[str], EmailMessage]:
        """The first received (sender, recipients, message) for which `match(message)` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.messages:
                if match(item[2]):
                    return item
            time.sleep(0.1)
        raise AssertionError(f"no matching e-mail within {timeout} s; got {[m[2]['Subject'] for m in self.messages]}")

"""Answering cases by e-mail through the municipality's SMTP server.

Settings (environment):

| variable | what |
|---|---|
| KOMMUNEBOT_SMTP_HOST | the SMTP server; unset = e-mail is not set up (the portal says so) |
| KOMMUNEBOT_SMTP_PORT | default 587 with starttls, 465 with ssl, 25 with none |
| KOMMUNEBOT_SMTP_SECURITY | starttls (default), ssl, or none (only on a trusted local network) |
| KOMMUNEBOT_SMTP_USER, KOMMUNEBOT_SMTP_PASSWORD | log in when a user is set |
| KOMMUNEBOT_MAIL_FROM | the sender, e.g. "Alver kommune <post@alver.kommune.no>" (default: the profile's e-mail) |
| KOMMUNEBOT_SMTP_TIMEOUT | seconds, default 20 |

    settings = MailSettings.from_env(default_sender="post@alver.kommune.no")
    send_mail(settings, to="ola@example.no", subject="...", body="...", reply_to=...)

Other ways to answer (SMS) plug in as another `Notifier` (see `notifier_for`): they are
not built; docs/HANDOFF.md says what an SMS notifier needs.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


class MailNotConfigured(RuntimeError):
    """No SMTP server is set; the message says which settings to add."""


class MailFailed(RuntimeError):
    """The SMTP server refused or could not be reached; the message says what happened."""


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    security: str
    user: str
    password: str
    sender: str
    timeout: float = 20.0

    @classmethod
    def from_env(cls, default_sender: str = "", environ: dict[str, str] | None = None) -> MailSettings:
        """Read the KOMMUNEBOT_SMTP_* settings; MailNotConfigured without a host,
        ValueError for a wrong value (the message names the setting)."""
        env = os.environ if environ is None else environ
        host = env.get("KOMMUNEBOT_SMTP_HOST", "").strip()
        if not host:
            raise MailNotConfigured("E-mail is not set up: set KOMMUNEBOT_SMTP_HOST (and KOMMUNEBOT_SMTP_PORT, "
                                    "KOMMUNEBOT_SMTP_SECURITY, KOMMUNEBOT_SMTP_USER, KOMMUNEBOT_SMTP_PASSWORD, "
                                    "KOMMUNEBOT_MAIL_FROM) where the staff portal runs, then restart it.")
        security = env.get("KOMMUNEBOT_SMTP_SECURITY", "starttls").strip().lower() or "starttls"
        if security not in SECURITY:
            raise ValueError(f"KOMMUNEBOT_SMTP_SECURITY={security!r}: use starttls, ssl or none")
        port_text = env.get("KOMMUNEBOT_SMTP_PORT", "").strip()
        try:
            port = int(port_text) if port_text else DEFAULT_PORTS[security]
        except ValueError:
            raise ValueError(f"KOMMUNEBOT_SMTP_PORT={port_text!r} is not a port number") from None
        sender = env.get("KOMMUNEBOT_MAIL_FROM", "").strip() or default_sender
        if "@" not in parseaddr(sender)[1]:
            raise ValueError("KOMMUNEBOT_MAIL_FROM is not set (or has no e-mail address): set it to the "
                             "municipality's sender address, e.g. post@example.kommune.no")
        try:
            timeout = float(env.get("KOMMUNEBOT_SMTP_TIMEOUT", "20"))
        except ValueError:
            raise ValueError("KOMMUNEBOT_SMTP_TIMEOUT must be a number of seconds") from None
        return cls(host, port, security, env.get("KOMMUNEBOT_SMTP_USER", "").strip(),
                   env.get("KOMMUNEBOT_SMTP_PASSWORD", ""), sender, timeout)


def build_message(settings: MailSettings, *, to: str, subject: str, body: str,
                  reply_to: str | None = None, reference: str | None = None) -> EmailMessage:
    message = EmailMessage()
    name, address = parseaddr(settings.sender)
    message["From"] = str(Address(display_name=name, addr_spec=address)) if name else address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    if reply_to:
        message["Reply-To"] = reply_to
    if reference:
        message["X-Kommunebot-Reference"] = reference
    message.set_content(body)
    return message


def send_mail(settings: MailSettings, *, to: str, subject: str, body: str, reply_to: str | None = None,
              reference: str | None = None) -> None:
    """Send one plain-text e-mail (blocking: call it in a thread from async code)."""
    message = build_message(settings, to=to, subject=subject, body=body, reply_to=reply_to, reference=reference)
    context = ssl.create_default_context()
    try:
        server: smtplib.SMTP
        if settings.security == "ssl":
            server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with server:
            server.ehlo()
            if settings.security == "starttls":
                server.starttls(context=context)
                server.ehlo()
            if settings.user:
                server.login(settings.user, settings.password)
            refused = server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(f"the SMTP server {settings.host}:{settings.port} ({settings.security}) "
                         f"did not take the e-mail: {type(exc).__name__}: {exc}") from None
    if refused:
        raise MailFailed(f"the SMTP server refused the recipient {to}: {refused}")


class Notifier(Protocol):
    """Sends a case answer to the citizen; `send` returns where it went."""

    def send(self, *, to: str, subject: str, body: str, reference: str) -> str: ...


class EmailNotifier:
    def __init__(self, settings: MailSettings, reply_to: str | None = None) -> None:
        self.settings, self.reply_to = settings, reply_to

    def send(self, *, to: str, subject: str, body: str, reference: str) -> str:
        send_mail(self.settings, to=to, subject=subject, body=body, reply_to=self.reply_to, reference=reference)
        return to


def notifier_for(contact_kind: str, *, default_sender: str, reply_to: str | None = None) -> Notifier | None:
    """How to send an answer to this kind of contact: e-mail, or None (phone: staff call;
    an SMS notifier would be returned here for "phone" once one is built)."""
    if contact_kind == "email":
        return EmailNotifier(MailSettings.from_env(default_sender), reply_to)
    return None

"""Helpers shared by the reliability tests (tests/test_reliability_*.py)."""

from __future__ import annotations

import httpx

AFTER_HOURS = "2026-11-23T20:00:00+01:00"  # Monday evening: a request for a person becomes a case


def assert_clean(response: httpx.Response) -> None:
    """No server error (a 503 of an unconfigured channel is a clear error) and no stack trace."""
    body = response.text
    assert response.status_code < 500 or response.status_code == 503, (response.status_code, body[:500])
    assert "Traceback" not in body and 'File "' not in body, body[:500]


def assert_login_refused(response: httpx.Response) -> None:
    """A clean refusal: an error status, or the portal's redirect back to the login form."""
    assert_clean(response)
    if response.status_code == 303:
        assert response.headers["location"].startswith("/staff/login"), response.headers["location"]
    else:
        assert response.status_code in (400, 403, 413, 415, 422), (response.status_code, response.text[:300])
    assert "kb_staff_session" not in response.headers.get("set-cookie", ""), "a refused login got a session"


def case_of(database_url: str, conversation_id: str):
    """The open case (or queue entry) of a conversation, from the handoff store; None if none."""
    from datetime import datetime, timezone

    from bot.handoff.db import Database
    from bot.handoff.store import HandoffStore

    items = HandoffStore(Database(database_url)).open_items(datetime.now(timezone.utc))
    return next((item for item in items if item.conversation_id == conversation_id), None)


def create_case(servers, sender: str, question: str, contact: str) -> str:
    """Ask for a person after hours over REST and fill the case form; returns the case reference.

    On REST the handoff texts come as plain text (payloads only on socket.io), so the case
    is looked up in the store by conversation id.
    """
    from conftest import SERVERS_DEFAULT_NOW

    servers.set_clock(AFTER_HOURS)
    transcript = []
    try:
        for text in ("/request_human", question, contact):
            transcript.append((text, servers.text(servers.send(text, sender=sender))))
    finally:
        servers.set_clock(SERVERS_DEFAULT_NOW)
    case = case_of(servers.env["KOMMUNEBOT_DATABASE_URL"], sender)
    assert case is not None and case.reference in transcript[-1][1], \
        f"the case form did not create a case; transcript: {transcript}"
    return case.reference

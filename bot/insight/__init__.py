"""Insight for the municipality: what the bot answers, what it cannot, whether people keep
the promised answer times, and what that saves. See docs/INSIGHT.md.

The one way to count something (actions call it through `actions.insight.record`,
which fills the conversation's fields from the tracker):

    from bot.insight import record_event
    record_event("answered", municipality="alver", conversation=sender_id, session_start=ts,
                 channel="socketio", lang="nn", url="https://...", title="Barnehage")
    record_event("handoff_case", ..., reason="not_found", standard="email",
                 promised_by=when, reference="ALV-2026-000123")
    record_staff_reply("ALV-2026-000123")      # the first time a person answered it

It never raises: counting must not break a conversation. Question texts are redacted
here (bot.privacy) before anything is stored. Stdlib and SQLAlchemy only: the Rasa
process imports it (bot.insight.broker counts messages and conversations).
"""

from __future__ import annotations

import logging
from datetime import datetime

log = logging.getLogger(__name__)

__all__ = ["record_event", "record_staff_reply"]


def _now() -> datetime:
    from bot.handoff import clock

    return clock.now()


def record_event(kind: str, *, conversation: str, municipality: str | None = None,
                 session_start: float | None = None, channel: str | None = None, lang: str | None = None,
                 at: datetime | None = None, url: str | None = None, title: str | None = None,
                 question: str | None = None, reason: str | None = None, standard: str | None = None,
                 promised_by: datetime | None = None, reference: str | None = None,
                 database_url: str | None = None) -> bool:
    """Count one event of a conversation (see bot.insight.store.KINDS). `conversation` is
    the Rasa sender id (only a hash of it is stored); `question` is redacted before it is
    stored and kept only for `not_found` and `feedback_negative`. Returns False (and
    logs) when it could not be counted."""
    try:
        from bot.insight import municipal
        from bot.insight.store import Event, InsightStore
        from bot.privacy import redact

        text = redact(question) if question and kind in ("not_found", "feedback_negative") else None
        event = Event(kind=kind, municipality=municipal.resolve(municipality), sender_id=str(conversation),
                      at=at or _now(), session_start=session_start, channel=channel, lang=lang, url=url,
                      title=title, question=text, reason=reason, standard=standard, promised_by=promised_by,
                      reference=reference)
        InsightStore.open(database_url).record(event)
        return True
    except Exception:
        log.exception("insight: could not count a %r event", kind)
        return False


def record_staff_reply(reference: str, at: datetime | None = None, database_url: str | None = None) -> bool:
    """A person answered the live chat or case `reference` (only the first time counts)."""
    try:
        from bot.insight.store import InsightStore

        return InsightStore.open(database_url).record_staff_reply(reference, at or _now())
    except Exception:
        log.exception("insight: could not count a staff reply")
        return False

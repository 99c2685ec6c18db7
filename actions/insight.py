"""Count what happens in a conversation for the municipality's insight (bot.insight).

One line at each place something countable happens:

    record(tracker, "answered", url=best.url, title=best.title)
    record(tracker, "not_found", question=question)
    record(tracker, "handoff_case", reference=case.reference, promised_by=when, standard="email")

The conversation's municipality, channel, written standard and session come from the
tracker; the handoff's reason (asked for a person, not found, own case) too. Never
raises. Questions the bot could not answer are grouped by meaning in the background.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

from actions.common import language
from bot.insight import record_event

log = logging.getLogger(__name__)

HANDOFF_KINDS = ("handoff_live", "handoff_case", "handoff_referred")
OFFER_ACTIONS = ("action_offer_handoff",)
GROUPED_KINDS = ("not_found", "feedback_negative")


def municipality(tracker: Tracker) -> str | None:
    """The conversation's municipality slug (actions.common.municipality when it exists)."""
    try:
        from actions.common import municipality as of_conversation
    except ImportError:
        return tracker.get_slot("municipality") if "municipality" in (tracker.slots or {}) else None
    return of_conversation(tracker)


def session_start(tracker: Tracker) -> float | None:
    """The timestamp of the session's `session_started` event (with the sender id, the
    conversation's key; the Rasa process sees the same event)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "session_started" and event.get("timestamp") is not None:
            return float(event["timestamp"])
    return None


def handoff_reason(tracker: Tracker) -> str:
    """Why the citizen was handed to a person: "own_case", "asked" (request_human),
    "not_found" (the content did not answer) or "other", from the turn that led to the
    offer of a person."""
    events = list(tracker.events or [])
    end = len(events)
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "action" and events[i].get("name") in OFFER_ACTIONS:
            end = i
            break
    for i in range(end - 1, -1, -1):
        event = events[i]
        if event.get("event") != "user":
            continue
        turn = events[i + 1:end]
        if any(e.get("event") == "action" and e.get("name") == "utter_own_case" for e in turn):
            return "own_case"
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == "own_case":
            return "own_case"
        if intent == "request_human":
            return "asked"
        if any(e.get("event") == "slot" and e.get("name") == "search_result"
               and e.get("value") in ("not_found", "not_found_again") for e in turn):
            return "not_found"
        return "other"
    return "other"


def record(tracker: Tracker, kind: str, **fields: Any) -> None:
    """Count `kind` for the tracker's conversation (see bot.insight.store.KINDS)."""
    try:
        if kind in HANDOFF_KINDS:
            fields.setdefault("reason", handoff_reason(tracker))
        counted = record_event(kind, conversation=tracker.sender_id, municipality=municipality(tracker),
                               session_start=session_start(tracker), channel=tracker.get_latest_input_channel(),
                               lang=language(tracker), **fields)
        if counted and kind in GROUPED_KINDS and fields.get("question"):
            from bot.insight.grouping import schedule

            schedule()
    except Exception:  # counting must never break the conversation
        log.exception("insight: could not count %s", kind)

"""Decisions of the handoff dialogue, in plain Python (the Rasa actions only adapt them).

    choose_mode("socketio", chat_open=True)   -> "live"      (offer a person in the chat)
    choose_mode("rest", chat_open=True)       -> "case"      (the channel cannot push replies)
    choose_mode("facebook", chat_open=True)   -> "messenger" (never ask for personal details)
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.privacy import find_national_ids

# Channels where a staff reply can reach the citizen later (Rasa pushes over socket.io).
PUSH_CHANNELS = frozenset({"socketio"})
# Social media: information only, never case processing or personal details.
SOCIAL_CHANNELS = frozenset({"facebook", "instagram", "messenger"})
# Words that stop the case form ("avbryt", "stopp", "angre", "nei takk").
CANCEL = re.compile(r"^\s*(avbryt|stopp?|angre|glem det|nei,? takk|cancel)\b", re.IGNORECASE)
# Intents that are not the citizen's question when we look back for it.
NOT_A_QUESTION = frozenset({"affirm", "deny", "greet", "goodbye", "thanks", "request_human", "feedback_positive",
                            "feedback_negative", "bot_challenge"})


def choose_mode(channel: str | None, chat_open: bool) -> str:
    """"live", "case" or "messenger": how a person can help on this channel right now."""
    if (channel or "") in SOCIAL_CHANNELS:
        return "messenger"
    if chat_open and channel in PUSH_CHANNELS:
        return "live"
    return "case"


def wants_to_cancel(text: str | None) -> bool:
    return bool(text and CANCEL.match(text))


def clean_question(text: str) -> str:
    """The question as kept in a case: national identity numbers never stored."""
    for found in reversed(find_national_ids(text)):
        text = text[:found.start] + "[fødselsnummer]" + text[found.end:]
    return text.strip()


def last_question(events: list[dict]) -> str:
    """The citizen's latest message that is a question rather than yes/no/hello/ask-for-a-person."""
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/") and intent not in NOT_A_QUESTION:
            return clean_question(text)
    return ""


def handoff_payload(state: str, lang: str, text: str, expected_by: datetime | None = None,
                    reference: str | None = None) -> dict:
    """The custom payload of the conversation contract: {"data": {"type": "handoff", ...}}."""
    return {"data": {"type": "handoff", "state": state, "lang": lang,
                     "expected_by": expected_by.isoformat() if expected_by else None,
                     "reference": reference, "text": text}}

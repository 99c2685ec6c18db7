"""Decisions of the handoff dialogue, in plain Python (the Rasa actions only adapt them).

    choose_mode("socketio", chat_open=True)   -> "live"      (offer a person in the chat)
    choose_mode("rest", chat_open=True)       -> "case"      (the channel cannot push replies)
    choose_mode("facebook", chat_open=True)   -> "messenger" (never ask for personal details)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

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


# Leaving the live chat, in words. A short message that is only a command ("avbryt",
# "ha det", the widget's button texts) ends the wait or the chat at any time; while
# waiting, these phrases anywhere in a message do too ("eg vil ikkje vente lenger, ha det").
LEAVE_COMMAND = re.compile(
    r"^\W*(avbryt|avslutt|avslutt chatten|avslutt samtalen|gå ut av køen|forlat køen|ut av køen|"
    r"(eg|jeg) vil (gå )?ut av køen|(eg|jeg) vil avslutte (chatten|samtalen)|"
    r"ha det|ha det bra|hadet|adjø|glem det|stopp|nei takk|cancel|quit)\W*$", re.IGNORECASE)
LEAVE_PHRASE = re.compile(
    r"\b((eg|jeg|e|æ|vi) (vil|gidd|gidder|orkar|orker|kan|har ikk(j)?e tid til å) ikk(j)?e (vente|venta)|"
    r"(vil|gidd|gidder|orkar|orker) ikk(j)?e (vente|venta)|ikk(j)?e vente lenger|"
    r"gå ut av køen|forlat(e)? køen|avbryt (køen|chatten|ventinga|ventingen)|"
    r"ha det( bra)?\W*$|hadet\W*$|(eg|jeg) må gå)", re.IGNORECASE)


def wants_to_leave(text: str | None, waiting: bool) -> bool:
    """Whether the citizen's message means "take me out of the queue / end the chat".

    With a person in the chat only a message that is nothing but a command counts
    ("avbryt", "ha det", the widget's "Avslutt chatten"), so a question that mentions
    stopping something is never taken as leaving."""
    text = (text or "").strip()
    if not text:
        return False
    if LEAVE_COMMAND.match(text):
        return True
    return waiting and bool(LEAVE_PHRASE.search(text))


def queue_accepting(closes_at: datetime | None, now: datetime, margin_minutes: int) -> bool:
    """Whether the live queue takes a new chat: chat open, and not within the margin
    before it closes (so nobody is queued only to be sent away at closing)."""
    return closes_at is not None and now + timedelta(minutes=margin_minutes) < closes_at


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
                    reference: str | None = None, **extra) -> dict:
    """The custom payload of the conversation contract: {"data": {"type": "handoff", ...}}.

    Extra keys by state: "id" (staff message id the browser confirms), "position" and
    "estimate_minutes" (waiting), "contact" (case_created: how we answer), "title" (a
    short heading the widget shows above the text)."""
    data = {"type": "handoff", "state": state, "lang": lang,
            "expected_by": expected_by.isoformat() if expected_by else None,
            "reference": reference, "text": text}
    data.update({k: v for k, v in extra.items() if v is not None})
    return {"data": data}

"""Limits on what one conversation or one client address may ask of people (issue 14).

One client address created 15 cases in a row: anybody could fill the staff queue, or
make staff contact a victim's e-mail address. The actions ask `HandoffLimits` before
they create a case or queue a live chat:

    reply = handoff_refusal("case", tracker, lang, phone, now)   # None: go ahead (counted)
    if reply:
        dispatcher.utter_message(text=reply)

Settings (environment, defaults in brackets):

    KOMMUNEBOT_LIMIT_CASES_PER_CONVERSATION      [3]   cases one conversation may leave
    KOMMUNEBOT_LIMIT_CASES_PER_ADDRESS_HOUR      [10]  cases from one client address in an hour
    KOMMUNEBOT_LIMIT_LIVE_PER_CONVERSATION       [3]   live-chat requests of one conversation
    KOMMUNEBOT_LIMIT_LIVE_PER_ADDRESS_HOUR       [10]  live-chat requests from one address in an hour
    KOMMUNEBOT_LIMIT_CONVERSATION_WINDOW_HOURS   [24]  how long a conversation's requests count

The client address arrives as a keyed hash set by the channel (bot.privacy.metadata,
never by the client); behind a proxy it is right only with KOMMUNEBOT_TRUSTED_PROXIES
(otherwise every citizen shares the proxy's address). Counts live in the cases database
(table `handoff_requests`, shared by every action server), without content: kind, the
keyed hashes, time; rows older than the longest window are deleted as new ones come.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from bot.config import settings
from bot.handoff.db import Database, DatabaseUnavailable
from bot.privacy.metadata import server_fact

log = logging.getLogger(__name__)

metadata = MetaData()
requests = Table(
    "handoff_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),            # case | live
    Column("conversation", String(64), nullable=False, index=True),  # SHA-256 of the conversation id
    Column("client", String(32), index=True),             # keyed hash of the address, or NULL
    Column("created_at", DateTime, nullable=False, index=True),  # UTC, naive
)

KINDS = ("case", "live")

TEXTS = {
    ("case", "conversation"): {
        "nn": "Du har alt sendt fleire spørsmål til oss i denne samtalen. Vi svarar på dei du har sendt. "
              "Har du noko meir, ring oss på {phone}.",
        "nb": "Du har allerede sendt flere spørsmål til oss i denne samtalen. Vi svarer på dem du har sendt. "
              "Har du noe mer, ring oss på {phone}.",
    },
    ("case", "client"): {
        "nn": "Vi har fått mange spørsmål frå same stad på kort tid, så vi tek ikkje imot fleire no. "
              "Prøv igjen om ein time, eller ring oss på {phone}.",
        "nb": "Vi har fått mange spørsmål fra samme sted på kort tid, så vi tar ikke imot flere nå. "
              "Prøv igjen om en time, eller ring oss på {phone}.",
    },
    ("live", "conversation"): {
        "nn": "Du har alt bede om å få snakke med ein person fleire gonger i denne samtalen. "
              "Ring oss på {phone}, så hjelper vi deg.",
        "nb": "Du har allerede bedt om å få snakke med en person flere ganger i denne samtalen. "
              "Ring oss på {phone}, så hjelper vi deg.",
    },
    ("live", "client"): {
        "nn": "Mange har bede om ein person frå same stad på kort tid, så chatten tek ikkje imot fleire no. "
              "Prøv igjen om ein time, eller ring oss på {phone}.",
        "nb": "Mange har bedt om en person fra samme sted på kort tid, så chatten tar ikke imot flere nå. "
              "Prøv igjen om en time, eller ring oss på {phone}.",
    },
}


def limit_text(refusal: tuple[str, str], lang: str, phone: str) -> str:
    """The friendly reply to a refusal from `HandoffLimits.take`, in nn or nb."""
    return TEXTS[refusal]["nb" if lang == "nb" else "nn"].format(phone=phone)


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        number = int(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{name}={value!r} must be 0 or more")
    return number


@dataclass(frozen=True)
class Limits:
    per_conversation: tuple[tuple[str, int], ...]
    per_client_hour: tuple[tuple[str, int], ...]
    conversation_window: timedelta

    def conversation(self, kind: str) -> int:
        return dict(self.per_conversation)[kind]

    def client_hour(self, kind: str) -> int:
        return dict(self.per_client_hour)[kind]

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            per_conversation=(("case", _setting("KOMMUNEBOT_LIMIT_CASES_PER_CONVERSATION", 3)),
                              ("live", _setting("KOMMUNEBOT_LIMIT_LIVE_PER_CONVERSATION", 3))),
            per_client_hour=(("case", _setting("KOMMUNEBOT_LIMIT_CASES_PER_ADDRESS_HOUR", 10)),
                             ("live", _setting("KOMMUNEBOT_LIMIT_LIVE_PER_ADDRESS_HOUR", 10))),
            conversation_window=timedelta(hours=_setting("KOMMUNEBOT_LIMIT_CONVERSATION_WINDOW_HOURS", 24)),
        )


def _conversation_key(conversation_id: str) -> str:
    return hashlib.sha256(conversation_id.encode("utf-8", "surrogatepass")).hexdigest()


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class HandoffLimits:
    """Counts cases and live-chat requests per conversation and per client address."""

    def __init__(self, db: Database, limits: Limits | None = None) -> None:
        self.db = db
        self.limits = limits or Limits.from_env()
        metadata.create_all(db.engine)

    @classmethod
    def from_settings(cls) -> HandoffLimits:
        return cls(Database.from_settings())

    def refusal(self, kind: str, conversation_id: str, client: str | None, now: datetime) -> tuple[str, str] | None:
        """(kind, "conversation"|"client") when a limit is reached, else None (nothing counted)."""
        return self._check(kind, conversation_id, client, now, record=False)

    def take(self, kind: str, conversation_id: str, client: str | None, now: datetime) -> tuple[str, str] | None:
        """Count one `kind` request ("case" or "live") unless a limit is reached; returns the
        refusal (kind, "conversation" | "client") or None when it was counted."""
        return self._check(kind, conversation_id, client, now, record=True)

    def _check(self, kind: str, conversation_id: str, client: str | None, now: datetime,
               record: bool) -> tuple[str, str] | None:
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}")
        at = _naive_utc(now)
        conversation = _conversation_key(conversation_id)
        hour_ago, window_start = at - timedelta(hours=1), at - self.limits.conversation_window
        with self.db.engine.begin() as conn:
            if record:  # keep the table small: nothing counts beyond the longest window
                conn.execute(delete(requests).where(requests.c.created_at < min(hour_ago, window_start)))
            count = select(func.count()).select_from(requests).where(requests.c.kind == kind)
            in_conversation = conn.execute(count.where(requests.c.conversation == conversation,
                                                       requests.c.created_at >= window_start)).scalar_one()
            if in_conversation >= self.limits.conversation(kind):
                return (kind, "conversation")
            if client:
                from_client = conn.execute(count.where(requests.c.client == client,
                                                       requests.c.created_at >= hour_ago)).scalar_one()
                if from_client >= self.limits.client_hour(kind):
                    return (kind, "client")
            if record:
                conn.execute(insert(requests).values(kind=kind, conversation=conversation, client=client,
                                                     created_at=at))
        return None

    def forget(self, conversation_id: str) -> int:
        """Delete a conversation's counts (kommunebot forget)."""
        with self.db.engine.begin() as conn:
            return conn.execute(delete(requests).where(
                requests.c.conversation == _conversation_key(conversation_id))).rowcount


_open: dict[tuple[str, Limits], HandoffLimits] = {}


def handoff_refusal(kind: str, tracker: Any, lang: str, phone: str, now: datetime, count: bool = True) -> str | None:
    """For an action: the friendly reply when this conversation or client may not ask for
    another `kind` ("case" or "live") now, else None (and, with `count`, the request is
    counted). The client is the keyed address the channel set on the latest message. If
    the counts cannot be read (database down), the request is allowed and the error logged."""
    client = server_fact((getattr(tracker, "latest_message", None) or {}).get("metadata"), "client")
    key = (settings().database_url, Limits.from_env())
    try:
        if key not in _open:
            _open[key] = HandoffLimits(Database(key[0]), key[1])
        check = _open[key].take if count else _open[key].refusal
        refusal = check(kind, tracker.sender_id, client, now)
    except (SQLAlchemyError, DatabaseUnavailable) as error:
        _open.pop(key, None)
        log.error("handoff limits unavailable, request allowed: %s", str(error).splitlines()[0])
        return None
    if refusal:
        log.warning("handoff limit reached: %s per %s", *refusal)
        return limit_text(refusal, lang, phone)
    return None

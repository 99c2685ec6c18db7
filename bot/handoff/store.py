"""The live-chat queue, cases and staff messages: every change committed at once.

    store = HandoffStore(Database.from_settings(), prefix="ALV")
    entry = store.open_live_chat("conv-1", channel="socketio", lang="nn",
                                 question="Kan eg få snakke med nokon?", now=now, promised_by=later)
    store.claim(entry.reference, "kari", now=now)      # queues a "joined" note for the chat
    store.add_staff_message(entry.reference, "kari", "Hei! Eg heiter Kari.", now=now)
    store.pending_messages("conv-1")                    # what the relay action delivers
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.handoff.contact import Contact
from bot.handoff.db import Database
from bot.handoff.models import Handoff, StaffMessage
from bot.insight import record_staff_reply

OPEN_STATUSES = ("open", "claimed")
MAX_QUESTION_CHARS = 4000
MAX_MESSAGE_CHARS = 4000


class HandoffError(ValueError):
    """A request the store refuses; `reason` is a stable key for user-facing texts:
    no_conversation, no_question, unknown, closed, empty, too_long, is_case."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class HandoffView:
    """A queue entry or case as plain data, detached from the database session."""

    id: int
    reference: str
    kind: str
    status: str
    conversation_id: str
    channel: str
    lang: str
    question: str
    contact: Contact | None
    created_at: datetime
    promised_by: datetime | None
    claimed_at: datetime | None
    closed_at: datetime | None
    handled_by: str | None

    def is_overdue(self, now: datetime) -> bool:
        return self.status != "closed" and self.promised_by is not None and now > self.promised_by

    def age_minutes(self, now: datetime) -> int:
        return max(0, int((now - self.created_at).total_seconds() // 60))


@dataclass(frozen=True)
class MessageView:
    id: int
    handoff_id: int
    conversation_id: str
    kind: str
    text: str
    author: str
    created_at: datetime
    delivered_at: datetime | None


def reference_prefix(municipality_name: str) -> str:
    """Three letters for case references from the municipality's name ("Alver kommune" -> "ALV")."""
    letters = re.sub(r"[^A-Za-zÆØÅæøå]", "", municipality_name.split()[0] if municipality_name.split() else "")
    return (letters[:3] or "KOM").upper()


def _view(row: Handoff) -> HandoffView:
    contact = Contact(row.contact_kind, row.contact_value) if row.contact_kind and row.contact_value else None
    return HandoffView(
        id=row.id, reference=row.reference or "", kind=row.kind, status=row.status,
        conversation_id=row.conversation_id, channel=row.channel, lang=row.lang,
        question=row.question, contact=contact, created_at=row.created_at,
        promised_by=row.promised_by, claimed_at=row.claimed_at, closed_at=row.closed_at,
        handled_by=row.handled_by,
    )


def _message_view(row: StaffMessage) -> MessageView:
    return MessageView(
        id=row.id, handoff_id=row.handoff_id, conversation_id=row.conversation_id, kind=row.kind,
        text=row.text, author=row.author, created_at=row.created_at, delivered_at=row.delivered_at,
    )


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return now


class HandoffStore:
    """Queue entries, cases and staff messages in SQL. All methods commit before returning."""

    def __init__(self, db: Database, prefix: str = "KOM", timezone: str = "Europe/Oslo") -> None:
        self.db = db
        self.prefix = prefix
        self.tz = ZoneInfo(timezone)

    # --- creating -------------------------------------------------------------------

    def _create(self, *, kind: str, conversation_id: str, channel: str, lang: str, question: str,
                contact: Contact | None, now: datetime, promised_by: datetime | None) -> HandoffView:
        if not conversation_id:
            raise HandoffError("no_conversation", "a handoff needs the conversation id")
        with self.db.session() as s:
            row = Handoff(
                kind=kind, status="open", conversation_id=conversation_id, channel=channel or "unknown",
                lang=lang if lang in ("nn", "nb") else "nn", question=(question or "").strip()[:MAX_QUESTION_CHARS],
                contact_kind=contact.kind if contact else None, contact_value=contact.value if contact else None,
                created_at=_aware(now), promised_by=promised_by,
            )
            s.add(row)
            s.flush()  # assigns the id the reference is made from
            row.reference = f"{self.prefix}-{now.astimezone(self.tz).year}-{row.id:06d}"
            s.commit()
            return _view(row)

    def open_live_chat(self, conversation_id: str, *, channel: str, lang: str, question: str,
                       now: datetime, promised_by: datetime | None) -> HandoffView:
        """Put a conversation in the live queue; returns the open entry if it is already queued."""
        existing = self.active_live_chat(conversation_id)
        if existing:
            return existing
        return self._create(kind="live", conversation_id=conversation_id, channel=channel, lang=lang,
                            question=question, contact=None, now=now, promised_by=promised_by)

    def create_case(self, conversation_id: str, *, channel: str, lang: str, question: str,
                    contact: Contact | None, now: datetime, promised_by: datetime | None) -> HandoffView:
        """Store a case for a person to answer later (by e-mail or phone)."""
        if not (question or "").strip():
            raise HandoffError("no_question", "a case needs the citizen's question")
        return self._create(kind="case", conversation_id=conversation_id, channel=channel, lang=lang,
                            question=question, contact=contact, now=now, promised_by=promised_by)

    # --- reading --------------------------------------------------------------------

    def get(self, reference: str) -> HandoffView | None:
        with self.db.session() as s:
            row = s.scalar(select(Handoff).where(Handoff.reference == reference))
            return _view(row) if row else None

    def active_live_chat(self, conversation_id: str) -> HandoffView | None:
        """The open or claimed live chat of a conversation, if any."""
        with self.db.session() as s:
            row = s.scalar(
                select(Handoff)
                .where(Handoff.conversation_id == conversation_id, Handoff.kind == "live",
                       Handoff.status.in_(OPEN_STATUSES))
                .order_by(Handoff.id.desc())
            )
            return _view(row) if row else None

    def open_items(self, now: datetime) -> list[HandoffView]:
        """Everything not closed: overdue first, then by promised time, then oldest first."""
        with self.db.session() as s:
            rows = s.scalars(select(Handoff).where(Handoff.status.in_(OPEN_STATUSES))).all()
            views = [_view(r) for r in rows]
        far = datetime.max.replace(tzinfo=now.tzinfo)
        return sorted(views, key=lambda v: (not v.is_overdue(now), v.promised_by or far, v.created_at, v.id))

    def messages(self, reference: str) -> list[MessageView]:
        """All staff messages of a queue entry or case, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                select(StaffMessage).join(Handoff, StaffMessage.handoff_id == Handoff.id)
                .where(Handoff.reference == reference).order_by(StaffMessage.id)
            ).all()
            return [_message_view(r) for r in rows]

    def pending_messages(self, conversation_id: str) -> list[MessageView]:
        """Staff messages for a conversation not yet delivered, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                select(StaffMessage)
                .where(StaffMessage.conversation_id == conversation_id, StaffMessage.delivered_at.is_(None))
                .order_by(StaffMessage.id)
            ).all()
            return [_message_view(r) for r in rows]

    def conversations_with_pending(self) -> list[str]:
        """Conversations that have staff messages waiting for delivery."""
        with self.db.session() as s:
            return list(s.scalars(
                select(StaffMessage.conversation_id).where(StaffMessage.delivered_at.is_(None)).distinct()
            ).all())

    # --- changing -------------------------------------------------------------------

    def _open_row(self, s, reference: str) -> Handoff:
        row = s.scalar(select(Handoff).where(Handoff.reference == reference))
        if row is None:
            raise HandoffError("unknown", f"no case or chat with reference {reference!r}")
        if row.status == "closed":
            raise HandoffError("closed", f"{reference} is closed")
        return row

    def _queue_message(self, s, row: Handoff, kind: str, text: str, author: str, now: datetime) -> StaffMessage:
        message = StaffMessage(handoff_id=row.id, conversation_id=row.conversation_id, kind=kind,
                               text=text, author=author, created_at=_aware(now))
        s.add(message)
        return message

    def claim(self, reference: str, username: str, *, now: datetime) -> HandoffView:
        """A staff member takes the item; a live chat gets a "joined" note for the citizen."""
        with self.db.session() as s:
            row = self._open_row(s, reference)
            first_claim = row.status == "open"
            row.status, row.handled_by = "claimed", username
            row.claimed_at = row.claimed_at or _aware(now)
            if row.kind == "live" and first_claim:
                self._queue_message(s, row, "joined", "", username, now)
            s.commit()
            if row.kind == "live":  # a person has joined the chat: the citizen is answered
                record_staff_reply(reference, now, database_url=self.db.url)
            return _view(row)

    def add_staff_message(self, reference: str, username: str, text: str, *, now: datetime) -> MessageView:
        """Store a staff reply to a live chat (claiming it if nobody has); delivered by the relay."""
        text = (text or "").strip()
        if not text:
            raise HandoffError("empty", "the reply is empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise HandoffError("too_long", f"the reply is longer than {MAX_MESSAGE_CHARS} characters")
        with self.db.session() as s:
            row = self._open_row(s, reference)
            if row.kind != "live":
                raise HandoffError("is_case", f"{reference} is a case: answer it by {row.contact_kind or 'phone'}")
            if row.status == "open":
                row.status, row.handled_by, row.claimed_at = "claimed", username, _aware(now)
                self._queue_message(s, row, "joined", "", username, now)
            message = self._queue_message(s, row, "message", text, username, now)
            s.commit()
            record_staff_reply(reference, now, database_url=self.db.url)
            return _message_view(message)

    def close(self, reference: str, username: str, *, now: datetime) -> HandoffView:
        """Close the item; a live chat gets an "ended" note that resumes the bot when delivered."""
        with self.db.session() as s:
            row = self._open_row(s, reference)
            row.status, row.closed_at = "closed", _aware(now)
            row.handled_by = row.handled_by or username
            if row.kind == "live":
                self._queue_message(s, row, "ended", "", username, now)
            s.commit()
            record_staff_reply(reference, now, database_url=self.db.url)  # closed unanswered here: by phone
            return _view(row)

    def mark_delivered(self, message_id: int, *, now: datetime) -> bool:
        """Mark one message delivered; False if someone else delivered it first."""
        with self.db.session() as s:
            result = s.execute(
                update(StaffMessage)
                .where(StaffMessage.id == message_id, StaffMessage.delivered_at.is_(None))
                .values(delivered_at=_aware(now))
            )
            s.commit()
            return result.rowcount == 1

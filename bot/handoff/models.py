"""SQL tables for the handoff and the staff portal (SQLAlchemy 2.0 declarative).

Columns added after the first release are nullable (or have a server default), so
`bot.handoff.db.Database` can add them to an existing database with ALTER TABLE.
The Rasa process writes a few of these columns too (bot/handoff/presence.py, plain SQL
that SQLAlchemy 1.4 runs): keep the names in step.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, TypeDecorator, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite forgets the time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Handoff(Base):
    """A citizen handed to a person: a live chat in the queue (kind "live") or a case.

    A live chat that ends with a contact left (the citizen went away, or the chat closed
    for the day) becomes a case in place: kind "case", origin "live", same reference.
    """

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(8))  # live | case
    status: Mapped[str] = mapped_column(String(8), index=True, default="open")  # open | claimed | closed
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)  # Rasa sender id = transcript
    channel: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(2))
    question: Mapped[str] = mapped_column(Text, default="")
    contact_kind: Mapped[str | None] = mapped_column(String(8))  # email | phone | None
    contact_value: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    promised_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    # --- since round 2 (added to older databases by Database) ---
    # The municipality (profile slug) the conversation belongs to; staff see only theirs.
    municipality: Mapped[str | None] = mapped_column(String(64), index=True)
    origin: Mapped[str | None] = mapped_column(String(8))  # "live": a case that began as a live chat
    # Why it closed: staff | answered | citizen | left | idle | closing
    end_reason: Mapped[str | None] = mapped_column(String(16))
    # Bumped on every change (also by the Rasa process): the portal's live updates poll it.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The citizen's chat: last connection, last message, disconnected since, judged gone at.
    citizen_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    citizen_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    citizen_away_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    citizen_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Phone numbers and e-mail addresses the citizen wrote in the chat (JSON list of
    # {"kind", "value", "at"}), for the handler who must call back; the tracker keeps
    # only redacted text.
    chat_contacts: Mapped[str | None] = mapped_column(Text)
    # Where the citizen stands in the queue and the estimated wait in minutes, kept fresh
    # by the portal so the widget's channel can answer "where am I?" without computing.
    queue_position: Mapped[int | None] = mapped_column(Integer)
    queue_estimate: Mapped[int | None] = mapped_column(Integer)


class StaffMessage(Base):
    """Something from the staff side about a chat or case, kept with its delivery state.

    kind, for the citizen's chat (the outbox): "joined" (a person took the chat; text
    "transfer" when a colleague took it over), "message" (staff text), "ended" (the chat
    is over; text is the reason). Never sent to the chat: "email" (a case answered by
    e-mail, `sent_to` the address), "note" (a case answered by phone, or an event such
    as a transfer, for the staff's record).

    sent_at: handed to the citizen's chat; delivered_at: the citizen's browser confirmed
    it; seen_at: it was on screen with the chat open.
    """

    __tablename__ = "staff_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # --- since round 2 ---
    municipality: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[str | None] = mapped_column(Text)  # what the chat was sent (JSON), to send again
    sent_to: Mapped[str | None] = mapped_column(String(254))


class StaffUser(Base):
    """A staff account for the portal; the password only as an argon2 hash.

    role: "staff" or "lead" (a lead may reply to, transfer and close anyone's chats).
    municipality: the profile slug the account works for (None: the only or default one).
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # --- since round 2 ---
    role: Mapped[str] = mapped_column(String(8), default="staff", server_default=text("'staff'"))
    municipality: Mapped[str | None] = mapped_column(String(64))
    # Wall-clock time the portal last saw the user with a page open (who is on duty).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A logged-in portal session; only the SHA-256 of the cookie token is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StaffToken(Base):
    """An API token for integrations (`Authorization: Bearer`), made by
    `kommunebot staff token NAME`; only its SHA-256 is stored."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

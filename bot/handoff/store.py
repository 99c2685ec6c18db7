"""The live-chat queue, cases and staff messages: every change committed at once.

    store = HandoffStore(Database.from_settings(), prefix="ALV", municipality="alver")
    entry = store.open_live_chat("conv-1", channel="socketio", lang="nn",
                                 question="Kan eg få snakke med nokon?", now=now, promised_by=later)
    store.claim(entry.reference, "kari", now=now)      # atomic; ClaimConflict names who has it
    store.add_staff_message(entry.reference, "kari", "Hei! Eg heiter Kari.", now=now)
    store.unsent("conv-1")                              # what the relay action sends to the chat
    store.acknowledge("conv-1", [id], now=now)          # the citizen's browser confirmed it

Rules the store enforces (not only the portal): a claim succeeds only on an open item,
so two employees can never both take one; only the handler, or a lead, may reply to,
transfer or close an item; a staff message counts as delivered only when the citizen's
browser acknowledged it. Every query that lists items takes a `municipality` filter.
"""

from __future__ import annotations

import copy
import json
import re
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, or_, select, update

from bot.handoff.contact import Contact
from bot.handoff.db import Database
from bot.handoff.models import Handoff, StaffMessage, StaffUser
from bot.insight import record_staff_reply

OPEN_STATUSES = ("open", "claimed")
CHAT_KINDS = ("joined", "message", "ended")   # staff messages that go to the citizen's chat
MAX_QUESTION_CHARS = 4000
MAX_MESSAGE_CHARS = 4000
END_REASONS = ("staff", "answered", "citizen", "left", "idle", "closing")


class HandoffError(ValueError):
    """A request the store refuses; `reason` is a stable key for user-facing texts:
    no_conversation, no_question, unknown, closed, empty, too_long, is_case, is_live,
    claimed (someone else has it: `handler`), not_handler (`handler`), not_claimed,
    no_user, same_user."""

    def __init__(self, reason: str, message: str, handler: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.handler = handler


class ClaimConflict(HandoffError):
    """Someone else has the item; `handler` says who."""

    def __init__(self, reference: str, handler: str | None) -> None:
        super().__init__("claimed", f"{reference} is handled by {handler}", handler)


@dataclass(frozen=True)
class ChatContact:
    """A phone number or e-mail address the citizen wrote in the chat."""

    kind: str
    value: str
    at: float  # the message's Rasa timestamp (seconds), to place it in the transcript

    def contact(self) -> Contact:
        return Contact(self.kind, self.value)


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
    municipality: str | None = None
    origin: str | None = None
    end_reason: str | None = None
    updated_at: datetime | None = None
    citizen_seen_at: datetime | None = None
    citizen_message_at: datetime | None = None
    citizen_away_since: datetime | None = None
    citizen_left_at: datetime | None = None
    chat_contacts: tuple[ChatContact, ...] = ()
    queue_position: int | None = None
    queue_estimate: int | None = None

    @property
    def waiting(self) -> bool:
        """A live chat nobody has taken yet."""
        return self.kind == "live" and self.status == "open"

    def is_overdue(self, now: datetime) -> bool:
        return self.status != "closed" and self.promised_by is not None and now > self.promised_by

    def age_minutes(self, now: datetime) -> int:
        return max(0, int((now - self.created_at).total_seconds() // 60))

    def may_act(self, username: str, is_lead: bool = False) -> bool:
        """Whether `username` may reply to, transfer or close it now."""
        return is_lead or self.handled_by == username

    def contacts(self) -> list[Contact]:
        """Every way to reach the citizen: the case contact, then what they wrote in the chat."""
        found = [self.contact] if self.contact else []
        for item in self.chat_contacts:
            if item.contact() not in found:
                found.append(item.contact())
        return found


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
    sent_at: datetime | None = None
    seen_at: datetime | None = None
    sent_to: str | None = None
    payload: dict | None = None

    def state(self, citizen_left: bool = False) -> str:
        """queued | sent | delivered | seen | undelivered (the citizen left without it)."""
        if self.seen_at:
            return "seen"
        if self.delivered_at:
            return "delivered"
        if citizen_left:
            return "undelivered"
        return "sent" if self.sent_at else "queued"


def reference_prefix(municipality_name: str) -> str:
    """Three letters for case references from the municipality's name ("Alver kommune" -> "ALV")."""
    letters = re.sub(r"[^A-Za-zÆØÅæøå]", "", municipality_name.split()[0] if municipality_name.split() else "")
    return (letters[:3] or "KOM").upper()


def municipality_slug(name: str) -> str:
    """A profile slug from a municipality's name when the profile has none ("Alver kommune" -> "alver")."""
    first = (name.split() or ["kommune"])[0].lower()
    first = first.replace("æ", "ae").replace("ø", "o").replace("å", "a")
    return re.sub(r"[^a-z0-9-]", "", first) or "kommune"


def _contacts(raw: str | None) -> tuple[ChatContact, ...]:
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        return ()
    return tuple(ChatContact(str(i["kind"]), str(i["value"]), float(i.get("at") or 0)) for i in items
                 if isinstance(i, dict) and i.get("kind") in ("email", "phone") and i.get("value"))


def _view(row: Handoff) -> HandoffView:
    contact = Contact(row.contact_kind, row.contact_value) if row.contact_kind and row.contact_value else None
    return HandoffView(
        id=row.id, reference=row.reference or "", kind=row.kind, status=row.status,
        conversation_id=row.conversation_id, channel=row.channel, lang=row.lang,
        question=row.question, contact=contact, created_at=row.created_at,
        promised_by=row.promised_by, claimed_at=row.claimed_at, closed_at=row.closed_at,
        handled_by=row.handled_by, municipality=row.municipality, origin=row.origin,
        end_reason=row.end_reason, updated_at=row.updated_at, citizen_seen_at=row.citizen_seen_at,
        citizen_message_at=row.citizen_message_at, citizen_away_since=row.citizen_away_since,
        citizen_left_at=row.citizen_left_at, chat_contacts=_contacts(row.chat_contacts),
        queue_position=row.queue_position, queue_estimate=row.queue_estimate,
    )


def _message_view(row: StaffMessage) -> MessageView:
    try:
        payload = json.loads(row.payload) if row.payload else None
    except ValueError:
        payload = None
    return MessageView(
        id=row.id, handoff_id=row.handoff_id, conversation_id=row.conversation_id, kind=row.kind,
        text=row.text, author=row.author, created_at=row.created_at, delivered_at=row.delivered_at,
        sent_at=row.sent_at, seen_at=row.seen_at, sent_to=row.sent_to, payload=payload,
    )


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return now


def staff_belongs_to(municipality: str):
    """SQL condition: the staff account works for `municipality` (accounts without one, made
    before municipalities existed, work for the default municipality)."""
    from bot.service.municipalities import registry

    if municipality == registry().default_slug:
        return or_(StaffUser.municipality == municipality, StaffUser.municipality.is_(None))
    return StaffUser.municipality == municipality


def wall_clock() -> datetime:
    """Real time for bookkeeping that must only move forward (change polling, presence),
    unlike the service clock (bot.handoff.clock), which tests move around."""
    return datetime.now(timezone.utc)


class HandoffStore:
    """Queue entries, cases and staff messages in SQL. All methods commit before returning.

    `municipality` is written on the rows this store creates; the listing methods take
    their own `municipality` filter (None: all).

    `scoped(slug)` is the same store seen by the staff of one municipality: every read and
    every change by reference only finds that municipality's rows (another municipality's
    reference is "unknown", exactly like one that does not exist), and listings never
    leave it, whatever filter the caller passes. Rows without a municipality (written
    before municipalities existed) belong to the default municipality.
    """

    def __init__(self, db: Database, prefix: str = "KOM", timezone: str = "Europe/Oslo",
                 municipality: str | None = None) -> None:
        self.db = db
        self.prefix = prefix
        self.tz = ZoneInfo(timezone)
        self.municipality = municipality
        self.scope: str | None = None

    def scoped(self, municipality: str) -> HandoffStore:
        """This store limited to one municipality's rows (see the class doc)."""
        view = copy.copy(self)
        view.scope = municipality
        return view

    @staticmethod
    def _belongs_to(municipality: str):
        """SQL condition: the handoff row is `municipality`'s."""
        from bot.service.municipalities import registry

        if municipality == registry().default_slug:  # rows from before municipalities: the default's
            return or_(Handoff.municipality == municipality, Handoff.municipality.is_(None))
        return Handoff.municipality == municipality

    def _scoped_query(self, query):
        return query if self.scope is None else query.where(self._belongs_to(self.scope))

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
                created_at=_aware(now), promised_by=promised_by, municipality=self.municipality,
                updated_at=wall_clock(), citizen_seen_at=now,
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
            row = s.scalar(self._scoped_query(select(Handoff).where(Handoff.reference == reference)))
            return _view(row) if row else None

    def get_by_id(self, handoff_id: int) -> HandoffView | None:
        with self.db.session() as s:
            row = s.scalar(self._scoped_query(select(Handoff).where(Handoff.id == handoff_id)))
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

    def _in_municipality(self, query, municipality: str | None):
        """`query` limited to `municipality` (None: all), and always to the store's scope."""
        if self.scope is not None and municipality not in (None, self.scope):
            return query.where(false())  # another municipality than the scope: nothing
        wanted = self.scope or municipality
        return query if wanted is None else query.where(self._belongs_to(wanted))

    def open_items(self, now: datetime, municipality: str | None = None) -> list[HandoffView]:
        """Everything not closed: overdue first, then by promised time, then oldest first."""
        with self.db.session() as s:
            query = self._in_municipality(select(Handoff).where(Handoff.status.in_(OPEN_STATUSES)), municipality)
            views = [_view(r) for r in s.scalars(query).all()]
        far = datetime.max.replace(tzinfo=now.tzinfo)
        return sorted(views, key=lambda v: (not v.is_overdue(now), v.promised_by or far, v.created_at, v.id))

    def live_chats(self, municipality: str | None = None) -> list[HandoffView]:
        """Open and claimed live chats, oldest first."""
        with self.db.session() as s:
            query = self._in_municipality(
                select(Handoff).where(Handoff.kind == "live", Handoff.status.in_(OPEN_STATUSES)), municipality)
            return [_view(r) for r in s.scalars(query.order_by(Handoff.created_at, Handoff.id)).all()]

    def waiting_chats(self, municipality: str | None = None) -> list[HandoffView]:
        """Live chats nobody has taken, in queue order (first come, first served)."""
        return [v for v in self.live_chats(municipality) if v.status == "open"]

    def cases(self, municipality: str | None = None, include_closed: bool = False) -> list[HandoffView]:
        with self.db.session() as s:
            query = select(Handoff).where(Handoff.kind == "case")
            if not include_closed:
                query = query.where(Handoff.status.in_(OPEN_STATUSES))
            query = self._in_municipality(query, municipality).order_by(Handoff.created_at, Handoff.id)
            return [_view(r) for r in s.scalars(query).all()]

    def recently_closed(self, since: datetime, municipality: str | None = None, limit: int = 20) -> list[HandoffView]:
        with self.db.session() as s:
            query = self._in_municipality(
                select(Handoff).where(Handoff.status == "closed", Handoff.closed_at >= since), municipality)
            return [_view(r) for r in s.scalars(query.order_by(Handoff.closed_at.desc()).limit(limit)).all()]

    def changed_since(self, since: datetime, municipality: str | None = None) -> list[tuple[str, datetime, str | None]]:
        """(reference, updated_at, municipality) of items changed after `since` (wall clock)."""
        with self.db.session() as s:
            query = self._in_municipality(
                select(Handoff.reference, Handoff.updated_at, Handoff.municipality).where(Handoff.updated_at > since),
                municipality)
            return [(r, u, m) for r, u, m in s.execute(query).all()]

    def messages(self, reference: str) -> list[MessageView]:
        """All staff messages of a queue entry or case, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                self._scoped_query(select(StaffMessage).join(Handoff, StaffMessage.handoff_id == Handoff.id)
                                   .where(Handoff.reference == reference)).order_by(StaffMessage.id)
            ).all()
            return [_message_view(r) for r in rows]

    def unsent(self, conversation_id: str) -> list[MessageView]:
        """Messages for the citizen's chat not yet handed to it, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(
                select(StaffMessage)
                .where(StaffMessage.conversation_id == conversation_id, StaffMessage.kind.in_(CHAT_KINDS),
                       StaffMessage.sent_at.is_(None))
                .order_by(StaffMessage.id)
            ).all()
            return [_message_view(r) for r in rows]

    pending_messages = unsent  # the name the first release used

    def unacknowledged(self, conversation_id: str) -> list[MessageView]:
        """Messages handed to the chat that the citizen's browser has not confirmed."""
        with self.db.session() as s:
            rows = s.scalars(
                select(StaffMessage)
                .where(StaffMessage.conversation_id == conversation_id, StaffMessage.kind.in_(CHAT_KINDS),
                       StaffMessage.sent_at.is_not(None), StaffMessage.delivered_at.is_(None))
                .order_by(StaffMessage.id)
            ).all()
            return [_message_view(r) for r in rows]

    def conversations_with_unsent(self) -> list[str]:
        """Conversations that have chat messages waiting to be handed to the chat."""
        with self.db.session() as s:
            return list(s.scalars(
                select(StaffMessage.conversation_id)
                .where(StaffMessage.kind.in_(CHAT_KINDS), StaffMessage.sent_at.is_(None)).distinct()
            ).all())

    conversations_with_pending = conversations_with_unsent

    # --- who is on duty, how long chats take ------------------------------------------

    def staff_on_duty(self, municipality: str | None, *, within: timedelta = timedelta(seconds=75),
                      wall_now: datetime | None = None) -> list[str]:
        """Staff with a portal page open just now (for this municipality, or for all)."""
        cutoff = (wall_now or wall_clock()) - within
        with self.db.session() as s:
            query = select(StaffUser.username).where(StaffUser.last_seen_at >= cutoff)
            wanted = self.scope or municipality
            if wanted is not None:
                query = query.where(staff_belongs_to(wanted))
            return sorted(s.scalars(query).all())

    def busy_handlers(self, municipality: str | None) -> list[str]:
        """Who is in a live chat now."""
        with self.db.session() as s:
            query = self._in_municipality(
                select(Handoff.handled_by).where(Handoff.kind == "live", Handoff.status == "claimed"), municipality)
            return sorted({h for h in s.scalars(query).all() if h})

    def handling_minutes(self, municipality: str | None, *, last: int = 20) -> float | None:
        """Median minutes from taking a live chat to closing it, over the latest `last`
        chats staff closed (None without any)."""
        with self.db.session() as s:
            query = self._in_municipality(
                select(Handoff.claimed_at, Handoff.closed_at)
                .where(Handoff.origin.is_(None), Handoff.kind == "live", Handoff.end_reason == "staff",
                       Handoff.claimed_at.is_not(None), Handoff.closed_at.is_not(None)), municipality)
            rows = s.execute(query.order_by(Handoff.closed_at.desc()).limit(last)).all()
        minutes = [(closed - claimed).total_seconds() / 60 for claimed, closed in rows if closed >= claimed]
        return statistics.median(minutes) if minutes else None

    def set_queue_estimates(self, estimates: dict[str, tuple[int | None, int | None]]) -> None:
        """Store (position, minutes) per waiting chat; only rows whose values change are touched."""
        if not estimates:
            return
        with self.db.session() as s:
            for row in s.scalars(select(Handoff).where(Handoff.reference.in_(list(estimates)))).all():
                position, minutes = estimates[row.reference]
                if (row.queue_position, row.queue_estimate) != (position, minutes):
                    row.queue_position, row.queue_estimate = position, minutes
            s.commit()

    # --- changing -------------------------------------------------------------------

    def _row(self, s, reference: str) -> Handoff:
        row = s.scalar(self._scoped_query(select(Handoff).where(Handoff.reference == reference)))
        if row is None:
            raise HandoffError("unknown", f"no case or chat with reference {reference!r}")
        return row

    def _open_row(self, s, reference: str) -> Handoff:
        row = self._row(s, reference)
        if row.status == "closed":
            raise HandoffError("closed", f"{reference} is closed")
        return row

    @staticmethod
    def _check_handler(row: Handoff, username: str, is_lead: bool) -> None:
        if is_lead or row.handled_by == username:
            return
        if row.status == "open" or row.handled_by is None:
            raise HandoffError("not_claimed", f"{row.reference} has no handler: take it first")
        raise HandoffError("not_handler", f"{row.reference} is handled by {row.handled_by}", row.handled_by)

    def _queue_message(self, s, row: Handoff, kind: str, text: str, author: str, now: datetime,
                       sent_to: str | None = None) -> StaffMessage:
        message = StaffMessage(handoff_id=row.id, conversation_id=row.conversation_id, kind=kind,
                               text=text, author=author, created_at=_aware(now), municipality=row.municipality,
                               sent_to=sent_to)
        s.add(message)
        row.updated_at = wall_clock()
        return message

    def _claim_open(self, s, reference: str, username: str, now: datetime) -> bool:
        """Take an open item in one conditional UPDATE; True if this call took it."""
        result = s.execute(
            update(Handoff).where(Handoff.reference == reference, Handoff.status == "open")
            .values(status="claimed", handled_by=username, claimed_at=func.coalesce(Handoff.claimed_at, _aware(now)),
                    updated_at=wall_clock(), queue_position=None, queue_estimate=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def claim(self, reference: str, username: str, *, now: datetime) -> HandoffView:
        """Take the item. Atomic: of two employees claiming at once exactly one gets it,
        the other gets ClaimConflict naming the handler. Claiming one's own item again is
        a no-op. A live chat gets a "joined" note for the citizen."""
        with self.db.session() as s:
            took = self._claim_open(s, reference, username, now)
            row = self._row(s, reference)
            s.refresh(row)
            if took:
                if row.kind == "live":
                    self._queue_message(s, row, "joined", "", username, now)
                s.commit()
                if row.kind == "live":  # a person has joined the chat: the citizen is answered (insight)
                    record_staff_reply(reference, now, database_url=self.db.url)
                return _view(row)
            if row.status == "closed":
                raise HandoffError("closed", f"{reference} is closed")
            if row.handled_by == username:
                return _view(row)
            raise ClaimConflict(reference, row.handled_by)

    def transfer(self, reference: str, actor: str, to_user: str, *, now: datetime,
                 is_lead: bool = False) -> HandoffView:
        """Hand the item to a colleague (the handler or a lead may); the citizen's chat is told."""
        to_user = (to_user or "").strip().lower()
        with self.db.session() as s:
            if not s.scalar(select(StaffUser.id).where(StaffUser.username == to_user)):
                raise HandoffError("no_user", f"no staff account {to_user!r}")
            row = self._open_row(s, reference)
            self._check_handler(row, actor, is_lead)
            if row.handled_by == to_user:
                raise HandoffError("same_user", f"{reference} is already handled by {to_user}")
            before = row.handled_by
            result = s.execute(
                update(Handoff).where(Handoff.id == row.id, Handoff.handled_by == before, Handoff.status != "closed")
                .values(status="claimed", handled_by=to_user, claimed_at=func.coalesce(Handoff.claimed_at, _aware(now)),
                        updated_at=wall_clock())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # someone changed it in between: say who has it now
                s.rollback()
                current = self.get(reference)
                raise ClaimConflict(reference, current.handled_by if current else None)
            s.refresh(row)
            if row.kind == "live":
                self._queue_message(s, row, "joined", "transfer", to_user, now)
            self._queue_message(s, row, "note", f"transfer:{before or ''}:{to_user}", actor, now)
            s.commit()
            return _view(row)

    def add_staff_message(self, reference: str, username: str, text: str, *, now: datetime,
                          is_lead: bool = False) -> MessageView:
        """Store a staff reply to a live chat (taking it first if nobody has); the relay
        action hands it to the chat. Only the handler or a lead may write."""
        text = (text or "").strip()
        if not text:
            raise HandoffError("empty", "the reply is empty")
        if len(text) > MAX_MESSAGE_CHARS:
            raise HandoffError("too_long", f"the reply is longer than {MAX_MESSAGE_CHARS} characters")
        with self.db.session() as s:
            row = self._open_row(s, reference)
            if row.kind != "live":
                raise HandoffError("is_case", f"{reference} is a case: answer it by {row.contact_kind or 'phone'}")
            if row.status == "open" and self._claim_open(s, reference, username, now):
                s.refresh(row)
                self._queue_message(s, row, "joined", "", username, now)
            else:
                s.refresh(row)
                self._check_handler(row, username, is_lead)
            message = self._queue_message(s, row, "message", text, username, now)
            s.commit()
            record_staff_reply(reference, now, database_url=self.db.url)
            return _message_view(message)

    def close(self, reference: str, username: str, *, now: datetime, is_lead: bool = False,
              reason: str = "staff") -> HandoffView:
        """Close the item (the handler or a lead); a live chat gets an "ended" note that
        gives the citizen the bot back when delivered."""
        with self.db.session() as s:
            row = self._open_row(s, reference)
            self._check_handler(row, username, is_lead)
            self._finish(s, row, reason, username, now)
            s.commit()
            record_staff_reply(reference, now, database_url=self.db.url)  # closed unanswered here: by phone
            return _view(row)

    def _finish(self, s, row: Handoff, reason: str, author: str, now: datetime, notify: bool = True) -> None:
        row.status, row.closed_at, row.end_reason = "closed", _aware(now), reason
        row.handled_by = row.handled_by or (author if reason in ("staff", "answered") else None)
        row.queue_position = row.queue_estimate = None
        row.updated_at = wall_clock()
        if row.kind == "live" and notify:
            self._queue_message(s, row, "ended", reason, author, now)

    def end_live_chat(self, reference: str, *, reason: str, now: datetime, promised_by: datetime | None = None,
                      contact: Contact | None = None, notify: bool = True) -> HandoffView:
        """End a live chat without staff closing it: the citizen left, went idle, cancelled,
        or chat closed for the day. With a contact (given, or written in the chat) and a
        promised time it becomes a case in place (same reference); otherwise it closes.
        `notify`: queue an "ended" note for the citizen's chat (not when the citizen is
        told at once, e.g. after leaving the queue themselves)."""
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}")
        with self.db.session() as s:
            row = self._open_row(s, reference)
            if row.kind != "live":
                raise HandoffError("is_case", f"{reference} is a case already")
            if reason == "left":
                row.citizen_left_at = _aware(now)
            found = contact or next((c.contact() for c in _contacts(row.chat_contacts)), None)
            if found is not None and promised_by is not None and reason != "citizen":
                row.kind, row.origin = "case", "live"
                row.contact_kind, row.contact_value = found.kind, found.value
                row.promised_by, row.end_reason = promised_by, reason
                row.queue_position = row.queue_estimate = None
                if not row.question.strip():
                    row.question = "(chat)"
                if notify:
                    self._queue_message(s, row, "ended", f"{reason}:case", "kommunebot", now)
                row.updated_at = wall_clock()
            else:
                self._finish(s, row, reason, "kommunebot", now, notify=notify)
            s.commit()
            return _view(row)

    def reopen_as_case(self, conversation_id: str, *, contact: Contact, now: datetime,
                       promised_by: datetime | None, within: timedelta = timedelta(days=14)) -> HandoffView | None:
        """The conversation's live chat that chat closing time ended, made a case with the
        contact the citizen gave afterwards (same reference); None if there is none."""
        with self.db.session() as s:
            row = s.scalar(select(Handoff).where(
                Handoff.conversation_id == conversation_id, Handoff.kind == "live", Handoff.status == "closed",
                Handoff.end_reason == "closing", Handoff.closed_at >= _aware(now) - within,
            ).order_by(Handoff.id.desc()))
            if row is None:
                return None
            row.kind, row.origin, row.status = "case", "live", "open"
            row.contact_kind, row.contact_value = contact.kind, contact.value
            row.promised_by, row.closed_at, row.end_reason, row.handled_by = promised_by, None, None, None
            row.claimed_at = None
            if not row.question.strip():
                row.question = "(chat)"
            row.updated_at = wall_clock()
            s.commit()
            return _view(row)

    def record_answer(self, reference: str, username: str, text: str, *, now: datetime, sent_to: str | None,
                      is_lead: bool = False) -> HandoffView:
        """Record the answer to a case (an e-mail sent to `sent_to`, or a note of a phone
        call when None) and close the case. Taking an open case happens on the way."""
        text = (text or "").strip()
        if not text:
            raise HandoffError("empty", "the reply is empty")
        if len(text) > MAX_MESSAGE_CHARS * 4:
            raise HandoffError("too_long", "the reply is too long")
        with self.db.session() as s:
            row = self._open_row(s, reference)
            if row.kind != "case":
                raise HandoffError("is_live", f"{reference} is a live chat: answer it in the chat")
            if row.status == "open" and self._claim_open(s, reference, username, now):
                s.refresh(row)
            else:
                s.refresh(row)
                self._check_handler(row, username, is_lead)
            self._queue_message(s, row, "email" if sent_to else "note", text, username, now, sent_to=sent_to)
            self._finish(s, row, "answered", username, now)
            s.commit()
            record_staff_reply(reference, now, database_url=self.db.url)
            return _view(row)

    def check_may_answer(self, reference: str, username: str, is_lead: bool = False) -> HandoffView:
        """The case, if `username` may answer it now (open, or theirs); else HandoffError."""
        with self.db.session() as s:
            row = self._open_row(s, reference)
            if row.kind != "case":
                raise HandoffError("is_live", f"{reference} is a live chat: answer it in the chat")
            if row.status != "open":
                self._check_handler(row, username, is_lead)
            return _view(row)

    # --- the citizen's side -------------------------------------------------------------

    def record_citizen_message(self, conversation_id: str, *, now: datetime, text: str = "",
                               contacts: tuple[Contact, ...] | list[Contact] = (),
                               at: float | None = None) -> HandoffView | None:
        """A message from the citizen during a live chat: keeps the time, the contacts it
        contains (for the handler), and the first words as the question if there was none."""
        with self.db.session() as s:
            row = s.scalar(select(Handoff).where(
                Handoff.conversation_id == conversation_id, Handoff.kind == "live",
                Handoff.status.in_(OPEN_STATUSES)).order_by(Handoff.id.desc()))
            if row is None:
                return None
            row.citizen_message_at = row.citizen_seen_at = _aware(now)
            row.citizen_away_since = None
            if text and not row.question.strip():
                row.question = text.strip()[:MAX_QUESTION_CHARS]
            known = list(_contacts(row.chat_contacts))
            for contact in contacts:
                if all(k.value != contact.value for k in known):
                    known.append(ChatContact(contact.kind, contact.value, at or now.timestamp()))
            if known:
                row.chat_contacts = json.dumps([{"kind": k.kind, "value": k.value, "at": k.at} for k in known])
            row.updated_at = wall_clock()
            s.commit()
            return _view(row)

    def claim_for_sending(self, message_id: int, payload: dict, *, now: datetime) -> bool:
        """Mark a message handed to the chat, keeping what was sent; False if another
        relay sent it already."""
        with self.db.session() as s:
            result = s.execute(
                update(StaffMessage).where(StaffMessage.id == message_id, StaffMessage.sent_at.is_(None))
                .values(sent_at=_aware(now), payload=json.dumps(payload, ensure_ascii=False))
            )
            s.commit()
            return result.rowcount == 1

    def acknowledge(self, conversation_id: str, ids: list[int], *, now: datetime, seen: bool = False) -> int:
        """The citizen's browser confirmed these messages (and, with `seen`, showed them
        with the chat open). Returns how many rows changed."""
        ids = [int(i) for i in ids][:200]
        if not ids:
            return 0
        with self.db.session() as s:
            changed = s.execute(
                update(StaffMessage)
                .where(StaffMessage.conversation_id == conversation_id, StaffMessage.id.in_(ids),
                       StaffMessage.delivered_at.is_(None))
                .values(delivered_at=_aware(now))
            ).rowcount
            if seen:
                changed += s.execute(
                    update(StaffMessage)
                    .where(StaffMessage.conversation_id == conversation_id, StaffMessage.id.in_(ids),
                           StaffMessage.seen_at.is_(None))
                    .values(seen_at=_aware(now))
                ).rowcount
            if changed:
                s.execute(update(Handoff).where(Handoff.conversation_id == conversation_id,
                                                Handoff.status.in_(OPEN_STATUSES))
                          .values(updated_at=wall_clock(), citizen_seen_at=_aware(now)))
                # a closed chat's last messages count too: touch it so the portal shows it
                s.execute(update(Handoff).where(Handoff.id.in_(
                    select(StaffMessage.handoff_id).where(StaffMessage.id.in_(ids))))
                          .values(updated_at=wall_clock()))
            s.commit()
            return changed

    def mark_delivered(self, message_id: int, *, now: datetime) -> bool:
        """Mark one message delivered (first release API; acknowledge() is the real path)."""
        with self.db.session() as s:
            result = s.execute(
                update(StaffMessage)
                .where(StaffMessage.id == message_id, StaffMessage.delivered_at.is_(None))
                .values(delivered_at=_aware(now))
            )
            s.commit()
            return result.rowcount == 1

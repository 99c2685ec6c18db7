"""The insight store: what happened in conversations, counted as it happens.

One `Event` at a time (`InsightStore.record`), each in its own transaction:

1. find or create the conversation's row (`insight_conversations`, keyed by a hash of the
   sender id and the session start) and lock it;
2. add the event to the conversation's counters;
3. move the conversation's contribution in `insight_counts` from what it was to what it
   is now (a conversation is "self-served" until a handoff or a "no" comes, say), so the
   pre-aggregated counts are always exact;
4. the details: answers and feedback per page (`insight_pages`), the live chat or case
   (`insight_handoffs`), the redacted question the bot could not answer
   (`insight_questions`).

Runs on SQLite and PostgreSQL, with SQLAlchemy 1.4 (the Rasa process writes message
counts through bot.insight.broker) and 2.0 (everything else).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, create_engine, delete, event, func, insert, or_, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError, SQLAlchemyError

from bot.insight import municipal
from bot.insight import schema as t
from bot.language import LANGS
from bot.privacy.files import private_file

log = logging.getLogger(__name__)

SETTING = "KOMMUNEBOT_DATABASE_URL"
# A sender whose last event is older than this starts a new conversation (Rasa's
# session_expiration_time in domain.yml); used only when the session start is unknown.
SESSION_GAP = timedelta(minutes=60)
MAX_TEXT = 500
MAX_URL = 1000
MAX_OPEN = 8

# kind -> the conversation counter it adds to
COUNTER_OF = {
    "message": "messages",
    "answered": "answered",
    "not_found": "not_found",
    "service_answer": "service_answers",
    "out_of_scope": "out_of_scope",
    "own_case": "own_case",
    "handoff_offered": "handoff_offered",
    "handoff_live": "handoff_live",
    "handoff_case": "handoff_case",
    "handoff_referred": "handoff_referred",
    "feedback_positive": "feedback_positive",
    "feedback_negative": "feedback_negative",
}
# Kinds that only start or describe a conversation.
PLAIN_KINDS = ("conversation", "lang")
KINDS = tuple(COUNTER_OF) + PLAIN_KINDS
HANDOFF_KIND = {"handoff_live": "live", "handoff_case": "case", "handoff_referred": "referred"}
HANDOFF_REASONS = ("asked", "not_found", "own_case", "other")


class InsightUnavailable(RuntimeError):
    """The insight database cannot be reached; the message names the setting."""


def sender_hash(sender_id: str) -> str:
    return hashlib.sha256(f"kommunebot-sender\x1f{sender_id}".encode()).hexdigest()


def conversation_key(sender_id: str, session_start: float) -> str:
    """The same key in the Rasa process and the action server: sender id + session start
    (the `session_started` event's timestamp, a float both see through JSON)."""
    return hashlib.sha256(f"kommunebot-conversation\x1f{sender_id}\x1f{session_start!r}".encode()).hexdigest()


@dataclass
class Event:
    """One countable thing in a conversation. `at` is aware; text fields arrive redacted."""

    kind: str
    municipality: str
    sender_id: str
    at: datetime
    session_start: float | None = None
    channel: str | None = None
    lang: str | None = None
    url: str | None = None
    title: str | None = None
    question: str | None = None
    reason: str | None = None
    standard: str | None = None
    promised_by: datetime | None = None
    reference: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def contribution(row: dict) -> dict[str, int]:
    """What one conversation adds to insight_counts (see docs/INSIGHT.md for the terms)."""
    c = {name: int(row.get(name) or 0) for name in t.EVENT_COUNTERS}
    handoff = c["handoff_live"] + c["handoff_case"] + c["handoff_referred"] > 0
    answer = c["answered"] + c["service_answers"] > 0
    question = answer or (c["not_found"] + c["own_case"] + c["handoff_offered"]) > 0 or handoff
    c.update(conversations=1, with_question=int(question), with_answer=int(answer), with_handoff=int(handoff),
             self_served=int(answer and not handoff and c["feedback_negative"] == 0))
    return c


def _dims(row: dict) -> tuple:
    return (row["municipality"], row["day"], int(row["hour"]), row["channel"], row["lang"])


def _local(at: datetime, slug: str) -> tuple[date, int]:
    local = at.astimezone(municipal.timezone(slug))
    return local.date(), local.hour


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


_open: dict[str, InsightStore] = {}
_open_lock = threading.Lock()


class InsightStore:
    """The insight tables on one database (any SQLAlchemy URL of SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InsightUnavailable(f"{SETTING}={url!r} is not a database URL ({exc}); use e.g. "
                                     "sqlite:///var/kommunebot.db or postgresql://user:pw@host/db") from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise InsightUnavailable(f"{SETTING}={_safe(url)}: insight needs SQLite or PostgreSQL")
        kwargs: dict = {"pool_pre_ping": True}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                private_file(Path(parsed.database))  # owner-only (bot.privacy.files), before SQLite opens it
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": 10}}
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise InsightUnavailable(f"Cannot use {SETTING}={_safe(url)}: {exc}") from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._create_tables()

    def _create_tables(self) -> None:
        for attempt in range(3):
            try:
                t.metadata.create_all(self.engine)
                self._add_missing_columns()
                return
            except (OperationalError, ProgrammingError) as exc:
                # Two processes creating the same table at once: the second one retries.
                if attempt == 2 or not any(s in str(exc) for s in ("already exists", "duplicate column")):
                    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                    raise InsightUnavailable(
                        f"The database at {SETTING}={_safe(self.url)} is unusable for insight: {reason}") from None
            except SQLAlchemyError as exc:
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                raise InsightUnavailable(
                    f"The database at {SETTING}={_safe(self.url)} is unreachable: {reason}. "
                    f"Start the database server or set {SETTING} to a reachable database.") from None

    def _add_missing_columns(self) -> None:
        """Tables made by an earlier release lack columns added since (create_all does not
        add columns): add them, and fill the derived ones from what the rows hold."""
        from sqlalchemy import inspect

        inspector = inspect(self.engine)
        added: set[str] = set()
        with self.engine.begin() as conn:
            for name, column in t.ADDED_COLUMNS:
                if column not in {c["name"] for c in inspector.get_columns(name)}:
                    table = t.metadata.tables[name]
                    kind = table.c[column].type.compile(dialect=self.engine.dialect)
                    default = " NOT NULL DEFAULT 0" if not table.c[column].nullable else ""
                    conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {column} {kind}{default}"))
                    added.add(f"{name}.{column}")
            if "insight_handoffs.wait_minutes" in added:
                h = t.handoffs.c
                for row in conn.execute(select(h.id, h.created_at, h.first_reply_at, h.promised_by)
                                        .where(h.first_reply_at.isnot(None))).all():
                    conn.execute(update(t.handoffs).where(h.id == row.id).values(
                        wait_minutes=max(0.0, (row.first_reply_at - row.created_at).total_seconds() / 60),
                        within_promise=None if row.promised_by is None else int(row.first_reply_at <= row.promised_by)))
            if "insight_questions.first_in_group" in added:
                q = t.questions.c
                firsts = select(func.min(q.id)).where(q.group_id.isnot(None)).group_by(q.conversation_id, q.group_id)
                conn.execute(update(t.questions).where(q.id.in_(firsts)).values(first_in_group=1))
        if added:
            log.info("insight: added columns %s to tables of an earlier release", ", ".join(sorted(added)))

    @classmethod
    def open(cls, url: str | None = None) -> InsightStore:
        """The store on `url` (default: KOMMUNEBOT_DATABASE_URL), opened once per process."""
        if url is None:
            from bot.config import settings

            url = settings().database_url
        with _open_lock:
            if url not in _open:
                if len(_open) >= MAX_OPEN:  # tests open many databases: keep a few engines
                    _open.pop(next(iter(_open))).engine.dispose()
                _open[url] = cls(url)
            return _open[url]

    def dispose(self) -> None:
        self.engine.dispose()
        with _open_lock:
            if _open.get(self.url) is self:
                del _open[self.url]

    # --- dialect helpers --------------------------------------------------------------

    def _insert(self, table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        return dialect_insert(table)

    def _add(self, conn, table, keys: dict, amounts: dict, set_also: dict | None = None) -> None:
        """Upsert: insert the row, or add `amounts` to its columns (and set `set_also`)."""
        stmt = self._insert(table).values(**keys, **amounts, **(set_also or {}))
        changes = {name: table.c[name] + stmt.excluded[name] for name in amounts}
        changes.update({name: stmt.excluded[name] for name in (set_also or {})})
        conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))

    # --- recording --------------------------------------------------------------------

    def record(self, ev: Event) -> int | None:
        """Count one event; returns the conversation's row id (None for an unknown kind)."""
        if ev.kind not in KINDS:
            raise ValueError(f"unknown insight event kind {ev.kind!r}; known: {', '.join(KINDS)}")
        if ev.at.tzinfo is None:
            raise ValueError("Event.at must be timezone-aware")
        with self.engine.begin() as conn:
            if ev.kind in HANDOFF_KIND and ev.reference and conn.execute(
                    select(t.handoffs.c.id).where(t.handoffs.c.reference == ev.reference[:32])).first():
                return None  # this live chat or case is counted already (an action ran twice)
            row, created = self._conversation(conn, ev)
            old = None if created else dict(row)
            new = dict(row)
            counter = COUNTER_OF.get(ev.kind)
            if counter:
                new[counter] = int(new[counter] or 0) + 1
            if ev.lang in LANGS:
                new["lang"] = ev.lang
            if ev.channel and new["channel"] == "unknown":
                new["channel"] = ev.channel[:32]
            new["last_at"] = max(row["last_at"], ev.at)
            changed = {k: v for k, v in new.items() if k != "id" and v != row[k]}
            if changed:
                conn.execute(update(t.conversations).where(t.conversations.c.id == row["id"]).values(**changed))
            self._move_counts(conn, old, new)
            self._details(conn, ev, new)
            return int(row["id"])

    def _conversation(self, conn, ev: Event) -> tuple[dict, bool]:
        """The conversation's row, created if new, locked for this transaction."""
        c = t.conversations.c
        s_hash = sender_hash(ev.sender_id)
        if ev.session_start is not None:
            key = conversation_key(ev.sender_id, ev.session_start)
        else:
            latest = conn.execute(select(c.key, c.last_at).where(c.sender_hash == s_hash)
                                  .order_by(c.last_at.desc()).limit(1)).first()
            if latest is not None and latest.key and ev.at - latest.last_at <= SESSION_GAP:
                key = latest.key
            else:
                key = conversation_key(ev.sender_id, ev.at.timestamp())
        day, hour = _local(ev.at, ev.municipality)
        lang = ev.lang if ev.lang in LANGS else _default_lang(ev.municipality)
        values = {"key": key, "sender_hash": s_hash, "municipality": ev.municipality,
                  "channel": (ev.channel or "unknown")[:32], "lang": lang, "started_at": ev.at, "last_at": ev.at,
                  "day": day, "hour": hour, **{name: 0 for name in t.EVENT_COUNTERS}}
        inserted = conn.execute(self._insert(t.conversations).values(**values)
                                .on_conflict_do_nothing(index_elements=["key"]))
        query = select(t.conversations).where(c.key == key)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().one()
        return dict(row), inserted.rowcount == 1

    def _move_counts(self, conn, old: dict | None, new: dict) -> None:
        now = contribution(new)
        if old is not None and _dims(old) == _dims(new):
            before = contribution(old)
            delta = {k: now[k] - before[k] for k in t.COUNT_COLUMNS if now[k] != before[k]}
            if delta:
                self._add(conn, t.counts, self._count_keys(new), delta)
            return
        if old is not None:
            before = contribution(old)
            self._add(conn, t.counts, self._count_keys(old), {k: -v for k, v in before.items() if v})
        self._add(conn, t.counts, self._count_keys(new), {k: v for k, v in now.items() if v})

    @staticmethod
    def _count_keys(row: dict) -> dict:
        return {"municipality": row["municipality"], "day": row["day"], "hour": int(row["hour"]),
                "channel": row["channel"], "lang": row["lang"]}

    def _details(self, conn, ev: Event, conv: dict) -> None:
        base = {"municipality": conv["municipality"], "day": conv["day"]}
        if ev.kind == "answered" and ev.url:
            self._add(conn, t.pages, {**base, "url": ev.url[:MAX_URL]}, {"answers": 1},
                      {"title": (ev.title or "")[:500]})
        elif ev.kind in ("feedback_positive", "feedback_negative") and ev.url:
            self._add(conn, t.pages, {**base, "url": ev.url[:MAX_URL]}, {ev.kind: 1},
                      {"title": (ev.title or "")[:500]} if ev.title else None)
        if ev.kind in ("not_found", "feedback_negative") and (ev.question or "").strip():
            conn.execute(insert(t.questions).values(
                **base, conversation_id=conv["id"], kind="not_found" if ev.kind == "not_found" else "negative",
                lang=conv["lang"], url=(ev.url or None) and ev.url[:MAX_URL], created_at=ev.at,
                text=(ev.question or "").strip()[:MAX_TEXT]))
        if ev.kind in HANDOFF_KIND:
            reference = (ev.reference or None) and ev.reference[:32]
            values = dict(**base, hour=int(conv["hour"]), conversation_id=conv["id"], kind=HANDOFF_KIND[ev.kind],
                          channel=conv["channel"], standard=ev.standard, created_at=ev.at,
                          reason=ev.reason if ev.reason in HANDOFF_REASONS else "other",
                          promised_by=ev.promised_by, reference=reference)
            if reference:  # the same live chat or case counted once, even if an action runs twice
                conn.execute(self._insert(t.handoffs).values(**values).on_conflict_do_nothing(
                    index_elements=["reference"]))
            else:
                conn.execute(insert(t.handoffs).values(**values))

    def record_staff_reply(self, reference: str, at: datetime) -> bool:
        """The first time a person answered a live chat or case; False if unknown or already set."""
        if not reference:
            return False
        h = t.handoffs.c
        with self.engine.begin() as conn:
            row = conn.execute(select(h.id, h.created_at, h.promised_by)
                               .where(h.reference == reference, h.first_reply_at.is_(None))).first()
            if row is None:
                return False
            within = None if row.promised_by is None else int(at <= row.promised_by)
            result = conn.execute(update(t.handoffs).where(h.id == row.id, h.first_reply_at.is_(None)).values(
                first_reply_at=at, wait_minutes=max(0.0, (at - row.created_at).total_seconds() / 60),
                within_promise=within))
            return result.rowcount == 1

    # --- retention and deletion ------------------------------------------------------------

    def municipalities(self) -> list[str]:
        with self.engine.connect() as conn:
            found: set[str] = set()
            for table in (t.conversations, t.counts, t.questions, t.handoffs):
                found.update(r[0] for r in conn.execute(select(table.c.municipality).distinct()))
        return sorted(found)

    def expire(self, now: datetime, retention: dict[str, tuple[int, int]] | None = None) -> dict[str, int]:
        """Delete what is past the retention times: conversation keys (whole rows, the counts
        stay), question texts and their vectors, case references. `retention`: slug ->
        (conversations_days, closed_cases_days); default from each municipality's profile."""
        done = {"conversations": 0, "question_texts": 0, "references": 0}
        c, q, h = t.conversations.c, t.questions.c, t.handoffs.c
        with self.engine.begin() as conn:
            for slug in self.municipalities():
                days, case_days = (retention or {}).get(slug) or _retention(slug)
                cutoff = now - timedelta(days=days)
                done["conversations"] += conn.execute(
                    delete(t.conversations).where(c.municipality == slug, c.last_at < cutoff)).rowcount
                done["question_texts"] += conn.execute(
                    update(t.questions).where(q.municipality == slug, q.created_at < cutoff,
                                              or_(q.text.isnot(None), q.vector.isnot(None)))
                    .values(text=None, vector=None)).rowcount
                done["references"] += conn.execute(
                    update(t.handoffs).where(h.municipality == slug, h.reference.isnot(None), or_(
                        and_(h.first_reply_at.isnot(None), h.first_reply_at < now - timedelta(days=case_days)),
                        h.created_at < now - timedelta(days=max(365, case_days))))
                    .values(reference=None)).rowcount
        return done

    def forget(self, sender_id: str) -> int:
        """A citizen's deletion request: their question texts, vectors, case references and
        conversation keys go; the anonymous counts stay. Returns conversations touched."""
        c = t.conversations.c
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(c.id).where(c.sender_hash == sender_hash(sender_id)))]
            if not ids:
                return 0
            conn.execute(update(t.questions).where(t.questions.c.conversation_id.in_(ids))
                         .values(text=None, vector=None))
            conn.execute(update(t.handoffs).where(t.handoffs.c.conversation_id.in_(ids)).values(reference=None))
            conn.execute(update(t.conversations).where(c.id.in_(ids)).values(key=None, sender_hash=None))
        return len(ids)

    # --- recounting (generated data, checks) ----------------------------------------------

    def recount(self, municipality: str | None = None) -> None:
        """Rebuild insight_counts from the conversation rows still kept. Only for data that
        is all still within the retention time (generated benchmark data, consistency
        checks): counts of deleted conversations would be lost."""
        c = t.conversations.c
        handoff = (c.handoff_live + c.handoff_case + c.handoff_referred) > 0
        answer = (c.answered + c.service_answers) > 0
        question = or_(answer, (c.not_found + c.own_case + c.handoff_offered) > 0, handoff)
        flag = lambda cond: func.sum(case((cond, 1), else_=0))  # noqa: E731
        columns = {
            "conversations": func.count(), "with_question": flag(question), "with_answer": flag(answer),
            "with_handoff": flag(handoff),
            "self_served": flag(and_(answer, ~handoff, c.feedback_negative == 0)),
            **{name: func.sum(c[name]) for name in t.EVENT_COUNTERS},
        }
        dims = [c.municipality, c.day, c.hour, c.channel, c.lang]
        query = select(*dims, *[columns[name] for name in t.COUNT_COLUMNS]).group_by(*dims)
        if municipality:
            query = query.where(c.municipality == municipality)
        with self.engine.begin() as conn:
            wipe = delete(t.counts)
            if municipality:
                wipe = wipe.where(t.counts.c.municipality == municipality)
            conn.execute(wipe)
            conn.execute(insert(t.counts).from_select(
                ["municipality", "day", "hour", "channel", "lang", *t.COUNT_COLUMNS], query))


def _default_lang(slug: str) -> str:
    try:
        return municipal.profile(slug).default_language
    except Exception:
        return "nn"


def _retention(slug: str) -> tuple[int, int]:
    try:
        r = municipal.profile(slug).retention
        return int(r.conversations_days), int(r.closed_cases_days)
    except Exception:
        return 30, 90

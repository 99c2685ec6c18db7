"""Delete what is kept about a conversation: one by its id (the right to erasure), or
everything older than the retention the municipality configured (municipalities/<slug>.yml).

The conversation id is Rasa's sender id: the socket.io session id of the web widget, the
Facebook page-scoped user id, or the id shown in the staff portal's transcript. Deleted:
Rasa's tracker events (SQL tracker store, table `events`) and the handoff queue entries,
cases and staff messages (tables `handoffs`, `staff_messages`).

Uses SQLAlchemy, so it runs in the action-server virtualenv only; `bot.privacy` itself
does not import this module (the Rasa process imports `bot.privacy`).

    forget_conversation("3f2a...", database_url="sqlite:///var/kommunebot.db")
    forget_expired(profile.retention, database_url=..., now=clock.now())
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import MetaData, Table, delete, func, inspect, select

from bot.handoff.db import Database
from bot.handoff.models import Handoff, StaffMessage
from bot.service.profile import Retention

TRACKER_TABLE = "events"   # rasa.core.tracker_store.SQLTrackerStore
TRACKER_KEY = "sender_id"


# A live chat with no activity for this long is over: the citizen has gone and nobody took
# it, or staff never closed it. `forget --expired` ends it (closed at its last activity),
# so it falls under the closed-case retention instead of keeping its conversation forever.
ABANDONED_SETTING = "KOMMUNEBOT_ABANDONED_LIVE_CHAT_HOURS"
DEFAULT_ABANDONED_HOURS = 24


def abandoned_after() -> timedelta:
    value = os.environ.get(ABANDONED_SETTING, "").strip()
    try:
        hours = float(value) if value else DEFAULT_ABANDONED_HOURS
    except ValueError:
        raise ValueError(f"{ABANDONED_SETTING}={value!r} is not a number of hours") from None
    return timedelta(hours=hours)


@dataclass(frozen=True)
class Forgotten:
    """Rows deleted per table (and live chats ended as abandoned)."""

    tracker_events: int
    handoffs: int
    staff_messages: int
    abandoned_live_chats: int = 0

    @property
    def total(self) -> int:
        return self.tracker_events + self.handoffs + self.staff_messages


def forget_conversation(conversation_id: str, database_url: str, tracker_url: str | None = None) -> Forgotten:
    """Delete the conversation's tracker events (in `tracker_url`, default the same database)
    and its handoffs and staff messages (in `database_url`), each in one transaction."""
    if not conversation_id.strip():
        raise ValueError("the conversation id is empty; copy it from the staff portal or the log")
    db = Database(database_url)
    try:
        with db.session() as session:
            staff = session.execute(delete(StaffMessage).where(StaffMessage.conversation_id == conversation_id))
            handoff_ids = select(Handoff.id).where(Handoff.conversation_id == conversation_id)
            staff_by_case = session.execute(delete(StaffMessage).where(StaffMessage.handoff_id.in_(handoff_ids)))
            handoffs = session.execute(delete(Handoff).where(Handoff.conversation_id == conversation_id))
            session.commit()
        events = _forget_tracker(db if tracker_url is None or tracker_url == database_url else Database(tracker_url),
                                 conversation_id)
        if inspect(db.engine).has_table("handoff_requests"):  # the limits' counts (bot.privacy.limits)
            from bot.privacy.limits import HandoffLimits

            HandoffLimits(db).forget(conversation_id)
        if inspect(db.engine).has_table("insight_conversations"):  # question texts kept for statistics
            from bot.insight.store import InsightStore

            InsightStore.open(database_url).forget(conversation_id)
    finally:
        db.dispose()
    return Forgotten(events, handoffs.rowcount, staff.rowcount + staff_by_case.rowcount)


def _forget_tracker(db: Database, conversation_id: str) -> int:
    """Delete the conversation from Rasa's SQL tracker store, if this database holds one."""
    if not inspect(db.engine).has_table(TRACKER_TABLE):
        return 0
    events = Table(TRACKER_TABLE, MetaData(), autoload_with=db.engine)
    with db.engine.begin() as conn:
        return conn.execute(delete(events).where(events.c[TRACKER_KEY] == conversation_id)).rowcount


def forget_expired(retention: Retention, database_url: str, now: datetime, tracker_url: str | None = None) -> Forgotten:
    """End live chats abandoned for KOMMUNEBOT_ABANDONED_LIVE_CHAT_HOURS (24), then delete
    closed cases (with their staff messages) closed more than `retention.closed_cases_days`
    ago, and whole conversations whose last event is older than
    `retention.conversations_days` and that have no open case."""
    case_cutoff = now - timedelta(days=retention.closed_cases_days)
    db = Database(database_url)
    try:
        abandoned = end_abandoned_live_chats(db, now - abandoned_after())
        with db.session() as session:
            old = select(Handoff.id).where(Handoff.status == "closed", Handoff.closed_at < case_cutoff)
            staff = session.execute(delete(StaffMessage).where(StaffMessage.handoff_id.in_(old)))
            handoffs = session.execute(delete(Handoff).where(Handoff.status == "closed",
                                                             Handoff.closed_at < case_cutoff))
            session.commit()
            still_open = set(session.scalars(select(Handoff.conversation_id).where(Handoff.status != "closed")))
        tracker_db = db if tracker_url is None or tracker_url == database_url else Database(tracker_url)
        cutoff = (now - timedelta(days=retention.conversations_days)).timestamp()
        events = _expire_tracker(tracker_db, cutoff, still_open)
        if inspect(db.engine).has_table("insight_conversations"):  # statistics: keys and texts past retention
            from bot.insight.store import InsightStore

            InsightStore.open(database_url).expire(now)
    finally:
        db.dispose()
    return Forgotten(events, handoffs.rowcount, staff.rowcount, abandoned)


def end_abandoned_live_chats(db: Database, cutoff: datetime) -> int:
    """Close the live chats (open or claimed) with no activity since `cutoff`; each is
    closed at its last activity, so the closed-case retention counts from then. Activity:
    the request, a claim, the citizen's last connection or message, the last staff
    message (service clock; `updated_at` is wall-clock bookkeeping the portal bumps for
    queue estimates, not activity)."""
    columns = [getattr(Handoff, name) for name in ("claimed_at", "citizen_seen_at", "citizen_message_at")
               if hasattr(Handoff, name)]
    ended = 0
    with db.session() as session:
        rows = session.scalars(select(Handoff).where(Handoff.kind == "live", Handoff.status != "closed")).all()
        for row in rows:
            last_staff = session.scalar(select(func.max(StaffMessage.created_at))
                                        .where(StaffMessage.handoff_id == row.id))
            times = [row.created_at, last_staff, *(getattr(row, c.key) for c in columns)]
            last = max(_utc(t) for t in times if t is not None)
            if last < _utc(cutoff):
                row.status, row.closed_at = "closed", last
                if hasattr(row, "end_reason"):
                    row.end_reason = "abandoned"
                ended += 1
        session.commit()
    return ended


def _utc(moment: datetime) -> datetime:
    """Aware UTC (the tables' times come back naive UTC on some databases)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _expire_tracker(db: Database, cutoff: float, keep: set[str]) -> int:
    """Delete the conversations whose last event is before `cutoff` (Unix time), except `keep`."""
    if not inspect(db.engine).has_table(TRACKER_TABLE):
        return 0
    events = Table(TRACKER_TABLE, MetaData(), autoload_with=db.engine)
    key = events.c[TRACKER_KEY]
    with db.engine.begin() as conn:
        stale = [sid for sid in conn.scalars(select(key).group_by(key).having(func.max(events.c.timestamp) < cutoff))
                 if sid not in keep]
        deleted = 0
        for start in range(0, len(stale), 500):
            deleted += conn.execute(delete(events).where(key.in_(stale[start:start + 500]))).rowcount
        return deleted

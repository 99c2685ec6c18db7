"""The insight tables (SQLAlchemy Core; runs on SQLAlchemy 1.4 in the Rasa process and 2.0
in the action server, the portal and the command line).

Everything counts on the day and hour (the municipality's time zone) its conversation
started. What is kept:

- `insight_conversations`: one row per conversation (a Rasa session) while the
  conversation may still change: its counters and, until the retention time, a key made
  from a hash of the sender id. Rows are deleted after `retention.conversations_days`;
  the counts stay in the tables below.
- `insight_counts`: the numbers per municipality, day, hour, channel and written
  standard (pre-aggregated, so a year of a large municipality is summed from at most
  365 x 24 x channels x 2 rows).
- `insight_pages`: answers and feedback per page and day.
- `insight_handoffs`: one row per live chat or case: why, promised by, first staff reply.
- `insight_questions`: questions the bot could not answer and questions behind answers
  with negative feedback: the redacted text (deleted after the retention time), its
  e5 vector (deleted with the text) and its group.
- `insight_groups`: groups of unanswered questions by meaning, and whether an editor
  has marked a group handled, with the page that now answers it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite forgets the time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the insight store; use an aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite through a raw text query
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc)


metadata = MetaData()

# Counters a conversation carries, in insight_conversations and insight_counts alike.
EVENT_COUNTERS = (
    "messages",            # the citizen's messages
    "answered",            # questions answered from the municipality's content
    "not_found",           # questions the content did not answer
    "service_answers",     # opening hours, contact, service desks, other authorities (from the profile)
    "out_of_scope",        # questions about something else than the municipality's services
    "own_case",            # "my own case / invoice / application": needs a person
    "handoff_offered",     # the bot offered a person
    "handoff_live",        # a live chat with a person was queued
    "handoff_case",        # a case (question + contact) was left for a person
    "handoff_referred",    # pointed to phone or contact form (Messenger: no personal data there)
    "feedback_positive",
    "feedback_negative",
)
# Derived per conversation (0 or 1 each), summed in insight_counts.
CONVERSATION_FLAGS = (
    "conversations",       # always 1
    "with_question",       # asked the municipality something (see docs/INSIGHT.md)
    "with_answer",         # got an answer from the content or the profile
    "with_handoff",        # live chat, case or referral
    "self_served",         # an answer, and neither a handoff nor negative feedback
)
COUNT_COLUMNS = CONVERSATION_FLAGS + EVENT_COUNTERS

conversations = Table(
    "insight_conversations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 of sender id + session start; NULL once past the retention time.
    Column("key", String(64), unique=True),
    Column("sender_hash", String(64), index=True),  # finds the open session of a sender; NULL with the key
    Column("municipality", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("lang", String(2), nullable=False),
    Column("started_at", UTCDateTime, nullable=False, index=True),
    Column("last_at", UTCDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("hour", SmallInteger, nullable=False),
    *(Column(name, Integer, nullable=False, default=0) for name in EVENT_COUNTERS),
)

counts = Table(
    "insight_counts", metadata,
    Column("municipality", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("hour", SmallInteger, primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("lang", String(2), primary_key=True),
    *(Column(name, Integer, nullable=False, default=0) for name in COUNT_COLUMNS),
    sqlite_with_rowid=False,  # SQLite keeps the rows in key order: a period is one range read
)

pages = Table(
    "insight_pages", metadata,
    Column("municipality", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("url", String(1000), primary_key=True),
    Column("title", String(500), nullable=False, default=""),
    Column("answers", Integer, nullable=False, default=0),
    Column("feedback_positive", Integer, nullable=False, default=0),
    Column("feedback_negative", Integer, nullable=False, default=0),
    sqlite_with_rowid=False,
)

handoffs = Table(
    "insight_handoffs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("municipality", String(64), nullable=False),
    Column("conversation_id", Integer),        # insight_conversations.id (no personal data)
    Column("day", Date, nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("kind", String(8), nullable=False),   # live | case | referred
    Column("channel", String(32), nullable=False),  # the citizen's channel (socketio, rest, facebook, ...)
    Column("standard", String(32)),             # the service standard promised: chat, email, ...
    Column("reason", String(16), nullable=False),  # asked | not_found | own_case | other
    Column("created_at", UTCDateTime, nullable=False),
    Column("promised_by", UTCDateTime),
    Column("first_reply_at", UTCDateTime),
    Column("wait_minutes", Float),              # first_reply_at - created_at
    Column("within_promise", SmallInteger),     # 1: first reply by promised_by, 0: later
    Column("reference", String(32), unique=True),  # the case reference; NULL after the retention time
)
# Covering indexes: the period's service standard, waits and reasons read only the index.
Index("ix_insight_handoffs_standard", handoffs.c.municipality, handoffs.c.day, handoffs.c.standard,
      handoffs.c.within_promise, handoffs.c.wait_minutes)
Index("ix_insight_handoffs_reason", handoffs.c.municipality, handoffs.c.day, handoffs.c.reason, handoffs.c.kind)

groups = Table(
    "insight_groups", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("municipality", String(64), nullable=False, index=True),
    Column("lang", String(2)),
    Column("centroid", LargeBinary, nullable=False),  # float32 sum of member vectors
    Column("size", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False, default="open"),  # open | handled
    Column("handled_url", String(1000)),
    Column("handled_at", UTCDateTime),
    Column("handled_by", String(64)),
)

questions = Table(
    "insight_questions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("municipality", String(64), nullable=False),
    Column("conversation_id", Integer),
    Column("day", Date, nullable=False),
    Column("kind", String(16), nullable=False),  # not_found | negative (feedback on an answer)
    Column("lang", String(2)),
    Column("url", String(1000)),                 # negative: the page that did not help
    Column("created_at", UTCDateTime, nullable=False),
    Column("text", Text),                        # redacted; NULL after the retention time
    Column("vector", LargeBinary),               # float32 e5 vector of the text; NULL with the text
    Column("group_id", Integer),
    Column("similarity", Float),                 # to its group when it joined
    Column("first_in_group", SmallInteger, nullable=False, default=0),  # the conversation's first in the group
)
# Covering: the period's groups are summed from the index alone.
Index("ix_insight_questions_groups", questions.c.municipality, questions.c.day, questions.c.group_id,
      questions.c.first_in_group, questions.c.kind)
Index("ix_insight_questions_group_time", questions.c.group_id, questions.c.created_at)
# Examples: the few questions whose text is still kept (within the retention time).
Index("ix_insight_questions_texts", questions.c.group_id, questions.c.created_at,
      sqlite_where=questions.c.text.isnot(None), postgresql_where=questions.c.text.isnot(None))
Index("ix_insight_questions_conversation", questions.c.conversation_id, questions.c.group_id)

# Columns added after the first release (bot.insight.store adds them to older tables).
ADDED_COLUMNS = (
    ("insight_handoffs", "wait_minutes"),
    ("insight_handoffs", "within_promise"),
    ("insight_questions", "first_in_group"),
)

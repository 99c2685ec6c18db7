"""How much the bot helps: answer feedback ("Fekk du svar?") in the shared SQL database.

Stores no conversation id and no personal data: the question is redacted with
bot.privacy before it is written.

    Analytics.from_settings().record_feedback(helpful=True, lang="nn", channel="rest",
                                              question="Når er fristen?", url="https://...")
    Analytics.from_settings().feedback_summary()   # {"helpful": 3, "not_helpful": 1}
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text, func, insert, select

from bot.config import settings
from bot.handoff.db import Database
from bot.privacy import redact

metadata = MetaData()

feedback = Table(
    "answer_feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("lang", String(2)),
    Column("channel", String(32)),
    Column("url", Text),
    Column("question", Text),  # redacted
)

_open: dict[str, "Analytics"] = {}
_lock = threading.Lock()


class Analytics:
    """Feedback table on one database (any SQLAlchemy URL); the table is created on open."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine
        metadata.create_all(self.engine)

    @classmethod
    def from_settings(cls) -> "Analytics":
        """The analytics store on KOMMUNEBOT_DATABASE_URL, opened once per process."""
        url = settings().database_url
        with _lock:
            if url not in _open:
                _open[url] = cls(Database(url))
            return _open[url]

    def record_feedback(self, *, helpful: bool, lang: str | None, channel: str | None,
                        question: str | None, url: str | None) -> None:
        row = {"created_at": datetime.now(timezone.utc), "helpful": bool(helpful), "lang": lang,
               "channel": (channel or "")[:32] or None, "url": url,
               "question": redact(question) if question else None}
        with self.engine.begin() as conn:
            conn.execute(insert(feedback).values(**row))

    def feedback_summary(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback.c.helpful, func.count()).group_by(feedback.c.helpful)).all()
        counts = {bool(helpful): n for helpful, n in rows}
        return {"helpful": counts.get(True, 0), "not_helpful": counts.get(False, 0)}

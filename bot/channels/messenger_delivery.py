"""Messenger deliveries: answered at once, handled once (issue 14).

Facebook retries a webhook call that is not answered with 200 quickly, and may deliver
an event more than once anyway. Handling events before answering made slow answers
(a knowledge question, a busy server) come back as retries, handled twice.

- `Deliveries.first_time(key)`: whether this delivery (the message's `mid`, else a hash
  of sender, time and content) is new. Kept in the conversation database (table
  `messenger_deliveries`, KOMMUNEBOT_TRACKER_URL), so every Rasa server of a deployment
  sees what another took, and a restart forgets nothing; rows are deleted after
  RETRY_WINDOW_S. If the database cannot be written, the event is handled (a rare double
  answer is better than a lost question) and the error is logged.
- `Handler.schedule(...)`: handles an event after the webhook has answered 200, in the
  background; the events of one sender one after another, in the order they came.

Runs in the Rasa server process (SQLAlchemy 1.4 from Rasa's virtualenv).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from typing import Any, Awaitable, Callable

import sqlalchemy as sa

from bot.config import settings
from bot.privacy.files import private_sqlite

logger = logging.getLogger(__name__)

RETRY_WINDOW_S = 48 * 3600   # Facebook retries for up to about a day and a half
CLEAN_EVERY_S = 3600

_metadata = sa.MetaData()
deliveries = sa.Table(
    "messenger_deliveries", _metadata,
    sa.Column("key", sa.String(64), primary_key=True),   # SHA-256 of the message id: no content
    sa.Column("seen_at", sa.Float, nullable=False, index=True),
)


def delivery_key(event: dict[str, Any]) -> str:
    """What identifies one delivery: the message id (`mid`) of a message or postback,
    else sender, timestamp and content (a retry repeats all three)."""
    for part in ("message", "postback"):
        mid = event.get(part, {}).get("mid") if isinstance(event.get(part), dict) else None
        if isinstance(mid, str) and mid:
            return hashlib.sha256(f"mid:{mid}".encode()).hexdigest()
    fallback = json.dumps([event.get("sender"), event.get("timestamp"), event.get("message"), event.get("postback")],
                          sort_keys=True, default=str)
    return hashlib.sha256(f"event:{fallback}".encode()).hexdigest()


class Deliveries:
    """The deliveries taken in the last RETRY_WINDOW_S, in SQL."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or settings().tracker_url
        self._engine: sa.engine.Engine | None = None
        self._cleaned = 0.0

    def _ready(self) -> sa.engine.Engine:
        if self._engine is None:
            private_sqlite(self.url)
            engine = sa.create_engine(self.url, pool_pre_ping=True)
            _metadata.create_all(engine)
            self._engine = engine
        return self._engine

    def first_time(self, key: str, now: float | None = None) -> bool:
        """True (and remembered) the first time `key` is seen; False for a repeat."""
        now = time.time() if now is None else now
        try:
            engine = self._ready()
            with engine.begin() as conn:
                if now - self._cleaned > CLEAN_EVERY_S:
                    conn.execute(deliveries.delete().where(deliveries.c.seen_at < now - RETRY_WINDOW_S))
                    self._cleaned = now
                conn.execute(deliveries.insert().values(key=key, seen_at=now))
            return True
        except sa.exc.IntegrityError:
            return False
        except sa.exc.SQLAlchemyError as error:
            logger.error("facebook: could not record a delivery (%s); handling it anyway",
                         str(error).splitlines()[0])
            self._engine = None
            return True


class Handler:
    """Handles webhook events in the background, once each, in order per sender."""

    def __init__(self, deliveries: Deliveries | None = None) -> None:
        self.deliveries = deliveries or Deliveries()
        self._last: dict[str, asyncio.Task] = {}   # the newest task of each sender

    def schedule(self, event: dict[str, Any], handle: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        sender = event.get("sender")
        sender_id = str(sender.get("id")) if isinstance(sender, dict) else ""
        previous = self._last.get(sender_id)
        task = asyncio.get_running_loop().create_task(self._run(event, handle, previous))
        self._last[sender_id] = task

        def forget(done: asyncio.Task) -> None:
            if self._last.get(sender_id) is done:
                del self._last[sender_id]

        task.add_done_callback(forget)

    async def _run(self, event: dict[str, Any], handle: Callable[[dict[str, Any]], Awaitable[None]],
                   previous: asyncio.Task | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)  # this sender's earlier events first
        loop = asyncio.get_running_loop()
        try:
            if not await loop.run_in_executor(None, self.deliveries.first_time, delivery_key(event)):
                logger.info("facebook: a repeated delivery was ignored")
                return
            await handle(event)
        except Exception:  # the webhook has answered already: log, never raise into the loop
            logger.exception("facebook: a webhook event could not be handled")

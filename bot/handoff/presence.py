"""What the web chat's socket.io channel (in the Rasa process) tells the handoff database.

The citizen's browser connects, disconnects, and confirms the staff messages it shows;
the channel records that here, and on every (re)connect sends again what the browser has
not confirmed. The Rasa virtualenv has SQLAlchemy 1.4, so this module uses only plain
SQL through SQLAlchemy Core (no ORM models): column names must match
bot/handoff/models.py. Every call swallows database errors (logged): a missing database
must never break the chat.

    presence = Presence.from_settings()
    presence.connected("3f2a...")              # the widget's session is back
    presence.unacknowledged("3f2a...")         # [(id, payload), ...] to send again
    presence.acknowledge("3f2a...", [12, 13], seen=True)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot.handoff import clock
from bot.privacy.files import private_sqlite

log = logging.getLogger(__name__)

CHAT_KINDS = ("joined", "message", "ended")
OPEN = ("open", "claimed")


@dataclass(frozen=True)
class QueueStatus:
    reference: str
    status: str                 # open (waiting) | claimed (with a person)
    position: int | None
    estimate_minutes: int | None

    def to_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "state": "waiting" if self.status == "open" else "joined",
                "position": self.position, "estimate_minutes": self.estimate_minutes}


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Presence:
    """Plain-SQL access to the handoff tables for the chat channel."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = None

    @classmethod
    def from_settings(cls) -> Presence:
        from bot.config import settings

        return cls(settings().database_url)

    def _connect(self):
        import sqlalchemy

        if self._engine is None:
            kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if self.url.startswith("sqlite:///"):
                private_sqlite(self.url)  # owner-only before SQLite opens it (bot.privacy.files, issue 14)
                kwargs = {"connect_args": {"check_same_thread": False, "timeout": 10}}
            self._engine = sqlalchemy.create_engine(self.url, **kwargs)
            if self.url.startswith("sqlite"):
                sqlalchemy.event.listen(self._engine, "connect", _sqlite_pragmas)
        return self._engine

    def _run(self, sql: str, params: dict[str, Any], *, fetch: bool = False, expanding: tuple[str, ...] = ()):
        import sqlalchemy
        from sqlalchemy import DateTime, bindparam

        statement = sqlalchemy.text(sql)
        binds = [bindparam(name, expanding=True) for name in expanding]
        binds += [bindparam(name, type_=DateTime()) for name, value in params.items() if isinstance(value, datetime)]
        if binds:
            statement = statement.bindparams(*binds)
        values = {k: (_naive_utc(v) if isinstance(v, datetime) else v) for k, v in params.items()}
        try:
            with self._connect().begin() as conn:
                result = conn.execute(statement, values)
                return result.fetchall() if fetch else result.rowcount
        except Exception as exc:  # noqa: BLE001 - the chat goes on without the bookkeeping
            if "no such table" in str(exc) or "does not exist" in str(exc):
                log.debug("handoff tables not there yet: %s", exc)
            else:
                log.warning("chat presence not recorded (%s: %s)", type(exc).__name__, str(exc).splitlines()[0])
            return [] if fetch else 0

    # --- the citizen's connection ---------------------------------------------------

    def connected(self, conversation_id: str, now: datetime | None = None) -> int:
        """The citizen's chat is connected: no longer away."""
        return self._run(
            "UPDATE handoffs SET citizen_seen_at = :now, citizen_away_since = NULL, updated_at = :wall "
            "WHERE conversation_id = :c AND kind = 'live' AND status IN ('open', 'claimed')",
            {"now": now or clock.now(), "wall": datetime.now(timezone.utc), "c": conversation_id})

    def disconnected(self, conversation_id: str, now: datetime | None = None) -> int:
        """The citizen's last connection closed (tab closed, page left, or network lost)."""
        return self._run(
            "UPDATE handoffs SET citizen_away_since = :now, updated_at = :wall "
            "WHERE conversation_id = :c AND kind = 'live' AND status IN ('open', 'claimed') "
            "AND citizen_away_since IS NULL",
            {"now": now or clock.now(), "wall": datetime.now(timezone.utc), "c": conversation_id})

    # --- delivery of staff messages -----------------------------------------------------

    def unacknowledged(self, conversation_id: str) -> list[tuple[int, dict]]:
        """Staff messages handed to the chat that the browser has not confirmed, oldest
        first, with the payload they were sent with."""
        rows = self._run(
            "SELECT id, payload FROM staff_messages WHERE conversation_id = :c "
            "AND kind IN ('joined', 'message', 'ended') "
            "AND sent_at IS NOT NULL AND delivered_at IS NULL AND payload IS NOT NULL ORDER BY id",
            {"c": conversation_id}, fetch=True)
        out = []
        for message_id, payload in rows:
            try:
                data = json.loads(payload)
            except (TypeError, ValueError):
                continue
            if isinstance(data, dict):
                out.append((int(message_id), data))
        return out

    def acknowledge(self, conversation_id: str, ids: list[int], *, seen: bool = False,
                    now: datetime | None = None) -> int:
        """The browser confirmed these messages (shown with the chat open when `seen`)."""
        ids = [int(i) for i in ids if isinstance(i, int) and not isinstance(i, bool)][:200]
        if not ids:
            return 0
        moment = now or clock.now()
        params = {"now": moment, "c": conversation_id, "ids": ids}
        changed = self._run(
            "UPDATE staff_messages SET delivered_at = :now WHERE conversation_id = :c AND id IN :ids "
            "AND delivered_at IS NULL", params, expanding=("ids",))
        if seen:
            changed += self._run(
                "UPDATE staff_messages SET seen_at = :now WHERE conversation_id = :c AND id IN :ids "
                "AND seen_at IS NULL", params, expanding=("ids",))
        if changed:  # (connected/disconnected alone say whether the citizen is away)
            self._run(
                "UPDATE handoffs SET updated_at = :wall, citizen_seen_at = :now WHERE id IN "
                "(SELECT handoff_id FROM staff_messages WHERE conversation_id = :c AND id IN :ids)",
                {"wall": datetime.now(timezone.utc), "now": moment, "c": conversation_id, "ids": ids},
                expanding=("ids",))
        return changed

    def queue_status(self, conversation_id: str) -> QueueStatus | None:
        """Where the conversation's live chat stands (position and estimate kept by the portal)."""
        rows = self._run(
            "SELECT reference, status, queue_position, queue_estimate FROM handoffs WHERE conversation_id = :c "
            "AND kind = 'live' AND status IN ('open', 'claimed') ORDER BY id DESC LIMIT 1",
            {"c": conversation_id}, fetch=True)
        if not rows:
            return None
        reference, status, position, estimate = rows[0]
        return QueueStatus(str(reference), str(status), position, estimate)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

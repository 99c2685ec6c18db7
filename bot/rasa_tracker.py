"""Rasa tracker store configured by one SQLAlchemy URL (runs in the Rasa server process).

KOMMUNEBOT_TRACKER_URL, e.g. postgresql://user:pw@db/kommunebot; default: the SQLite
file var/rasa-tracker.db (KOMMUNEBOT_VAR_DIR). Rasa's own SQLTrackerStore wants dialect,
host and db separately; this class takes the URL and keeps the privacy engineer's
redaction (bot.privacy.tracker_store). endpoints.yml:

    tracker_store:
      type: bot.rasa_tracker.UrlTrackerStore
"""

from __future__ import annotations

import os
import time
from typing import Any

from bot.config import settings
from bot.privacy.files import private_sqlite
from bot.privacy.tracker_store import RedactingSQLTrackerStore

SETTING = "KOMMUNEBOT_TRACKER_URL"


def tracker_url() -> str:
    """The tracker store's SQLAlchemy URL (setting, or the default SQLite file)."""
    return settings().tracker_url


def _prepare_sqlite_folder(url: str) -> None:
    """The folder exists and the database file is owner-only (bot.privacy.files)."""
    private_sqlite(url)


def _check_reachable(url: str) -> None:
    """Fail at start, naming the setting, when the database cannot be reached.

    Rasa's SQLTrackerStore would otherwise retry every 5 s forever, and the server would
    hang in start-up with nothing but a driver warning in the log.
    """
    import sqlalchemy

    wait_s = float(os.environ.get("KOMMUNEBOT_DB_WAIT_SECONDS", "20"))
    engine = sqlalchemy.create_engine(url)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                with engine.connect():
                    return
            except sqlalchemy.exc.SQLAlchemyError as error:
                if time.monotonic() >= deadline:
                    where = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
                    raise RuntimeError(
                        f"Cannot reach the conversation database {SETTING}={where} (tried for {wait_s:.0f} s: "
                        f"{error.__class__.__name__}: {str(error).splitlines()[0]}). Start the database or "
                        f"correct {SETTING}.") from None
                time.sleep(1)
    finally:
        engine.dispose()


class UrlTrackerStore(RedactingSQLTrackerStore):
    """Redacting SQL tracker store on the database KOMMUNEBOT_TRACKER_URL names."""

    def __init__(self, domain: Any = None, host: str | None = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        from bot import rasa_speed

        rasa_speed.install()  # per-message cost fixes, before the first message (bot/rasa_speed.py)
        url = tracker_url()
        if "://" not in url:
            raise ValueError(f"{SETTING}={url!r} is not a database URL; use e.g. "
                             "sqlite:///var/rasa-tracker.db or postgresql://user:pw@host/db")
        _prepare_sqlite_folder(url)
        _check_reachable(url)
        for ignored in ("dialect", "db", "port", "username", "password", "login_db", "url"):
            kwargs.pop(ignored, None)
        # SQLTrackerStore uses `host` as the full URL when it contains "://".
        super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        if url.startswith("sqlite"):
            _tune_sqlite(self.engine)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _tune_sqlite(engine: Any) -> None:
    """Write-ahead log and no fsync per commit for the SQLite tracker store.

    Rasa commits once per message; with SQLite's defaults (rollback journal, synchronous
    FULL) each commit waits for the disk, a large part of a greeting's cost (bench/REPORT.md).
    In WAL mode with synchronous=NORMAL a commit survives a crash of the process (not
    necessarily a power cut), readers do not block the writer, and two Rasa processes on
    one machine can share the file (a writer waits up to 30 s for the other's lock).
    PostgreSQL (KOMMUNEBOT_TRACKER_URL) is unaffected."""
    import sqlalchemy

    sqlalchemy.event.listen(engine, "connect", _sqlite_pragmas)
    with engine.connect() as connection:  # connections made before the listener existed
        _sqlite_pragmas(connection.connection, None)

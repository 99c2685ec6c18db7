"""Open the handoff database (any SQLAlchemy URL) and create its tables."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import settings
from bot.handoff.models import Base
from bot.privacy.files import private_file

SETTING = "KOMMUNEBOT_DATABASE_URL"


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or created; the message says what to check."""


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the action server and the portal read and write the file at the same time.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _add_missing_columns(engine: Engine) -> None:
    """Add the columns newer code defines to tables an older release created.

    Only additive changes (new nullable columns, or with a server default) are made this
    way; nothing is dropped or changed.
    """
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column for column in table.columns if column.name not in present]
        if not missing:
            continue
        with engine.begin() as conn:
            for column in missing:
                kind = column.type.compile(dialect=engine.dialect)
                default = f" DEFAULT {column.server_default.arg.text}" if column.server_default is not None else ""
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{default}'))


class Database:
    """An engine plus a session factory; tables are created on open.

    >>> db = Database("sqlite:///var/kommunebot.db")
    >>> with db.session() as s: ...
    """

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise DatabaseUnavailable(
                f"{SETTING}={url!r} is not a database URL ({exc}). "
                "Use e.g. sqlite:///var/kommunebot.db or postgresql://user:pw@host/db."
            ) from None
        kwargs: dict = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                private_file(Path(parsed.database))  # owner-only (issue 14), before SQLite opens it
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": 10}}
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise DatabaseUnavailable(f"Cannot use {SETTING}={_safe(url)}: {exc}") from None
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            Base.metadata.create_all(self.engine)
            _add_missing_columns(self.engine)
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise DatabaseUnavailable(
                f"The database at {SETTING}={_safe(url)} is unreachable: {reason}. "
                f"Start the database server or set {SETTING} to a reachable database."
            ) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls) -> Database:
        """The database named by KOMMUNEBOT_DATABASE_URL (default: var/kommunebot.db)."""
        return cls(settings().database_url)

    def session(self) -> Session:
        """A new ORM session; use as a context manager and commit explicitly."""
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()

"""SQLite files with personal data are owner-only (0600), whatever the umask of whoever
starts a server (tests/test_privacy_servers.py checks the running servers' files)."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.db import Database
from bot.handoff.store import HandoffStore
from bot.privacy.files import private_sqlite


@pytest.fixture
def open_umask():
    old = os.umask(0o022)  # a typical login shell: new files are world-readable
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_cases_database_is_created_owner_only(tmp_path, open_umask):
    db = Database(f"sqlite:///{tmp_path / 'var' / 'kommunebot.db'}")
    now = datetime.now(timezone.utc)
    HandoffStore(db).create_case("conv-1", channel="rest", lang="nn", question="Kvifor to fakturaer?", contact=None,
                                 now=now, promised_by=now + timedelta(days=3))
    files = [p for p in (tmp_path / "var").iterdir()]
    assert {p.name for p in files} >= {"kommunebot.db", "kommunebot.db-wal"}
    assert {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}
    db.dispose()


def test_an_existing_readable_database_is_tightened(tmp_path, open_umask):
    path = tmp_path / "rasa-tracker.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    (tmp_path / "rasa-tracker.db-wal").write_bytes(b"")
    private_sqlite(f"sqlite:///{path}")
    assert mode(path) == 0o600 and mode(tmp_path / "rasa-tracker.db-wal") == 0o600


def test_other_databases_are_left_alone(tmp_path):
    private_sqlite("postgresql://kommunebot@localhost/kommunebot")
    private_sqlite("sqlite:///:memory:")
    assert list(tmp_path.iterdir()) == []


def test_the_insight_database_is_created_owner_only(tmp_path, open_umask):
    from bot.insight.store import InsightStore

    InsightStore(f"sqlite:///{tmp_path / 'var' / 'insight.db'}")
    assert mode(tmp_path / "var" / "insight.db") == 0o600


def test_the_chat_channel_creates_the_cases_database_owner_only(tmp_path, open_umask):
    """The Rasa process (bot.handoff.presence) may be the first to open the cases database."""
    from bot.handoff.presence import Presence

    Presence(f"sqlite:///{tmp_path / 'var' / 'kommunebot.db'}").connected("abc12345")
    assert mode(tmp_path / "var" / "kommunebot.db") == 0o600


def test_tightening_an_open_database_keeps_sqlite_s_locks(tmp_path):
    """A process that opens the database again (a second store on the same URL) must not
    drop the locks its first connection holds: that corrupts the database under load."""
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "kommunebot.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("BEGIN IMMEDIATE")  # this process holds the write lock
    conn.execute("INSERT INTO t VALUES (1)")
    private_sqlite(f"sqlite:///{path}")
    other = subprocess.run([sys.executable, "-c", "import sqlite3, sys; "
                            "sqlite3.connect(sys.argv[1], timeout=0).execute('BEGIN IMMEDIATE')", str(path)],
                           capture_output=True, text=True, timeout=60)
    conn.execute("COMMIT")
    conn.close()
    assert other.returncode != 0 and "locked" in other.stderr, other.stderr

"""Failed staff logins counted in the shared database per account and per address
(bot.privacy.login_limits), on a real SQLite database shared by two limiters (two portal
processes, or one before and after a restart)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.db import Database
from bot.privacy.login_limits import LoginLimiter, LoginLimits

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
LIMITS = LoginLimits(per_account=5, per_address=20, window=timedelta(minutes=15))


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_VAR_DIR", str(tmp_path))
    database = Database(f"sqlite:///{tmp_path / 'kommunebot.db'}")
    yield database
    database.dispose()


def test_an_account_is_locked_after_five_failures_from_anywhere(db):
    limiter = LoginLimiter(db, LIMITS)
    for n in range(5):
        assert limiter.blocked("kari", f"203.0.113.{n}", NOW) is None
        limiter.failed("kari", f"203.0.113.{n}", NOW + timedelta(seconds=n))
    assert limiter.blocked("Kari ", "198.51.100.1", NOW + timedelta(minutes=1)) == "account"
    assert limiter.blocked("ola", "198.51.100.1", NOW + timedelta(minutes=1)) is None
    assert limiter.blocked("kari", "198.51.100.1", NOW + timedelta(minutes=16)) is None  # the window passed


def test_the_count_is_shared_by_portal_processes_and_survives_a_restart(db):
    first, second = LoginLimiter(db, LIMITS), LoginLimiter(db, LIMITS)
    for _ in range(3):
        first.failed("kari", "203.0.113.7", NOW)
    for _ in range(2):
        second.failed("kari", "203.0.113.7", NOW)
    assert first.blocked("kari", "203.0.113.8", NOW) == "account"
    assert LoginLimiter(db, LIMITS).blocked("kari", "203.0.113.8", NOW) == "account"


def test_failures_on_other_names_never_reset_a_target(db):
    limiter = LoginLimiter(db, LoginLimits(per_account=5, per_address=100_000))
    for _ in range(5):
        limiter.failed("kari", "203.0.113.7", NOW)
    for n in range(10_001):  # the old limiter forgot the oldest name after 10,000
        limiter.failed(f"name-{n}", "198.51.100.9", NOW)
    assert limiter.blocked("kari", "203.0.113.7", NOW) == "account"


def test_one_address_trying_many_names_is_refused(db):
    limiter = LoginLimiter(db, LIMITS)
    for n in range(20):
        limiter.failed(f"name-{n}", "203.0.113.66", NOW)
    assert limiter.blocked("brand-new-name", "203.0.113.66", NOW) == "address"
    assert limiter.blocked("brand-new-name", "203.0.113.67", NOW) is None


def test_success_clears_the_account_and_nothing_readable_is_stored(db):
    limiter = LoginLimiter(db, LIMITS)
    for _ in range(4):
        limiter.failed("kari", "203.0.113.7", NOW)
    limiter.failed("MittPassord123", "203.0.113.7", NOW)  # a password typed into the name field
    limiter.succeeded("kari")
    assert limiter.blocked("kari", "203.0.113.7", NOW) is None
    with db.engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("select account, address from login_failures")]
    assert rows and not any("MittPassord" in v or "203.0.113" in v for row in rows for v in row)

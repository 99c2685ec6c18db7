"""Limits on cases and live-chat requests per conversation and per client address
(bot.privacy.limits), on a real SQLite database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.db import Database
from bot.privacy.limits import HandoffLimits, Limits, limit_text

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)


@pytest.fixture
def limits(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'kommunebot.db'}")
    yield HandoffLimits(db, Limits((("case", 3), ("live", 3)), (("case", 10), ("live", 10)), timedelta(hours=24)))
    db.dispose()


def test_at_most_three_cases_per_conversation(limits):
    for n in range(3):
        assert limits.take("case", "conv-1", "c-a", NOW + timedelta(minutes=n)) is None
    assert limits.take("case", "conv-1", "c-a", NOW + timedelta(minutes=5)) == ("case", "conversation")
    assert limits.take("case", "conv-2", "c-a", NOW + timedelta(minutes=6)) is None   # another conversation
    assert limits.take("live", "conv-1", "c-a", NOW + timedelta(minutes=7)) is None   # live chats count apart
    assert limits.take("case", "conv-1", "c-a", NOW + timedelta(hours=25)) is None    # the window passed


def test_at_most_ten_cases_per_address_an_hour(limits):
    for n in range(10):
        assert limits.take("case", f"conv-{n}", "c-spammer", NOW + timedelta(minutes=n)) is None
    assert limits.take("case", "conv-new", "c-spammer", NOW + timedelta(minutes=30)) == ("case", "client")
    assert limits.take("case", "conv-new", "c-other", NOW + timedelta(minutes=30)) is None
    assert limits.take("case", "conv-new2", "c-spammer", NOW + timedelta(minutes=61)) is None  # an hour later
    assert limits.take("case", "conv-x", None, NOW + timedelta(minutes=30)) is None  # exempt address: no count


def test_refusal_only_looks(limits):
    assert limits.refusal("live", "conv-1", "c-a", NOW) is None
    for _ in range(3):
        limits.take("live", "conv-1", "c-a", NOW)
    assert limits.refusal("live", "conv-1", "c-a", NOW) == ("live", "conversation")
    assert limits.forget("conv-1") == 3
    assert limits.refusal("live", "conv-1", "c-a", NOW) is None


def test_settings_and_texts(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_LIMIT_CASES_PER_ADDRESS_HOUR", "2")
    assert (Limits.from_env().client_hour("case"), Limits.from_env().client_hour("live")) == (2, 10)
    monkeypatch.setenv("KOMMUNEBOT_LIMIT_CASES_PER_ADDRESS_HOUR", "mange")
    with pytest.raises(ValueError, match="KOMMUNEBOT_LIMIT_CASES_PER_ADDRESS_HOUR"):
        Limits.from_env()
    assert "ring oss på 56 37 50 00" in limit_text(("case", "client"), "nn", phone="56 37 50 00")
    assert limit_text(("live", "conversation"), "nb", phone="1").startswith("Du har allerede bedt om")

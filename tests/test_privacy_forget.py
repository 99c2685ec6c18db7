"""Deleting a conversation by id (bot.privacy.forget and the `forget` command)."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from bot.handoff.contact import Contact
from bot.handoff.db import Database
from bot.handoff.store import HandoffStore
from bot.privacy.forget import forget_conversation

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)


def rasa_events_table(url: str, rows: list[tuple[str, str]]) -> None:
    """The columns Rasa's SQLTrackerStore uses, with some events."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    events = sa.Table("events", meta, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("sender_id", sa.String(255), nullable=False, index=True),
                      sa.Column("type_name", sa.String(255)), sa.Column("timestamp", sa.Float),
                      sa.Column("data", sa.Text))
    meta.create_all(engine)
    if rows:
        with engine.begin() as conn:
            conn.execute(events.insert(), [{"sender_id": s, "type_name": "user", "timestamp": 1.0, "data": d}
                                           for s, d in rows])
    engine.dispose()


def count(url: str, table: str, column: str, value: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :v"), {"v": value}).scalar()
    engine.dispose()
    return n


def fill(url: str) -> None:
    store = HandoffStore(Database(url))
    live = store.open_live_chat("alice", channel="socketio", lang="nn", question="Kan eg få snakke med nokon?",
                                now=NOW, promised_by=None)
    store.add_staff_message(live.reference, "kari", "Hei!", now=NOW)
    store.create_case("alice", channel="socketio", lang="nn", question="Faktura", now=NOW, promised_by=None,
                      contact=Contact("email", "alice@example.com"))
    store.create_case("bob", channel="rest", lang="nb", question="Byggesak", now=NOW, promised_by=None,
                      contact=None)
    store.db.dispose()
    rasa_events_table(url, [("alice", "hei"), ("alice", "fnr"), ("bob", "hallo")])


def test_forget_deletes_one_conversation_and_keeps_others(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    fill(url)
    result = forget_conversation("alice", url)
    assert (result.tracker_events, result.handoffs, result.staff_messages) == (2, 2, 2)  # message + "joined"
    for table, column in (("events", "sender_id"), ("handoffs", "conversation_id"),
                          ("staff_messages", "conversation_id")):
        assert count(url, table, column, "alice") == 0
    assert count(url, "events", "sender_id", "bob") == 1
    assert count(url, "handoffs", "conversation_id", "bob") == 1
    assert forget_conversation("alice", url).total == 0   # a second time finds nothing


def test_forget_without_a_tracker_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    store = HandoffStore(Database(url))
    store.create_case("carol", channel="rest", lang="nn", question="Spørsmål", now=NOW, promised_by=None, contact=None)
    store.db.dispose()
    assert forget_conversation("carol", url).handoffs == 1


def test_forget_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    fill(url)
    cmd = [str(ROOT / "bin" / "kommunebot"), "forget", "bob", "--database-url", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "deleted 1 tracker event(s), 1 case(s)" in out.stdout
    bad = subprocess.run([str(ROOT / "bin" / "kommunebot"), "forget", " ", "--database-url", url],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "conversation id is empty" in bad.stderr
    unreachable = subprocess.run([str(ROOT / "bin" / "kommunebot"), "forget", "bob", "--database-url", "nonsense"],
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 2 and "KOMMUNEBOT_DATABASE_URL" in unreachable.stderr


def test_forget_expired_keeps_recent_and_open(tmp_path):
    from datetime import timedelta

    from bot.privacy.forget import forget_expired
    from bot.service.profile import Retention

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    store = HandoffStore(Database(url))
    old = NOW - timedelta(days=100)
    closed_old = store.create_case("old", channel="rest", lang="nn", question="Gamal sak", now=old,
                                   promised_by=None, contact=None)
    store.close(closed_old.reference, "kari", now=old + timedelta(days=1), is_lead=True)
    closed_new = store.create_case("new", channel="rest", lang="nn", question="Ny sak", now=NOW,
                                   promised_by=None, contact=None)
    store.close(closed_new.reference, "kari", now=NOW, is_lead=True)
    store.create_case("waiting", channel="rest", lang="nn", question="Open sak", now=old,
                      promised_by=None, contact=None)
    store.db.dispose()
    stamp = lambda d: d.timestamp()  # noqa: E731
    engine = sa.create_engine(url)
    rasa_events_table(url, [])
    with engine.begin() as conn:
        for sender, when in (("old", old), ("old", old + timedelta(days=2)), ("waiting", old),
                             ("idle-but-recent", NOW - timedelta(days=5)), ("new", NOW)):
            conn.execute(sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                                 "VALUES (:s, 'user', :t, '{}')"), {"s": sender, "t": stamp(when)})
    engine.dispose()
    result = forget_expired(Retention(conversations_days=30, closed_cases_days=90), url, now=NOW)
    assert (result.tracker_events, result.handoffs) == (2, 1)
    assert count(url, "handoffs", "conversation_id", "old") == 0
    assert count(url, "handoffs", "conversation_id", "new") == 1
    assert count(url, "handoffs", "conversation_id", "waiting") == 1      # still open: kept
    assert count(url, "events", "sender_id", "waiting") == 1              # its transcript too
    assert count(url, "events", "sender_id", "idle-but-recent") == 1


def test_forget_command_needs_id_or_expired():
    out = subprocess.run([str(ROOT / "bin" / "kommunebot"), "forget"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "either a conversation id or --expired" in out.stderr


def test_abandoned_live_chats_end_and_fall_under_retention(tmp_path):
    """A live chat nobody touched for a day is ended (closed at its last activity): its
    conversation is no longer kept as 'open', and the closed case goes after its retention."""
    from datetime import timedelta

    from bot.privacy.forget import forget_expired
    from bot.service.profile import Retention

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    store = HandoffStore(Database(url))
    long_ago = NOW - timedelta(days=120)
    gone = store.open_live_chat("gone", channel="socketio", lang="nn", question="Er det nokon der?", now=long_ago,
                                promised_by=None)
    claimed = store.open_live_chat("claimed", channel="socketio", lang="nn", question="Hjelp", now=long_ago,
                                   promised_by=None)
    store.claim(claimed.reference, "kari", now=long_ago + timedelta(minutes=5))
    waiting = store.open_live_chat("waiting", channel="socketio", lang="nb", question="Hei",
                                   now=NOW - timedelta(hours=2), promised_by=None)
    store.db.dispose()
    rasa_events_table(url, [])
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for sender, when in (("gone", long_ago), ("claimed", long_ago), ("waiting", NOW - timedelta(hours=2))):
            conn.execute(sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                                 "VALUES (:s, 'user', :t, '{}')"), {"s": sender, "t": when.timestamp()})
    engine.dispose()

    result = forget_expired(Retention(conversations_days=30, closed_cases_days=90), url, now=NOW)
    assert result.abandoned_live_chats == 2
    assert count(url, "events", "sender_id", "gone") == 0 and count(url, "events", "sender_id", "claimed") == 0
    assert count(url, "handoffs", "conversation_id", "gone") == 0   # closed 120 days ago: past 90 days
    assert count(url, "handoffs", "conversation_id", "claimed") == 0
    fresh = HandoffStore(Database(url))
    assert fresh.get(waiting.reference).status == "open"             # two hours old: still waiting
    assert count(url, "events", "sender_id", "waiting") == 1
    assert fresh.get(gone.reference) is None


def test_a_recently_abandoned_chat_is_ended_but_kept_for_the_closed_case_retention(tmp_path):
    from datetime import timedelta

    from bot.privacy.forget import forget_expired
    from bot.service.profile import Retention

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    store = HandoffStore(Database(url))
    entry = store.open_live_chat("left", channel="socketio", lang="nn", question="Hei", now=NOW - timedelta(days=3),
                                 promised_by=None)
    store.db.dispose()
    result = forget_expired(Retention(conversations_days=30, closed_cases_days=90), url, now=NOW)
    assert result.abandoned_live_chats == 1
    item = HandoffStore(Database(url)).get(entry.reference)
    assert item.status == "closed" and item.closed_at == NOW - timedelta(days=3)


def test_forget_also_removes_the_question_texts_kept_for_statistics(tmp_path):
    """A deletion request reaches insight (bot.insight): question texts and conversation keys go."""
    from bot.insight.store import Event, InsightStore

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    fill(url)
    insight = InsightStore.open(url)
    insight.record(Event(kind="not_found", municipality="alver", sender_id="alice", at=NOW, session_start=1.0,
                         channel="socketio", lang="nn", question="Kva er [fødselsnummer]-regelen?"))
    insight.record(Event(kind="not_found", municipality="alver", sender_id="bob", at=NOW, session_start=1.0,
                         channel="rest", lang="nb", question="Hva koster hundeskatt?"))
    forget_conversation("alice", url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        texts = sorted(str(r[0]) for r in conn.execute(sa.text("SELECT text FROM insight_questions")))
    engine.dispose()
    assert texts == ["Hva koster hundeskatt?", "None"]

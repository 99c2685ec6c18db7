"""The handoff store on SQLite and on PostgreSQL.

PostgreSQL is KOMMUNEBOT_TEST_POSTGRES_URL when set, else a throw-away cluster started
from Debian's postgresql package (installed by `make install`) for this module.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from bot.handoff.contact import Contact
from bot.handoff.db import Database, DatabaseUnavailable
from bot.handoff.store import HandoffError, HandoffStore, reference_prefix
from tests.scaleout_services import PG_BIN, Postgres

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
POSTGRES_URL = os.environ.get("KOMMUNEBOT_TEST_POSTGRES_URL")


def _fresh_postgres_schema(url: str) -> str:
    """A new schema per test run so runs do not see each other's rows."""
    schema = "kb_test_" + uuid.uuid4().hex[:8]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="module")
def postgres_url():
    if POSTGRES_URL:
        yield POSTGRES_URL
        return
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL is not installed ({PG_BIN}): apt-get install postgresql, "
                    "or set KOMMUNEBOT_TEST_POSTGRES_URL")
    server = Postgres().start()
    try:
        server.create_database("handoff_test")
        yield server.url("handoff_test")
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'handoff.db'}"
    return _fresh_postgres_schema(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url) -> HandoffStore:
    return HandoffStore(Database(db_url), prefix="ALV")


def test_case_is_stored_with_reference_and_survives_reopening(db_url):
    store = HandoffStore(Database(db_url), prefix="ALV")
    case = store.create_case(
        "conv-1", channel="socketio", lang="nn", question="Kvar er søknaden min?",
        contact=Contact("email", "ola@example.no"), now=NOW, promised_by=NOW + timedelta(days=3),
    )
    assert case.reference == f"ALV-2026-{case.id:06d}"
    store.db.dispose()
    again = HandoffStore(Database(db_url), prefix="ALV").get(case.reference)  # a new process, say
    assert again is not None
    assert (again.kind, again.status, again.question, again.lang) == ("case", "open", "Kvar er søknaden min?", "nn")
    assert again.contact == Contact("email", "ola@example.no")
    assert again.created_at == NOW and again.promised_by == NOW + timedelta(days=3)
    assert again.conversation_id == "conv-1" and again.channel == "socketio"


def test_references_are_unique_and_use_the_local_year(store):
    late = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)  # 00:30 on 1 January in Oslo
    a = store.create_case("c1", channel="rest", lang="nb", question="a", contact=None, now=late, promised_by=None)
    b = store.create_case("c2", channel="rest", lang="nb", question="b", contact=None, now=NOW, promised_by=None)
    assert a.reference.startswith("ALV-2027-") and b.reference.startswith("ALV-2026-")
    assert a.reference != b.reference


def test_case_needs_a_question(store):
    with pytest.raises(HandoffError):
        store.create_case("c", channel="rest", lang="nn", question="  ", contact=None, now=NOW, promised_by=None)


def test_live_chat_is_queued_once_per_conversation(store):
    first = store.open_live_chat("conv-2", channel="socketio", lang="nb", question="hjelp", now=NOW,
                                 promised_by=NOW + timedelta(minutes=5))
    second = store.open_live_chat("conv-2", channel="socketio", lang="nb", question="hjelp", now=NOW,
                                  promised_by=NOW + timedelta(minutes=5))
    assert first.reference == second.reference
    assert store.active_live_chat("conv-2").reference == first.reference


def test_claim_reply_close_queue_messages_for_delivery_in_order(store):
    chat = store.open_live_chat("conv-3", channel="socketio", lang="nn", question="", now=NOW, promised_by=None)
    store.claim(chat.reference, "kari", now=NOW)
    store.add_staff_message(chat.reference, "kari", "Hei, eg heiter Kari.", now=NOW)
    closed = store.close(chat.reference, "kari", now=NOW + timedelta(minutes=3))
    assert closed.status == "closed" and closed.handled_by == "kari" and closed.closed_at is not None
    pending = store.pending_messages("conv-3")
    assert [(m.kind, m.text) for m in pending] == [("joined", ""), ("message", "Hei, eg heiter Kari."), ("ended", "")]
    assert store.conversations_with_pending() == ["conv-3"]
    assert store.mark_delivered(pending[0].id, now=NOW) is True
    assert store.mark_delivered(pending[0].id, now=NOW) is False  # delivered once only
    assert [m.kind for m in store.pending_messages("conv-3")] == ["message", "ended"]
    assert store.active_live_chat("conv-3") is None


def test_reply_claims_an_open_chat_and_refuses_empty_or_closed(store):
    chat = store.open_live_chat("conv-4", channel="socketio", lang="nn", question="", now=NOW, promised_by=None)
    with pytest.raises(HandoffError):
        store.add_staff_message(chat.reference, "kari", "   ", now=NOW)
    store.add_staff_message(chat.reference, "per", "Hei", now=NOW)
    assert store.get(chat.reference).status == "claimed" and store.get(chat.reference).handled_by == "per"
    store.close(chat.reference, "per", now=NOW)
    with pytest.raises(HandoffError):
        store.add_staff_message(chat.reference, "per", "Hallo?", now=NOW)
    with pytest.raises(HandoffError):
        store.claim("ALV-2026-999999", "per", now=NOW)


def test_cases_cannot_get_chat_replies(store):
    case = store.create_case("conv-5", channel="rest", lang="nn", question="q",
                             contact=Contact("phone", "+4791234567"), now=NOW, promised_by=None)
    with pytest.raises(HandoffError):
        store.add_staff_message(case.reference, "kari", "Hei", now=NOW)
    store.close(case.reference, "kari", now=NOW)
    assert store.pending_messages("conv-5") == []  # closing a case sends nothing to a chat


def test_open_items_put_overdue_first(store):
    later = store.create_case("a", channel="rest", lang="nn", question="later", contact=None,
                              now=NOW, promised_by=NOW + timedelta(days=2))
    overdue = store.create_case("b", channel="rest", lang="nn", question="overdue", contact=None,
                                now=NOW - timedelta(days=5), promised_by=NOW - timedelta(hours=1))
    soon = store.open_live_chat("c", channel="socketio", lang="nn", question="soon",
                                now=NOW, promised_by=NOW + timedelta(minutes=5))
    closed = store.create_case("d", channel="rest", lang="nn", question="closed", contact=None,
                               now=NOW, promised_by=NOW - timedelta(days=1))
    store.close(closed.reference, "kari", now=NOW)
    items = store.open_items(NOW)
    assert [i.reference for i in items] == [overdue.reference, soon.reference, later.reference]
    assert items[0].is_overdue(NOW) and not items[1].is_overdue(NOW)
    assert items[0].age_minutes(NOW) == 5 * 24 * 60


def test_naive_datetimes_are_refused(store):
    with pytest.raises(ValueError):
        store.create_case("c", channel="rest", lang="nn", question="q", contact=None,
                          now=datetime(2026, 1, 1), promised_by=None)


def test_unreachable_database_names_the_setting():
    with pytest.raises(DatabaseUnavailable, match="KOMMUNEBOT_DATABASE_URL") as info:
        Database("postgresql://kb:secret@127.0.0.1:1/kommunebot")
    assert "secret" not in str(info.value)
    with pytest.raises(DatabaseUnavailable, match="KOMMUNEBOT_DATABASE_URL"):
        Database("not a url")


def test_reference_prefix_from_municipality_name():
    assert reference_prefix("Alver kommune") == "ALV"
    assert reference_prefix("Ås kommune") == "ÅS"
    assert reference_prefix("") == "KOM"

"""The handoff store on SQLite and on PostgreSQL.

PostgreSQL is KOMMUNEBOT_TEST_POSTGRES_URL when set, else a throw-away cluster started
from Debian's postgresql package (installed by `make install`) for this module.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text

from bot.handoff.contact import Contact
from bot.handoff.db import Database, DatabaseUnavailable
from bot.handoff.models import StaffUser
from bot.handoff.presence import Presence
from bot.handoff.queue import estimate_minutes, queue_estimates, queue_status
from bot.handoff.store import ClaimConflict, HandoffError, HandoffStore, reference_prefix
from bot.staff.accounts import Accounts
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
    assert [(m.kind, m.text) for m in pending] == [("joined", ""), ("message", "Hei, eg heiter Kari."),
                                                   ("ended", "staff")]
    assert store.conversations_with_pending() == ["conv-3"]
    assert store.claim_for_sending(pending[0].id, {"state": "joined"}, now=NOW) is True
    assert store.claim_for_sending(pending[0].id, {"state": "joined"}, now=NOW) is False  # handed over once only
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
    store.claim(case.reference, "kari", now=NOW)
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
    store.close(closed.reference, "leiar", now=NOW, is_lead=True)
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


def _live(store: HandoffStore, conversation: str, minutes: int = 0, question: str = "hjelp"):
    return store.open_live_chat(conversation, channel="socketio", lang="nn", question=question,
                                now=NOW + timedelta(minutes=minutes), promised_by=NOW + timedelta(minutes=minutes + 5))


def test_claiming_is_atomic_one_of_many_wins_the_others_learn_who(store):
    chat = _live(store, "race")
    results: list[object] = []
    barrier = threading.Barrier(12)

    def claim(name: str) -> None:
        barrier.wait()
        try:
            results.append(store.claim(chat.reference, name, now=NOW).handled_by)
        except ClaimConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=claim, args=(f"staff{i % 6}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winner = store.get(chat.reference).handled_by
    conflicts = [r for r in results if isinstance(r, ClaimConflict)]
    assert all(c.handler == winner and c.reason == "claimed" for c in conflicts)
    # the winner's own second claim is a no-op, everyone else is refused; one "joined" note only
    assert [r for r in results if not isinstance(r, ClaimConflict)] == [winner] * (12 - len(conflicts))
    assert len(conflicts) >= 10
    assert [m.kind for m in store.messages(chat.reference)] == ["joined"]


def test_only_the_handler_or_a_lead_replies_transfers_or_closes(store, db_url):
    Accounts(store.db).add("kari", "passord-12345", now=NOW)
    Accounts(store.db).add("ola", "passord-12345", now=NOW)
    chat = _live(store, "perm")
    with pytest.raises(HandoffError) as info:
        store.close(chat.reference, "ola", now=NOW)
    assert info.value.reason == "not_claimed"
    store.claim(chat.reference, "kari", now=NOW)
    for act in (lambda: store.add_staff_message(chat.reference, "ola", "Hei", now=NOW),
                lambda: store.close(chat.reference, "ola", now=NOW),
                lambda: store.transfer(chat.reference, "ola", "ola", now=NOW)):
        with pytest.raises(HandoffError) as info:
            act()
        assert info.value.reason == "not_handler" and info.value.handler == "kari"
    with pytest.raises(HandoffError) as info:
        store.transfer(chat.reference, "kari", "nobody", now=NOW)
    assert info.value.reason == "no_user"
    moved = store.transfer(chat.reference, "kari", "ola", now=NOW)
    assert moved.handled_by == "ola" and moved.status == "claimed"
    assert store.add_staff_message(chat.reference, "ola", "Eg tek over.", now=NOW).author == "ola"
    with pytest.raises(HandoffError):
        store.add_staff_message(chat.reference, "kari", "Eg òg", now=NOW)
    assert store.add_staff_message(chat.reference, "leiar", "Leiaren her.", now=NOW, is_lead=True)
    kinds = [(m.kind, m.text) for m in store.messages(chat.reference)]
    assert ("joined", "transfer") in kinds and ("note", "transfer:kari:ola") in kinds
    assert store.close(chat.reference, "leiar", now=NOW, is_lead=True).status == "closed"


def test_a_message_is_delivered_only_when_the_browser_confirms_it(store):
    chat = _live(store, "deliver")
    store.claim(chat.reference, "kari", now=NOW)
    message = store.add_staff_message(chat.reference, "kari", "Hei!", now=NOW)
    assert [m.kind for m in store.unsent("deliver")] == ["joined", "message"]
    assert store.claim_for_sending(message.id, {"type": "handoff", "id": message.id}, now=NOW) is True
    assert store.claim_for_sending(message.id, {"type": "handoff"}, now=NOW) is False  # handed over once
    sent = next(m for m in store.messages(chat.reference) if m.id == message.id)
    assert sent.state() == "sent" and sent.payload == {"type": "handoff", "id": message.id}
    assert sent.state(citizen_left=True) == "undelivered"
    assert [m.id for m in store.unacknowledged("deliver")] == [message.id]
    assert store.acknowledge("someone-else", [message.id], now=NOW) == 0  # only the own conversation
    assert store.acknowledge("deliver", [message.id], now=NOW, seen=False) == 1
    assert next(m for m in store.messages(chat.reference) if m.id == message.id).state() == "delivered"
    store.acknowledge("deliver", [message.id], now=NOW, seen=True)
    assert next(m for m in store.messages(chat.reference) if m.id == message.id).state() == "seen"
    assert store.unacknowledged("deliver") == []


def test_a_chat_the_citizen_left_becomes_a_case_with_the_contact_they_wrote(store):
    chat = _live(store, "left", question="")
    store.record_citizen_message("left", now=NOW, text="Ring meg på 912 34 567", at=1234.5,
                                 contacts=[Contact("phone", "+4791234567")])
    seen = store.get(chat.reference)
    assert seen.question == "Ring meg på 912 34 567" and seen.chat_contacts[0].value == "+4791234567"
    assert seen.chat_contacts[0].at == 1234.5 and seen.contacts() == [Contact("phone", "+4791234567")]
    became = store.end_live_chat(chat.reference, reason="left", now=NOW, promised_by=NOW + timedelta(days=3))
    assert (became.kind, became.origin, became.status) == ("case", "live", "open")
    assert became.contact == Contact("phone", "+4791234567") and became.citizen_left_at == NOW
    assert [(m.kind, m.text) for m in store.unsent("left")] == [("ended", "left:case")]
    other = _live(store, "left-2")
    ended = store.end_live_chat(other.reference, reason="left", now=NOW, promised_by=NOW + timedelta(days=3))
    assert (ended.kind, ended.status, ended.end_reason) == ("live", "closed", "left")
    with pytest.raises(HandoffError):
        store.end_live_chat(other.reference, reason="left", now=NOW)


def test_a_chat_closed_for_the_day_becomes_a_case_when_the_contact_comes_later(store):
    chat = _live(store, "closing")
    store.end_live_chat(chat.reference, reason="closing", now=NOW, promised_by=NOW + timedelta(days=3))
    assert store.get(chat.reference).status == "closed"
    case = store.reopen_as_case("closing", contact=Contact("email", "a@example.no"), now=NOW + timedelta(hours=1),
                                promised_by=NOW + timedelta(days=4))
    assert case.reference == chat.reference and (case.kind, case.status, case.origin) == ("case", "open", "live")
    assert store.reopen_as_case("closing", contact=Contact("email", "a@example.no"), now=NOW, promised_by=None) is None


def test_queue_positions_and_estimates_from_staff_on_duty_and_handling_times(store):
    accounts = Accounts(store.db)
    for name in ("kari", "ola"):
        accounts.add(name, "passord-12345", now=NOW)
    done = _live(store, "done")  # a chat that took 8 minutes
    store.claim(done.reference, "kari", now=NOW)
    store.close(done.reference, "kari", now=NOW + timedelta(minutes=8))
    first, second, third = (_live(store, f"q{i}", minutes=i) for i in range(3))
    assert queue_status(store, first.reference, None, 5).estimate_minutes is None  # nobody on duty
    wall = datetime.now(timezone.utc)
    accounts.seen("kari", wall)
    accounts.seen("ola", wall)
    estimates = queue_estimates(store, None, 5)
    assert [estimates[c.reference].position for c in (first, second, third)] == [1, 2, 3]
    # two free: the first two are taken at once, the third waits one chat (8 minutes)
    assert [estimates[c.reference].estimate_minutes for c in (first, second, third)] == [1, 1, 8]
    assert queue_status(store, None, None, 5).position == 4  # where a new chat would stand
    assert estimate_minutes(5, 2, 2, 8) == 24 and estimate_minutes(1, 0, 0, 8) is None
    store.set_queue_estimates({r: (s.position, s.estimate_minutes) for r, s in estimates.items()})
    assert store.get(third.reference).queue_position == 3 and store.get(third.reference).queue_estimate == 8


def test_the_chat_channel_records_presence_and_confirmations_with_plain_sql(store, db_url):
    chat = _live(store, "presence-1")
    store.claim(chat.reference, "kari", now=NOW)
    message = store.add_staff_message(chat.reference, "kari", "Hei", now=NOW)
    store.claim_for_sending(message.id, {"type": "handoff", "state": "staff_message", "id": message.id}, now=NOW)
    presence = Presence(db_url)
    try:
        assert presence.disconnected("presence-1", NOW) == 1
        assert store.get(chat.reference).citizen_away_since == NOW
        assert presence.disconnected("presence-1", NOW + timedelta(minutes=1)) == 0  # since the first time
        assert presence.connected("presence-1", NOW) == 1 and store.get(chat.reference).citizen_away_since is None
        assert [i for i, _ in presence.unacknowledged("presence-1")] == [message.id]
        assert presence.unacknowledged("presence-1")[0][1]["state"] == "staff_message"
        assert presence.acknowledge("presence-1", [message.id, "x", True], seen=True, now=NOW) == 2
        assert presence.unacknowledged("presence-1") == []
        assert next(m for m in store.messages(chat.reference) if m.id == message.id).state() == "seen"
        assert presence.queue_status("presence-1").status == "claimed"
        assert presence.queue_status("nobody") is None
    finally:
        presence.dispose()
    assert Presence("sqlite:////nonexistent-dir/x.db").connected("c") == 0  # errors never break the chat


def test_an_older_database_gets_the_new_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:  # the first release's tables
        conn.execute(text("CREATE TABLE handoffs (id INTEGER PRIMARY KEY, reference VARCHAR(32), kind VARCHAR(8), "
                          "status VARCHAR(8), conversation_id VARCHAR(255), channel VARCHAR(32), lang VARCHAR(2), "
                          "question TEXT, contact_kind VARCHAR(8), contact_value VARCHAR(254), created_at DATETIME, "
                          "promised_by DATETIME, claimed_at DATETIME, closed_at DATETIME, handled_by VARCHAR(64))"))
        conn.execute(text("CREATE TABLE staff_users (id INTEGER PRIMARY KEY, username VARCHAR(64), "
                          "password_hash VARCHAR(255), created_at DATETIME)"))
        conn.execute(text("INSERT INTO staff_users (username, password_hash, created_at) "
                          "VALUES ('kari', 'x', '2026-01-01 00:00:00')"))
    engine.dispose()
    db = Database(url)
    store = HandoffStore(db, prefix="ALV", municipality="alver")
    chat = _live(store, "upgraded")
    assert store.get(chat.reference).municipality == "alver"
    with db.session() as s:
        assert s.query(StaffUser).one().role == "staff"

"""The insight store on SQLite and PostgreSQL: counting event by event gives exactly what
recounting the conversations gives; days are the municipality's; handoffs, first staff
replies, retention and deletion; the Rasa event stream (bot.insight.broker.Counter)."""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text

from bot.insight import schema as t
from bot.insight.broker import Counter
from bot.insight.stats import details, summary
from bot.insight.store import COUNTER_OF, Event, InsightStore
from tests.scaleout_services import PG_BIN, Postgres

POSTGRES_URL = os.environ.get("KOMMUNEBOT_TEST_POSTGRES_URL")
AT = datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc)  # 10.30 in Oslo
DAY = date(2026, 11, 24)


def _fresh_postgres_schema(url: str) -> str:
    schema = "kb_insight_" + uuid.uuid4().hex[:8]
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
        server.create_database("insight_test")
        yield server.url("insight_test")
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'insight.db'}"
    return _fresh_postgres_schema(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url):
    s = InsightStore(db_url)
    yield s
    s.dispose()


def record(store, kind, sender="a", start=1.0, at=AT, **fields):
    fields.setdefault("channel", "socketio")
    return store.record(Event(kind=kind, municipality="alver", sender_id=sender, at=at, session_start=start, **fields))


def counts_table(store) -> list[tuple]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.counts)).all()
    return sorted(tuple(r) for r in rows if any(r[5:]))


def test_a_day_of_conversations_is_counted_as_issue_16_defines(store):
    record(store, "message", lang="nn")
    record(store, "answered", url="https://x/a", title="A")
    record(store, "message")
    record(store, "feedback_positive", url="https://x/a")
    record(store, "message", sender="b", lang="nb", channel="facebook")
    record(store, "answered", sender="b", url="https://x/a", title="A")
    record(store, "feedback_negative", sender="b", url="https://x/a", question="det hjalp ikkje")
    record(store, "message", sender="c", channel="rest")
    record(store, "not_found", sender="c", question="kamel?")
    record(store, "handoff_case", sender="c", reason="not_found", standard="email", reference="ALV-1",
           promised_by=AT + timedelta(days=3))
    record(store, "message", sender="d")                       # a greeting only
    record(store, "message", sender="e")
    record(store, "out_of_scope", sender="e")                  # not a question to the municipality
    result = summary(store, "alver", DAY, DAY)
    assert result == {
        "conversations": 5, "messages": 6, "answered": 2, "not_found": 1, "self_service_rate": round(1 / 3, 4),
        "handoffs": {"live": 0, "case": 1}, "feedback": {"positive": 1, "negative": 1},
        "by_language": {"nn": 4, "nb": 1}, "by_channel": {"facebook": 1, "rest": 1, "socketio": 3},
        "top_pages": [{"url": "https://x/a", "title": "A", "count": 2}],
        "unanswered": [], "service_standard": {"email": {"handled": 0, "within_promise": 0}},
    }


def test_a_conversation_stops_being_self_served_when_a_handoff_comes(store):
    record(store, "message")
    record(store, "answered", url="https://x/a")
    assert summary(store, "alver", DAY, DAY)["self_service_rate"] == 1.0
    record(store, "handoff_live", reference="ALV-7", standard="chat", reason="asked")
    assert summary(store, "alver", DAY, DAY)["self_service_rate"] == 0.0
    record(store, "handoff_live", reference="ALV-7", standard="chat", reason="asked")  # the action ran twice
    assert summary(store, "alver", DAY, DAY)["handoffs"] == {"live": 1, "case": 0}


def test_a_conversation_moves_with_its_written_standard(store):
    record(store, "message", lang="nn")
    record(store, "answered", url="https://x/a")
    record(store, "lang", lang="nb")
    assert summary(store, "alver", DAY, DAY)["by_language"] == {"nn": 0, "nb": 1}
    assert counts_table(store) == [t_ for t_ in counts_table(store) if t_[4] == "nb"]


def test_days_are_the_municipalitys_days(store):
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)  # 00.30 on 1 January in Oslo
    record(store, "message", at=new_year)
    assert summary(store, "alver", date(2027, 1, 1), date(2027, 1, 1))["conversations"] == 1
    assert summary(store, "alver", date(2026, 12, 31), date(2026, 12, 31))["conversations"] == 0
    assert details(store, "alver", date(2027, 1, 1), date(2027, 1, 1))["hours"][0]["conversations"] == 1


def test_a_new_session_is_a_new_conversation_and_a_lost_session_start_is_found_again(store):
    record(store, "message", start=1.0)
    record(store, "message", start=2.0)                        # the session expired: a new conversation
    record(store, "message", start=None, at=AT + timedelta(minutes=5))  # no session start: the latest one
    result = summary(store, "alver", DAY, DAY)
    assert (result["conversations"], result["messages"]) == (2, 3)


def test_the_first_staff_reply_counts_once_against_the_promise(store):
    record(store, "message")
    record(store, "handoff_live", reference="ALV-1", standard="chat", reason="asked",
           promised_by=AT + timedelta(minutes=5))
    record(store, "message", sender="b")
    record(store, "handoff_live", sender="b", reference="ALV-2", standard="chat", reason="asked",
           promised_by=AT + timedelta(minutes=5))
    assert store.record_staff_reply("ALV-1", AT + timedelta(minutes=3))
    assert not store.record_staff_reply("ALV-1", AT + timedelta(minutes=30))   # only the first
    assert store.record_staff_reply("ALV-2", AT + timedelta(minutes=9))
    assert not store.record_staff_reply("ALV-404", AT)
    assert summary(store, "alver", DAY, DAY)["service_standard"] == {"chat": {"handled": 2, "within_promise": 1}}
    waiting = details(store, "alver", DAY, DAY)["waiting"]["chat"]
    assert (waiting["median_minutes"], waiting["p90_minutes"], waiting["late"], waiting["open"]) == (6.0, 8.4, 1, 0)


def test_retention_deletes_keys_and_texts_and_keeps_the_counts(store):
    record(store, "message")
    record(store, "not_found", question="kan eg ha kamel i hagen?")
    record(store, "handoff_case", reference="ALV-9", standard="email", reason="not_found")
    store.record_staff_reply("ALV-9", AT + timedelta(days=1))
    before = summary(store, "alver", DAY, DAY)
    done = store.expire(AT + timedelta(days=100), {"alver": (30, 90)})
    assert done == {"conversations": 1, "question_texts": 1, "references": 1}
    with store.engine.connect() as conn:
        assert conn.execute(select(t.conversations)).all() == []
        assert conn.execute(select(t.questions.c.text, t.questions.c.vector)).all() == [(None, None)]
        assert conn.execute(select(t.handoffs.c.reference)).all() == [(None,)]
    assert summary(store, "alver", DAY, DAY) == before


def test_forget_removes_one_citizens_texts_and_keys(store):
    record(store, "message", sender="ola")
    record(store, "not_found", sender="ola", question="om meg")
    record(store, "message", sender="kari")
    record(store, "not_found", sender="kari", question="om henne")
    assert store.forget("ola") == 1
    with store.engine.connect() as conn:
        texts = sorted(r[0] or "" for r in conn.execute(select(t.questions.c.text)))
        keys = conn.execute(select(t.conversations.c.key).where(t.conversations.c.key.is_(None))).all()
    assert texts == ["", "om henne"] and len(keys) == 1
    assert summary(store, "alver", DAY, DAY)["not_found"] == 2


EVENTS = st.lists(st.tuples(st.sampled_from(sorted(COUNTER_OF) + ["lang"]), st.integers(0, 3),
                            st.integers(0, 2), st.sampled_from(["nn", "nb", None]),
                            st.sampled_from(["socketio", "rest", "facebook"])), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_counting_event_by_event_equals_recounting_the_conversations(tmp_path_factory, events):
    """Property: whatever order events come in, insight_counts (kept up to date one event
    at a time) equals insight_counts rebuilt from the conversation rows."""
    store = InsightStore(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}")
    try:
        for kind, sender, day_offset, lang, channel in events:
            store.record(Event(kind=kind, municipality="alver", sender_id=f"s{sender}",
                               at=AT + timedelta(days=day_offset, hours=sender), session_start=float(day_offset),
                               channel=channel, lang=lang, url="https://x/p", reference=None))
        incremental = counts_table(store)
        store.recount()
        assert counts_table(store) == incremental
    finally:
        store.dispose()


def test_counting_equals_recounting_on_postgresql_too(db_url):
    store = InsightStore(db_url)
    try:
        for i, kind in enumerate(["message", "answered", "lang", "feedback_negative", "not_found", "handoff_case",
                                  "message", "service_answer", "own_case", "handoff_offered"]):
            store.record(Event(kind=kind, municipality="alver", sender_id=f"s{i % 3}", at=AT + timedelta(hours=i),
                               session_start=float(i % 3), channel="rest", lang="nb" if i == 2 else None,
                               url="https://x/p", question="q"))
        incremental = counts_table(store)
        store.recount()
        assert counts_table(store) == incremental
    finally:
        store.dispose()


def test_the_rasa_event_stream_becomes_conversations_and_messages():
    seen = []
    counter = Counter(lambda kind, **fields: seen.append((kind, fields["conversation"], fields["session_start"],
                                                          fields["channel"], fields["lang"], fields["municipality"])))
    stream = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started", "timestamp": 100.5},
        {"event": "slot", "name": "language", "value": "nn"},
        {"event": "user", "input_channel": "socketio", "metadata": {"municipality": "alver"}, "text": "hei"},
        {"event": "slot", "name": "language", "value": "nb"},
        {"event": "action", "name": "utter_greet"},
        {"event": "user", "input_channel": "socketio", "text": "været?"},
        {"event": "action", "name": "utter_out_of_scope"},
        {"event": "user", "input_channel": "socketio", "text": "skatt"},
        {"event": "action", "name": "action_other_authority"},
        {"event": "action", "name": "action_answer_question"},  # the search took over: not a service answer
        {"event": "user", "input_channel": "socketio", "text": "nav"},
        {"event": "action", "name": "action_other_authority"},
        {"event": "action", "name": "action_listen"},
        {"event": "session_started", "timestamp": 999.0},
        {"event": "user", "input_channel": "socketio", "text": "hei igjen"},
    ]
    for event in stream:
        counter.handle({"sender_id": "s1", **event})
    assert seen == [
        ("message", "s1", 100.5, "socketio", "nn", "alver"),
        ("lang", "s1", 100.5, "socketio", "nb", "alver"),
        ("message", "s1", 100.5, "socketio", "nb", "alver"),
        ("out_of_scope", "s1", 100.5, "socketio", "nb", "alver"),
        ("message", "s1", 100.5, "socketio", "nb", "alver"),
        ("message", "s1", 100.5, "socketio", "nb", "alver"),
        ("service_answer", "s1", 100.5, "socketio", "nb", "alver"),
        ("message", "s1", 999.0, "socketio", "nb", "alver"),
    ]


def test_unknown_kinds_and_naive_times_are_refused(store):
    with pytest.raises(ValueError, match="unknown insight event kind"):
        record(store, "clicked")
    with pytest.raises(ValueError, match="timezone-aware"):
        record(store, "message", at=datetime(2026, 1, 1))


def test_record_event_never_raises(tmp_path, caplog):
    from bot.insight import record_event

    assert record_event("message", conversation="x", database_url=f"sqlite:///{tmp_path / 'ok.db'}")
    assert not record_event("clicked", conversation="x", database_url=f"sqlite:///{tmp_path / 'ok.db'}")
    assert not record_event("message", conversation="x", database_url="nonsense://")
    assert "could not count" in caplog.text


def test_tables_of_the_first_release_get_the_new_columns_filled(tmp_path):
    """A database made before wait_minutes, within_promise and first_in_group existed:
    opening it adds them and fills them from what the rows hold."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = InsightStore(url)
    record(store, "message")
    record(store, "handoff_live", reference="ALV-1", standard="chat", reason="asked",
           promised_by=AT + timedelta(minutes=5))
    store.record_staff_reply("ALV-1", AT + timedelta(minutes=7))
    record(store, "not_found", question="kamel?")
    with store.engine.begin() as conn:
        group = conn.execute(t.groups.insert().values(municipality="alver", centroid=b"", size=1, created_at=AT,
                                                      status="open")).inserted_primary_key[0]
        conn.execute(t.questions.update().values(group_id=group))
    store.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:  # back to the first release's tables
        for index in ("ix_insight_handoffs_standard", "ix_insight_questions_groups"):
            conn.execute(text(f"DROP INDEX {index}"))
        for table, column in t.ADDED_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    engine.dispose()
    store = InsightStore(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(select(t.handoffs.c.wait_minutes, t.handoffs.c.within_promise)).one() == (7.0, 0)
            assert conn.execute(select(t.questions.c.first_in_group)).scalar() == 1
        assert summary(store, "alver", DAY, DAY)["service_standard"] == {"chat": {"handled": 1, "within_promise": 0}}
    finally:
        store.dispose()

"""Assistant actions without servers: authority matching, related pages, not-found limit,
session start, feedback storage."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import profile
from actions.knowledge import ActionAnswerQuestion, answer_payload, related_pages
from actions.service import matching_authority
from actions.session import ActionSessionStart
from bot.knowledge.search import Hit
from bot.service.municipalities import registry


def tracker(slots: dict | None = None, text: str = "", intent: str = "faq", metadata: dict | None = None) -> Tracker:
    return Tracker("t1", slots or {}, {"text": text, "intent": {"name": intent}, "entities": [],
                                       "metadata": metadata or {}}, [], False, None, {}, "action_listen")


@pytest.mark.parametrize("text,key", [
    ("korleis endrar eg adressa mi?", "skatteetaten"),
    ("hvordan får jeg skattekortet mitt", "skatteetaten"),
    ("eg vil søkje om uføretrygd", "nav"),
    ("hvor fornyer jeg førerkortet?", "vegvesen"),
    ("kvar søkjer eg om pass?", None),
])
def test_other_authority_is_matched_from_the_profile(text, key):
    found = matching_authority(text, profile(tracker()).other_authorities)
    assert (found.key if found else None) == key


def hit(page: str, score: float, lang: str = "nn") -> Hit:
    return Hit(url=f"https://x/{page}", title=page.title(), heading="", lang=lang, score=score, text="...",
               page_id=page)


def test_related_pages_are_other_pages_above_the_threshold_at_most_two():
    hits = [hit("a", 0.99), hit("a", 0.95), hit("b", 0.9), hit("c", 0.5), hit("d", 0.85), hit("e", 0.84)]
    assert [p["title"] for p in related_pages(hits, hits[0], threshold=0.8)] == ["B", "D"]


def test_answer_payload_follows_the_contract():
    payload = answer_payload(hit("a", 0.9, lang="nb"), "nn", [{"title": "B", "url": "https://x/b"}])
    assert set(payload) == {"data"}
    data = payload["data"]
    assert data["type"] == "answer" and data["lang"] == "nb" and data["machine_converted"] is False
    assert data["related"] == [{"title": "B", "url": "https://x/b"}]


@pytest.mark.parametrize("before,after,response", [
    (None, "not_found", "utter_not_found_rephrase"),
    ("found", "not_found", "utter_not_found_rephrase"),
    ("not_found", "not_found_again", "utter_not_found"),
    ("not_found_again", "not_found_again", "utter_not_found"),
])
def test_rephrase_is_asked_once_then_the_miss_is_final(before, after, response):
    dispatcher = CollectingDispatcher()
    events = ActionAnswerQuestion.not_found(dispatcher, tracker({"search_result": before}))
    assert {"event": "slot", "name": "search_result", "value": after, "timestamp": None} in events
    assert [m["response"] for m in dispatcher.messages] == [response]


def test_session_start_sets_the_default_language_and_keeps_a_known_one(tmp_path, monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setattr("actions.handoff._stores", {})
    domain = {"session_config": {"carry_over_slots_to_new_session": True}}
    fresh = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker({}), domain))
    default = registry().default
    assert {"event": "slot", "name": "language", "value": default.default_language, "timestamp": None} in fresh
    assert {"event": "slot", "name": "municipality", "value": default.slug, "timestamp": None} in fresh
    assert fresh[0]["event"] == "session_started" and fresh[-1]["name"] == "action_listen"
    kept = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker({"language": "nb"}), domain))
    assert [e["value"] for e in kept if e.get("name") == "language"] == ["nb"]


def test_feedback_is_stored_redacted(tmp_path, monkeypatch):
    """Feedback goes to the insight store (bot.insight): the question behind a "no" only
    redacted, the page's feedback counted."""
    from sqlalchemy import select

    from actions.feedback import ActionRecordFeedback
    from bot.insight import schema
    from bot.insight.store import InsightStore

    monkeypatch.setenv("KOMMUNEBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setattr("bot.insight.grouping.schedule", lambda: None)  # no embedding model here
    slots = {"answer_question": "ring 912 34 567 om sfo", "answer_url": "https://x/sfo", "language": "nb"}
    asyncio.run(ActionRecordFeedback().run(CollectingDispatcher(), tracker(slots, "nei", "feedback_negative"), {}))
    asyncio.run(ActionRecordFeedback().run(CollectingDispatcher(), tracker(slots, "ja", "feedback_positive"), {}))
    store = InsightStore.open(f"sqlite:///{tmp_path / 'a.db'}")
    with store.engine.connect() as conn:
        stored = conn.execute(select(schema.questions.c.text, schema.questions.c.kind)).all()
        page = conn.execute(select(schema.pages.c.feedback_positive, schema.pages.c.feedback_negative)).one()
    assert [tuple(r) for r in stored] == [("ring [telefon] om sfo", "negative")]
    assert tuple(page) == (1, 1)


def test_session_start_takes_the_municipality_from_the_channels_metadata(tmp_path, monkeypatch):
    """The slug the channel put on the first message (Rasa's session_started_metadata) wins
    over the one carried over; the start standard is that municipality's."""
    from tests.test_municipalities import ALVER, bokmal_profile, write_profiles

    folder = write_profiles(tmp_path / "m", alver=ALVER, testby=bokmal_profile())
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITIES_DIR", str(folder))
    monkeypatch.setenv("KOMMUNEBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setattr("actions.handoff._stores", {})
    domain = {"session_config": {"carry_over_slots_to_new_session": True}}
    started = tracker({"municipality": "alver", "session_started_metadata": {"municipality": "testby"}})
    events = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), started, domain))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["municipality"] == "testby" and slots["language"] == "nb"
    assert profile(tracker({"municipality": "testby"})).name == "Testby kommune"
    assert profile(tracker(metadata={"municipality": "testby"})).slug == "testby"
    assert profile(tracker({"municipality": "gone"})).slug == "alver"   # a removed profile: the default

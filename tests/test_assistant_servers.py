"""End-to-end conversations over HTTP with the real Rasa and action servers (REST channel).

Every citizen question of tests/data/conversation_questions.yml must be answered with its
fact AND in the citizen's written standard; off-topic text and gibberish are never
answered as facts; the same question gets its answer in the standard it was asked in;
the rephrase limit, feedback storage, the SQL tracker store and the apology when the
action server is down are checked on the live servers.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
import yaml

from bot.config import ROOT
from bot.language import detect
from bot.service.profile import load_profile

pytestmark = pytest.mark.servers

QUESTIONS = yaml.safe_load((ROOT / "tests" / "data" / "conversation_questions.yml").read_text(encoding="utf-8"))[
    "questions"]


URL = re.compile(r"https?://\S+")


def prose(text: str) -> str:
    """The text without web addresses (their slugs are in the municipality's standard)."""
    return URL.sub(" ", text)


def bot_language(servers, replies) -> str | None:
    """The standard the bot answered in: the answer payload's, else the detector's."""
    answers = servers.payloads(replies, "answer")
    if answers:
        return answers[0]["lang"]
    return detect(prose(servers.text(replies))).lang


# The floor: at least 40 questions in each standard answered with the right fact
# in the right standard. Misses are printed so a drop can be read, not just counted.
MIN_RIGHT_PER_STANDARD = 40


def answer_languages(servers, replies) -> set:
    """The standards the answer reads as (payload and text), without 'no evidence'."""
    return {bot_language(servers, replies), detect(prose(servers.text(replies))).lang} - {None}


def test_citizen_questions_get_the_fact_in_the_citizens_standard(servers):
    report, right, wrong_standard = [], {"nn": 0, "nb": 0}, []
    for q in QUESTIONS:
        replies = servers.send(q["text"])
        text = servers.text(replies)
        langs = answer_languages(servers, replies)
        asked_in = detect(q["text"]).lang
        if asked_in and langs - {asked_in}:
            # Answering a question that reads as Nynorsk in Bokmål (or back) is a bug.
            wrong_standard.append(f"  {q['text']!r} reads as {asked_in}, answered {sorted(langs)}: {text[:160]!r}")
        if not re.search(q["expect"], text, re.IGNORECASE):
            report.append(f"  {q['lang']} {q['text']!r}: no /{q['expect']}/ (page {q['page']}) in {text[:160]!r}")
        elif langs - {q["lang"]}:
            report.append(f"  {q['lang']} {q['text']!r}: answered in {sorted(langs)}")
        else:
            right[q["lang"]] += 1
    totals = {lang: sum(q["lang"] == lang for q in QUESTIONS) for lang in right}
    summary = "\n".join([f"right: nn {right['nn']}/{totals['nn']}, nb {right['nb']}/{totals['nb']}"] + report)
    print(summary)
    assert not wrong_standard, "\n".join(["answered in the other standard:"] + wrong_standard)
    assert min(right.values()) >= MIN_RIGHT_PER_STANDARD, summary


SAME_QUESTION = [
    ("Hva er søknadsfristen for barnehageplass?", "nb", "1\\. mars"),
    ("Kva er søknadsfristen for barnehageplass?", "nn", "1\\. mars"),
    ("Hvor mye søskenmoderasjon får jeg på SFO?", "nb", "30"),
    ("Kor mykje søskenmoderasjon får eg på SFO?", "nn", "30"),
    ("Må jeg søke for å bygge en bod på 20 kvadratmeter?", "nb", "50"),
    ("Må eg søkje for å byggje ein bod på 20 kvadratmeter?", "nn", "50"),
]


@pytest.mark.parametrize("text,lang,expect", SAME_QUESTION)
def test_same_question_is_answered_in_the_standard_it_was_asked_in(servers, text, lang, expect):
    replies = servers.send(text)
    answers = servers.payloads(replies, "answer")
    assert answers, f"no answer to {text!r}: {servers.text(replies)}"
    assert answers[0]["lang"] == lang
    assert re.search(expect, servers.text(replies))
    assert detect(prose(servers.text(replies))).lang == lang
    feedback = servers.payloads(replies, "feedback")
    assert feedback and feedback[0]["lang"] == lang
    question = "Fekk du svar?" if lang == "nn" else "Fikk du svar?"
    ask = [r for r in replies if r.get("text") == question]
    assert ask and [b["payload"] for b in ask[0]["buttons"]] == ["/feedback_positive", "/feedback_negative"]


OFF_TOPIC = [
    "kva blir vêret i morgon?", "hvem vant fotballkampen i går?", "fortell meg en vits",
    "har du ei oppskrift på lapskaus?", "spel ein song av a-ha", "asdfghjkl", "qwertyuiop zxcvb",
    "jjjjjjjjjjjj", "🙂🙂🙂", "lorem ipsum dolor sit amet", "hvem er norges beste fotballspiller?",
    "kan du anbefale en god film?",
]


@pytest.mark.parametrize("text", OFF_TOPIC)
def test_off_topic_and_gibberish_are_never_answered_as_facts(servers, text):
    replies = servers.send(text)
    assert replies, "the bot must answer something"
    assert not servers.payloads(replies, "answer"), f"{text!r} was answered as a fact: {servers.text(replies)}"
    assert "Les meir" not in servers.text(replies) and "Les mer" not in servers.text(replies)


def test_language_starts_at_the_default_and_follows_the_citizen(servers):
    sender = servers.new_sender()
    default = load_profile().default_language
    greeting = servers.text(servers.send("hei", sender))
    assert detect(greeting).lang == default
    nb = servers.text(servers.send("hei, jeg lurer på noe", sender))
    assert detect(nb).lang == "nb"
    kept = servers.text(servers.send("takk", sender))  # no evidence: the standard stays nb
    assert detect(kept).lang in ("nb", None) and "Bare hyggelig" in kept


def test_not_found_asks_for_a_rephrase_once_then_offers_a_person(servers):
    sender = servers.new_sender()
    first = servers.text(servers.send("korleis søkjer eg om løyve til å ha ein kamel i hagen?", sender))
    assert "på ein annan måte" in first
    second = servers.send("kan eg halde kamel på tomta mi?", sender)
    assert "heller ikkje" in servers.text(second)
    actions = [e.get("name") for e in servers.tracker(sender)["events"] if e.get("event") == "action"]
    assert actions.count("action_answer_question") == 2
    assert "action_offer_handoff" in actions[actions.index("action_answer_question"):]
    assert len(second) > 1, "the offer of a person must follow the not-found message"


def test_feedback_is_stored_without_personal_data(servers):
    sender = servers.new_sender()
    replies = servers.send("Ring meg på 912 34 567: når er fristen for å søkje barnehageplass?", sender)
    assert servers.payloads(replies, "answer")
    thanks = servers.text(servers.send("/feedback_negative", sender))
    assert "Takk for at du sa frå" in thanks
    with sqlite3.connect(servers.var_dir / "kommunebot.db") as db:  # bot.insight's tables
        rows = db.execute("SELECT kind, lang, text, url FROM insight_questions").fetchall()
        pages = db.execute("SELECT url, feedback_negative FROM insight_pages WHERE feedback_negative > 0").fetchall()
    mine = [r for r in rows if r[2] and "barnehageplass" in r[2]]
    assert mine and mine[-1][0] == "negative" and mine[-1][1] == "nn"
    assert "912" not in mine[-1][2] and "[telefon]" in mine[-1][2]
    assert mine[-1][3].startswith("http") and mine[-1][3] in [url for url, _ in pages]


def test_open_now_says_the_time_and_the_next_opening(servers):
    servers.set_clock("2026-11-28T20:15:00+01:00")  # Saturday evening
    try:
        text = servers.text(servers.send("er de opne no?"))
    finally:
        servers.set_clock("2026-11-24T10:00:00+01:00")
    assert "20.15" in text and "stengd" in text and "måndag" in text


def test_other_authority_gets_the_way_there(servers):
    text = servers.text(servers.send("korleis endrar eg adressa mi?"))
    assert "Skatteetaten" in text and "skatteetaten.no" in text


def test_conversations_are_kept_in_the_sql_tracker_store(servers):
    sender = servers.new_sender()
    servers.send("hei", sender)
    with sqlite3.connect(servers.var_dir / "rasa-tracker.db") as db:
        count = db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0]
    assert count > 0


def test_action_server_down_gives_an_apology_with_the_phone_number(tmp_path):
    """A Rasa server whose action server is not running still answers (never [])."""
    from tests.conftest import start_stack

    stack, _ = start_stack(tmp_path, names=["rasa"])
    try:
        import httpx

        phone = load_profile().contact.phone
        for text, lang in (("Når er fristen for å søke barnehageplass?", "nb"),
                           ("Kva tid opnar de?", "nn")):
            response = httpx.post(f"{stack.config.rasa_url}/webhooks/rest/webhook",
                                  json={"sender": f"down-{lang}", "message": text}, timeout=120)
            replies = response.json()
            text_out = "\n".join(r.get("text", "") for r in replies)
            assert phone in text_out, f"no apology with the phone number: {replies}"
            assert detect(prose(text_out)).lang == lang
    finally:
        stack.stop()

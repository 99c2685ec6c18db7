"""Insight end to end: real conversations through the real servers (REST and the widget's
socket.io, Rasa, the action server, the staff portal), then `kommunebot stats` must count
every one of them right.

The servers' clock is set to a day no other test uses (Wednesday 10 March 2027), so the
day's numbers are exactly this module's conversations. Message and conversation counts
come from the Rasa process (bot.insight.broker), answers, handoffs and feedback from the
actions, first staff replies from the portal; the expected numbers come from the
scenario, and the NLU-dependent ones are cross-checked against Rasa's own trackers.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from conftest import SERVERS_DEFAULT_NOW
from handoff_clients import Citizen, Staff, add_staff

from bot.config import ROOT

pytestmark = pytest.mark.servers

DAY = "2027-03-10"
AT_10 = f"{DAY}T10:00:00+01:00"
USER, PASSWORD = "per.innsikt", "per-passord-2027"
KAMEL = ["kan eg ha kamel i hagen?", "kan eg halde kamel i hagen?", "kan eg ha ein kamel i hagen min?",
         "kan jeg ha kamel i hagen min?"]


def stats(env: dict[str, str], *args: str) -> dict:
    run = subprocess.run([str(ROOT / "bin" / "kommunebot"), "stats", "--from", DAY, "--to", DAY, "--json", *args],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def settled(env: dict[str, str], ready, timeout: float = 60.0) -> dict:
    """stats once the Rasa process's counting thread and the grouping thread have caught
    up (`ready(result)` true), else the last result (the assertions then show the diff)."""
    deadline = time.monotonic() + timeout
    while True:
        result = stats(env)
        if ready(result) or time.monotonic() > deadline:
            return result
        time.sleep(1.0)


def user_intents(tracker: dict) -> list[str]:
    return [e["parse_data"]["intent"]["name"] for e in tracker["events"] if e.get("event") == "user"]


def actions(tracker: dict) -> list[str]:
    return [e["name"] for e in tracker["events"] if e.get("event") == "action"]


@pytest.fixture(scope="module")
def day(servers):
    add_staff(servers.env, USER, PASSWORD)
    servers.set_clock(AT_10)
    yield
    servers.set_clock(SERVERS_DEFAULT_NOW)


def test_stats_count_every_conversation_of_the_day(servers, day):
    rest: dict[str, str] = {}  # name -> sender id

    def talk(name: str, *texts: str) -> list[list[dict]]:
        rest.setdefault(name, servers.new_sender())
        return [servers.send(text, rest[name]) for text in texts]

    # 1. Nynorsk answer, "yes" it helped: self-served.
    (answer, thanks) = talk("nn_yes", "Når er fristen for å søkje barnehageplass?", "/feedback_positive")
    assert servers.payloads(answer, "answer") and "Takk" in servers.text(thanks)
    # 2. Bokmål answer, "no" it did not help: not self-served, the question kept redacted.
    (answer, sorry) = talk("nb_no", "hvor lang er fristen for andre byggesøknader? Ring meg på 912 34 567",
                           "/feedback_negative")
    assert servers.payloads(answer, "answer")[0]["lang"] == "nb"
    # 3. Not found twice, then a case (REST cannot hold a live chat): reason "not found".
    replies = talk("kamel_case", KAMEL[0], KAMEL[1])
    assert "på ein annan måte" in servers.text(replies[0])
    assert "Skriv kort kva du lurer på" in servers.text(replies[1])
    (_, created) = talk("kamel_case", "Kva tid blir det henta papir hos meg på Frekhaug?",
                        "ola.nordmann@example.no")
    found = re.search(r"\b[A-Z]{2,5}-2027-\d{6}\b", servers.text(created))
    assert found, servers.text(created)
    case_reference = found.group(0)
    # 4, 5. The same unanswerable question in two more conversations (one Bokmål): a group
    # of three conversations, so it shows an example.
    talk("kamel_2", KAMEL[2])
    talk("kamel_3", KAMEL[3])
    # 6. Own case: a person is needed; the citizen leaves the form ("avbryt").
    (own,) = talk("own_case", "/own_case")
    assert "Det må ein person hjelpe deg med" in servers.text(own)
    talk("own_case", "avbryt")
    # 7. Out of scope, 8. only a greeting: conversations without a question.
    talk("weather", "kva blir vêret i morgon?")
    talk("hello", "hei")

    # 9, 10. Two live chats in the widget (socket.io), Nynorsk and Bokmål.
    staff = Staff(servers.staff_url, USER, PASSWORD)
    live = []
    for first in ("/request_human", "jeg vil snakke med et menneske"):
        citizen = Citizen(servers.rasa_url)
        citizen.say(first)
        citizen.next()
        citizen.say("/affirm")
        live.append((citizen, citizen.until_handoff("waiting")))
    try:
        assert [w["lang"] for _, w in live] == ["nn", "nb"]
        assert all(w["expected_by"].startswith(f"{DAY}T10:05") for _, w in live)
        servers.set_clock(f"{DAY}T10:03:00+01:00")  # the first within the promised 5 minutes
        staff.post(live[0][1]["reference"], "claim")
        servers.set_clock(f"{DAY}T10:09:00+01:00")  # the second too late
        staff.post(live[1][1]["reference"], "reply", text="Hei, eg heiter Per. Korleis kan eg hjelpe?")
        servers.set_clock(f"{DAY[:-2]}11T11:00:00+01:00")  # the case answered the next day (a new login)
        next_day = Staff(servers.staff_url, USER, PASSWORD)
        next_day.post(case_reference, "claim")  # only the handler (or a lead) closes a case
        next_day.post(case_reference, "close")
        live[0][0].until_handoff("joined")
    finally:
        servers.set_clock(AT_10)
        for citizen, _ in live:
            citizen.close()

    result = settled(servers.env, lambda r: r["messages"] == 18
                     and r["service_standard"].get("email", {}).get("handled")
                     and r["unanswered"] and r["unanswered"][0]["example"])

    trackers = {name: servers.tracker(sender) for name, sender in rest.items()}
    assert user_intents(trackers["own_case"])[0] == "own_case"
    assert user_intents(trackers["weather"]) == ["out_of_scope"] and user_intents(trackers["hello"]) == ["greet"]
    assert actions(trackers["kamel_2"]).count("action_answer_question") == 1
    expected = {
        "conversations": 10,
        # REST: 2 + 2 + 4 + 1 + 1 + 2 + 1 + 1; socket.io: 2 + 2 (the staff reply is not the citizen's)
        "messages": 18,
        "answered": 2,
        "not_found": 4,
        # with a question: 1-6, 9, 10 (8); self-served: only 1
        "self_service_rate": round(1 / 8, 4),
        "handoffs": {"live": 2, "case": 1},
        "feedback": {"positive": 1, "negative": 1},
        "by_language": {"nn": 7, "nb": 3},
        "by_channel": {"rest": 8, "socketio": 2},
        "service_standard": {"chat": {"handled": 2, "within_promise": 1}, "email": {"handled": 1, "within_promise": 1}},
    }
    assert {k: result[k] for k in expected} == expected
    assert [p["count"] for p in result["top_pages"]] == [1, 1]
    assert {p["url"] for p in result["top_pages"]} == {
        e["value"] for t in (trackers["nn_yes"], trackers["nb_no"]) for e in t["events"]
        if e.get("event") == "slot" and e.get("name") == "answer_url" and e.get("value")}
    assert all(p["title"] for p in result["top_pages"])
    # Unanswered: the camel group (three conversations, four questions: one was asked twice
    # in conversation 3) first, with an example; the Bokmål "no" alone, without one.
    camel = result["unanswered"][0]
    assert camel["count"] == 4 and camel["example"] in KAMEL
    assert {"example": None, "count": 1} in result["unanswered"]
    assert sum(g["count"] for g in result["unanswered"]) == 5  # 4 not found + 1 negative feedback
    assert "912" not in json.dumps(result) and "example.no" not in json.dumps(result)

    # The readable table says the same.
    table = subprocess.run([str(ROOT / "bin" / "kommunebot"), "stats", "--from", DAY, "--to", DAY], env=servers.env,
                           capture_output=True, text=True, timeout=120).stdout
    assert "Conversations" in table and " 10" in table and "12.5 %" in table and "socketio" in table
    # The day before has none of it (dates are the municipality's days).
    assert stats(servers.env, "--from", "2027-03-09", "--to", "2027-03-09")["conversations"] == 0

    # Why people were handed over, and what is stored of the "no" answer: redacted text.
    from datetime import date

    from sqlalchemy import select

    from bot.insight import municipal, schema
    from bot.insight.stats import details
    from bot.insight.store import InsightStore

    store = InsightStore.open(servers.env["KOMMUNEBOT_DATABASE_URL"])
    more = details(store, municipal.default_slug(), date.fromisoformat(DAY), date.fromisoformat(DAY))
    assert more["handoff_reasons"] == {"not_found": {"case": 1}, "asked": {"live": 2}}
    assert more["totals"]["out_of_scope"] == 1 and more["totals"]["own_case"] == 1
    assert more["waiting"]["chat"]["median_minutes"] == 6.0  # 3 and 9 minutes
    with store.engine.connect() as conn:
        negative = select(schema.questions.c.text).where(schema.questions.c.kind == "negative")
        texts = [r[0] for r in conn.execute(negative)]
    assert any("[telefon]" in t for t in texts) and not any("912" in t for t in texts)

"""Handoff end to end with the real servers: Rasa (socket.io + HTTP API), the action
server and the staff portal, each its own process (bot.stack), SQLite databases.

- in chat hours: the citizen asks for a person over socket.io, waits in the queue, staff
  read the transcript, claim and reply in the portal, the reply reaches the citizen, and
  closing resumes the bot;
- after hours: the bot takes the question and a contact and creates a case with the
  promised answer time of the service standard;
- a restart of all three servers in the middle of a live chat loses nothing.
"""

from __future__ import annotations

import html

import pytest
from conftest import SERVERS_DEFAULT_NOW, start_stack

from bot.handoff.db import Database
from bot.handoff.store import HandoffStore
from handoff_clients import Citizen, Staff, add_staff

pytestmark = pytest.mark.servers

MONDAY_10 = "2026-11-23T10:00:00+01:00"
MONDAY_20 = "2026-11-23T20:00:00+01:00"
USER, PASSWORD = "kari.handoff", "kari-passord-2026"


@pytest.fixture(scope="module")
def staff_account(servers):
    add_staff(servers.env, USER, PASSWORD)
    yield
    servers.set_clock(SERVERS_DEFAULT_NOW)


def store(env: dict[str, str]) -> HandoffStore:
    return HandoffStore(Database(env["KOMMUNEBOT_DATABASE_URL"]))


def start_live_chat(rasa_url: str) -> tuple[Citizen, str]:
    citizen = Citizen(rasa_url)
    citizen.say("/request_human")
    offer = citizen.next()
    assert "Vil du det?" in offer["text"] and "5 minutt" in offer["text"]  # Nynorsk: Alver's default
    assert [q["payload"] for q in offer["quick_replies"]] == ["/affirm", "/deny"]
    citizen.say("/affirm")
    waiting = citizen.until_handoff("waiting")
    assert waiting["lang"] == "nn" and waiting["reference"].startswith("ALV-2026-")
    assert waiting["expected_by"].startswith("2026-11-23T10:05")
    return citizen, waiting["reference"]


def test_live_chat_in_opening_hours(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        citizen.say("Eg har fått ei faktura på vatn som eg ikkje forstår.")
        assert citizen.silent_for(3) == []  # the bot is paused: a person answers now

        staff = Staff(servers.staff_url, USER, PASSWORD)
        assert reference in staff.queue()
        page = html.unescape(staff.case(reference))
        assert "Eg har fått ei faktura på vatn som eg ikkje forstår." in page  # transcript from Rasa

        staff.post(reference, "claim")
        joined = citizen.until_handoff("joined")
        assert "har kome inn i chatten" in joined["text"]
        assert "done=sent" in staff.post(reference, "reply", text="Hei! Eg heiter Kari. Kva står det på fakturaen?")
        reply = citizen.until_handoff("staff_message")
        assert reply["text"] == "Hei! Eg heiter Kari. Kva står det på fakturaen?" and reply["lang"] == "nn"

        staff.post(reference, "close")
        ended = citizen.until_handoff("ended")
        assert "svarar chatboten igjen" in ended["text"]
        assert store(servers.env).get(reference).status == "closed"
        assert store(servers.env).pending_messages(citizen.session_id) == []

        citizen.say("/bot_challenge")  # the bot answers again
        assert "eg er ein chatbot" in citizen.next()["text"]
    finally:
        citizen.close()


def test_case_after_hours_gets_the_promised_time(servers, staff_account):
    servers.set_clock(MONDAY_20)
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("/request_human")
        closed = citizen.next()["text"]
        assert "Chatten er stengd no" in closed and "fredag 27. november" in closed
        assert "Skriv kort kva du lurer på" in citizen.next()["text"]
        citizen.say("Kva tid blir det henta papir hos meg på Frekhaug?")
        assert "e-postadressa eller telefonnummeret" in citizen.next()["text"]
        citizen.say("ring meg")
        assert "norsk telefonnummer" in citizen.next()["text"]  # re-asked kindly
        citizen.say("ola.nordmann@example.no")
        created = citizen.until_handoff("case_created")
        # Monday 20.00 counts from Tuesday: three working days -> Friday 27 November, 15.00.
        assert created["expected_by"] == "2026-11-27T15:00:00+01:00"
        assert created["reference"] in created["text"] and "fredag 27. november" in created["text"]
        assert "56 37 50 00" in created["text"] and "Servicetorget i Knarvik" in created["text"]
        case = store(servers.env).get(created["reference"])
        assert case.kind == "case" and case.status == "open" and case.channel == "socketio"
        assert case.question == "Kva tid blir det henta papir hos meg på Frekhaug?"
        assert case.contact.value == "ola.nordmann@example.no" and case.conversation_id == citizen.session_id
        assert case.promised_by.isoformat() == "2026-11-27T14:00:00+00:00"
        assert created["reference"] in Staff(servers.staff_url, USER, PASSWORD).queue()
    finally:
        citizen.close()


def test_declining_the_live_chat_leaves_a_case_answered_by_phone(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("/request_human")
        assert "Vil du det?" in citizen.next()["text"]
        citizen.say("/deny")
        intro = citizen.next()["text"]
        assert "Eg sender spørsmålet ditt vidare" in intro and "torsdag 26. november" in intro
        assert "Skriv kort kva du lurer på" in citizen.next()["text"]
        citizen.say("Eg vil klage på eit vedtak om skuleskyss.")
        assert "e-postadressa eller telefonnummeret" in citizen.next()["text"]
        citizen.say("Ring meg på 912 34 567")
        created = citizen.until_handoff("case_created")
        assert "Vi ringjer deg på +47 912 34 567" in created["text"]
        assert created["expected_by"] == "2026-11-26T15:00:00+01:00"  # in hours: three working days from today
        case = store(servers.env).get(created["reference"])
        assert case.contact.kind == "phone" and case.contact.value == "+4791234567"
        assert store(servers.env).active_live_chat(citizen.session_id) is None  # no live chat was queued
    finally:
        citizen.close()


def test_restart_in_the_middle_of_a_live_chat_loses_nothing(tmp_path_factory):
    stack, clock_file = start_stack(tmp_path_factory.mktemp("handoff_restart"))
    try:
        clock_file.write_text(MONDAY_10, encoding="utf-8")
        add_staff(stack.env, USER, PASSWORD)
        rasa_url, staff_url = stack.config.rasa_url, stack.config.staff_url
        citizen, reference = start_live_chat(rasa_url)
        session_id = citizen.session_id
        citizen.say("Kan de sjekke kvifor søknaden min om barnehageplass ikkje er svart på?")
        assert citizen.silent_for(2) == []
        staff = Staff(staff_url, USER, PASSWORD)
        staff.post(reference, "claim")
        citizen.until_handoff("joined")
        citizen.close()

        stack.stop(["rasa", "actions"])
        # Rasa is down: the reply is stored and waits for delivery.
        assert "done=stored" in staff.post(reference, "reply", text="Eg ser på søknaden din no.")
        stack.stop(["staff"])
        stack.start(["actions", "rasa", "staff"])

        citizen = Citizen(rasa_url, session_id)  # the widget reconnects with its session
        assert citizen.session_id == session_id
        reply = citizen.until_handoff("staff_message", timeout=90)  # the portal's retry delivers it
        assert reply["text"] == "Eg ser på søknaden din no."
        citizen.say("Takk, eg ventar.")
        assert citizen.silent_for(3) == []  # still with a person: the pause survived the restart
        staff = Staff(staff_url, USER, PASSWORD)
        page = html.unescape(staff.case(reference))
        assert "søknaden min om barnehageplass" in page and "Takk, eg ventar." in page
        assert store(stack.env).get(reference).status == "claimed"
        staff.post(reference, "close")
        citizen.until_handoff("ended")
        citizen.say("/bot_challenge")
        assert "eg er ein chatbot" in citizen.next()["text"]
        citizen.close()
    finally:
        stack.stop()

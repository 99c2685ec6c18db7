"""Handoff end to end with the real servers: Rasa (socket.io + HTTP API), the action
server and the staff portal, each its own process; SQLite databases in a temp folder.

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

from bot.handoff.db import Database
from bot.handoff.store import HandoffStore
from handoff_stack import MODEL, Citizen, HandoffStack, Staff

pytestmark = pytest.mark.servers

MONDAY_10 = "2026-11-23T10:00:00+01:00"
MONDAY_20 = "2026-11-23T20:00:00+01:00"
PASSWORD = "kari-passord-2026"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    s = HandoffStack(tmp_path_factory.mktemp("handoff_stack"), MONDAY_10)
    s.add_staff("kari", PASSWORD)
    s.start()
    yield s
    s.stop()


def store(stack: HandoffStack) -> HandoffStore:
    return HandoffStore(Database(stack.db_url))


def start_live_chat(stack: HandoffStack) -> tuple[Citizen, str]:
    citizen = Citizen(stack.rasa_url)
    citizen.say("/request_human")
    offer = citizen.next()
    assert "Vil du det?" in offer["text"] and "5 minutt" in offer["text"]  # Nynorsk: Alver's default
    assert [q["payload"] for q in offer["quick_replies"]] == ["/affirm", "/deny"]
    citizen.say("/affirm")
    waiting = citizen.until_handoff("waiting")
    assert waiting["lang"] == "nn" and waiting["reference"].startswith("ALV-2026-")
    assert waiting["expected_by"].startswith("2026-11-23T10:05")
    return citizen, waiting["reference"]


def test_live_chat_in_opening_hours(stack):
    stack.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(stack)
    try:
        citizen.say("Eg har fått ei faktura på vatn som eg ikkje forstår.")
        assert citizen.silent_for(3) == []  # the bot is paused: a person answers now

        staff = Staff(stack.portal_url, "kari", PASSWORD)
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
        assert store(stack).get(reference).status == "closed"
        assert store(stack).pending_messages(citizen.session_id) == []

        citizen.say("/greet")  # the bot answers again
        assert "chatboten til Alver kommune" in citizen.next()["text"]
    finally:
        citizen.close()


def test_case_after_hours_gets_the_promised_time(stack):
    stack.set_clock(MONDAY_20)
    citizen = Citizen(stack.rasa_url)
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
        case = store(stack).get(created["reference"])
        assert case.kind == "case" and case.status == "open" and case.channel == "socketio"
        assert case.question == "Kva tid blir det henta papir hos meg på Frekhaug?"
        assert case.contact.value == "ola.nordmann@example.no" and case.conversation_id == citizen.session_id
        assert case.promised_by.isoformat() == "2026-11-27T14:00:00+00:00"
        staff = Staff(stack.portal_url, "kari", PASSWORD)
        assert created["reference"] in staff.queue()
    finally:
        citizen.close()


def test_restart_in_the_middle_of_a_live_chat_loses_nothing(stack):
    stack.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(stack)
    session_id = citizen.session_id
    citizen.say("Kan de sjekke kvifor søknaden min om barnehageplass ikkje er svart på?")
    assert citizen.silent_for(2) == []
    staff = Staff(stack.portal_url, "kari", PASSWORD)
    staff.post(reference, "claim")
    citizen.until_handoff("joined")
    citizen.close()

    stack.stop(("rasa", "actions"))
    # Rasa is down: the reply is stored and waits.
    assert "done=stored" in staff.post(reference, "reply", text="Eg ser på søknaden din no.")
    stack.stop(("portal",))
    stack.start(("actions", "rasa", "portal"))

    citizen = Citizen(stack.rasa_url, session_id)  # the widget reconnects with its session
    try:
        assert citizen.session_id == session_id
        reply = citizen.until_handoff("staff_message", timeout=60)  # the portal's retry delivers it
        assert reply["text"] == "Eg ser på søknaden din no."
        citizen.say("Takk, eg ventar.")
        assert citizen.silent_for(3) == []  # still with a person: the pause survived the restart
        staff = Staff(stack.portal_url, "kari", PASSWORD)  # sessions survive too, but log in anew
        page = html.unescape(staff.case(reference))
        assert "søknaden min om barnehageplass" in page and "Takk, eg ventar." in page
        assert store(stack).get(reference).status == "claimed"
        staff.post(reference, "close")
        citizen.until_handoff("ended")
        citizen.say("/greet")
        assert "chatboten til Alver kommune" in citizen.next()["text"]
    finally:
        citizen.close()

"""Handoff end to end with the real servers: Rasa (socket.io + HTTP API), the action
server and the staff portal, each its own process (bot.stack), SQLite databases, and a
real SMTP server for e-mail. The citizen is a socket.io client that behaves like the
widget (it confirms what it shows); staff use the portal's forms and its JSON API.

Numbers in the test names are the problems of issue 12 they cover (the browser tests in
test_handoff_browser.py cover them again through the real pages).
"""

from __future__ import annotations

import html
import re
import threading
import time

import httpx
import pytest
from conftest import SERVERS_DEFAULT_NOW, start_stack
from handoff_clients import Citizen, Staff, StaffAPI, add_staff, staff_token
from sqlalchemy import update

from bot.handoff.db import Database
from bot.handoff.models import StaffUser
from bot.handoff.store import HandoffStore

pytestmark = pytest.mark.servers

MONDAY_10 = "2026-11-23T10:00:00+01:00"
MONDAY_20 = "2026-11-23T20:00:00+01:00"
FRIDAY_1440 = "2026-11-27T14:40:00+01:00"
FRIDAY_1450 = "2026-11-27T14:50:00+01:00"
FRIDAY_1500 = "2026-11-27T15:00:30+01:00"
MONDAY_0905 = "2026-11-30T09:05:00+01:00"
USER, OTHER, LEAD, PASSWORD = "kari.handoff", "ola.handoff", "leiar.handoff", "kari-passord-2026"
PROMISES = ("Ein person svarar deg innan", "Du må truleg vente", "Du får truleg svar innan")


@pytest.fixture(scope="module")
def staff_account(servers):
    add_staff(servers.env, USER, PASSWORD)
    add_staff(servers.env, OTHER, PASSWORD)
    add_staff(servers.env, LEAD, PASSWORD, role="lead")
    nobody_on_duty(servers.env)
    yield
    servers.set_clock(SERVERS_DEFAULT_NOW)


def store(env: dict[str, str]) -> HandoffStore:
    return HandoffStore(Database(env["KOMMUNEBOT_DATABASE_URL"]))


def nobody_on_duty(env: dict[str, str]) -> None:
    """Employees of earlier test modules on the shared servers (the browser tests) count as
    on duty for 75 s after their pages close, which turns the promise of the service
    standard into an estimate; these tests start from a desk with nobody on duty."""
    with Database(env["KOMMUNEBOT_DATABASE_URL"]).session() as s:
        s.execute(update(StaffUser).values(last_seen_at=None))
        s.commit()


def eventually(check, timeout: float = 20.0, every: float = 0.25):
    """Call `check` until it returns something true; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"not true within {timeout} s"
            return value
        time.sleep(every)


def start_live_chat(rasa_url: str, ack: bool = True) -> tuple[Citizen, str]:
    citizen = Citizen(rasa_url, ack=ack)
    citizen.say("/request_human")
    offer = citizen.next()
    assert "Vil du det?" in offer["text"] and "5 minutt" in offer["text"]  # Nynorsk: Alver's default
    assert [q["payload"] for q in offer["quick_replies"]] == ["/affirm", "/deny"]
    citizen.say("/affirm")
    waiting = citizen.until_handoff("waiting")
    assert waiting["lang"] == "nn" and waiting["reference"].startswith("ALV-2026-")
    return citizen, waiting["reference"]


def test_live_chat_in_opening_hours_with_confirmed_delivery(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        citizen.say("Eg har fått ei faktura på vatn som eg ikkje forstår.")
        staff = Staff(servers.staff_url, USER, PASSWORD)
        assert reference in staff.queue()
        page = html.unescape(staff.case(reference))
        assert "Eg har fått ei faktura på vatn som eg ikkje forstår." in page  # transcript from Rasa

        staff.post(reference, "claim")
        joined = citizen.until_handoff("joined")
        assert "har kome inn i chatten" in joined["text"] and isinstance(joined["id"], int)
        assert "done=sent" in staff.post(reference, "reply", text="Hei! Eg heiter Kari. Kva står det på fakturaen?")
        reply = citizen.until_handoff("staff_message")
        assert reply["text"] == "Hei! Eg heiter Kari. Kva står det på fakturaen?" and reply["lang"] == "nn"
        api = staff.api()
        assert api.wait_for_state(reference, reply["id"], ("seen",)) == "seen"  # the browser confirmed it

        staff.post(reference, "close")
        ended = citizen.until_handoff("ended")
        assert "svarar chatboten igjen" in ended["text"]
        assert store(servers.env).get(reference).status == "closed"
        assert store(servers.env).unsent(citizen.session_id) == []

        citizen.say("/bot_challenge")  # the bot answers again
        assert "eg er ein chatbot" in citizen.next()["text"]
    finally:
        citizen.close()


def test_1_a_reply_sent_while_the_citizen_is_away_arrives_when_they_come_back(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        api = Staff(servers.staff_url, USER, PASSWORD).api()
        assert api.post(f"/chats/{reference}/claim").status_code == 200
        citizen.until_handoff("joined")
        citizen.close()  # navigates away, or the network drops
        eventually(lambda: api.get(f"/chats/{reference}").json()["citizen"]["away_since"])

        sent = api.post(f"/chats/{reference}/messages", {"text": "Er du der framleis?"})
        assert sent.status_code == 201
        message_id = sent.json()["id"]
        time.sleep(2)
        state = next(m["status"] for m in api.messages(reference) if m["id"] == message_id)
        assert state == "sent"  # handed to the chat, but nobody confirmed it: not "delivered"

        citizen.reconnect()  # back on the page (reload, or online again): the same conversation
        again = citizen.until_handoff("staff_message", timeout=20)
        assert again["text"] == "Er du der framleis?" and again["id"] == message_id
        assert api.wait_for_state(reference, message_id, ("seen",)) == "seen"
        assert api.get(f"/chats/{reference}").json()["citizen"]["connected"] is True
        citizen.say("Ja, eg er her.")
        assert citizen.silent_for(2) == []
        api.post(f"/chats/{reference}/close")
    finally:
        citizen.close()


def test_1_a_citizen_who_leaves_ends_the_chat_and_a_written_contact_makes_it_a_case(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    gone, gone_ref = start_live_chat(servers.rasa_url)
    try:
        citizen.say("Ring meg heller på 912 34 567, eg må snart gå.")
        api = Staff(servers.staff_url, USER, PASSWORD).api()
        api.post(f"/chats/{reference}/claim")
        citizen.until_handoff("joined")
        citizen.close()
        gone.close()  # this one never wrote a phone number or e-mail address
        eventually(lambda: api.get(f"/chats/{reference}").json()["citizen"]["away_since"])
        late = api.post(f"/chats/{reference}/messages", {"text": "Hallo?"}).json()["id"]

        servers.set_clock("2026-11-23T10:04:00+01:00")  # more than citizen_gone_after (3 minutes)
        case = eventually(lambda: (lambda c: c if c.kind == "case" else None)(store(servers.env).get(reference)))
        assert case.origin == "live" and case.status == "claimed" and case.handled_by == USER
        assert case.contact.value == "+4791234567" and case.citizen_left_at is not None
        detail = api.get(f"/chats/{reference}").json()
        assert detail["citizen"]["left_at"] and detail["contacts"] == ["+47 912 34 567"]
        assert next(m["status"] for m in detail["messages"] if m["id"] == late) == "undelivered"
        closed = eventually(lambda: (lambda c: c if c.status == "closed" else None)(store(servers.env).get(gone_ref)))
        assert closed.end_reason == "left" and closed.kind == "live"
        assert gone_ref not in [c["ref"] for c in api.get("/queue").json()["chats"]]

        citizen.reconnect()  # the citizen comes back later and learns what happened
        told = citizen.until_handoff("case_created", timeout=20)
        assert told["reference"] == reference and "du var borte ei stund" in told["text"]
        assert "+47 912 34 567" in told["text"]
    finally:
        citizen.close()
        servers.set_clock(MONDAY_10)


def test_2_the_citizen_leaves_the_queue_in_words_in_both_standards(servers, staff_account):
    servers.set_clock(MONDAY_10)
    api = Staff(servers.staff_url, USER, PASSWORD).api()
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        citizen.say("eg vil ikkje vente lenger, ha det")
        left = citizen.until_handoff("ended", timeout=30)
        assert left["text"].startswith("Greitt, du er ute av køen") and left["lang"] == "nn"
        item = store(servers.env).get(reference)
        assert item.status == "closed" and item.end_reason == "citizen"
        assert reference not in [c["ref"] for c in api.get("/queue").json()["chats"]]
        citizen.say("/bot_challenge")  # the bot is back
        assert "eg er ein chatbot" in citizen.next()["text"]
    finally:
        citizen.close()

    bokmal = Citizen(servers.rasa_url)
    try:
        bokmal.say("Kan jeg få snakke med et menneske?")
        offer = bokmal.next()
        assert "Vil du det?" in offer["text"] and "nå" in offer["text"]
        bokmal.say("/affirm")
        waiting = bokmal.until_handoff("waiting")
        assert waiting["lang"] == "nb" and "Du står nå i kø" in waiting["text"]
        bokmal.say("avbryt")
        left = bokmal.until_handoff("ended", timeout=30)
        assert left["text"].startswith("Greit, du er ute av køen") and left["lang"] == "nb"
        assert store(servers.env).get(waiting["reference"]).end_reason == "citizen"
    finally:
        bokmal.close()


def test_3_near_closing_the_queue_takes_no_chat_and_offers_a_written_answer(servers, staff_account):
    servers.set_clock(FRIDAY_1450)  # chat closes 15.00; the queue stops 15 minutes before
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("/request_human")
        intro = citizen.next()["text"]
        assert "Chatten stengjer kl. 15.00" in intro and "Vil du det?" not in intro
        assert "onsdag 2. desember" in intro  # three working days from Friday: a written promise
        assert "Skriv kort kva du lurer på" in citizen.next()["text"]
        assert store(servers.env).active_live_chat(citizen.session_id) is None
    finally:
        citizen.close()
        servers.set_clock(MONDAY_10)


def test_3_waiting_chats_at_closing_are_offered_a_case_and_nobody_waits_across_it(servers, staff_account):
    servers.set_clock(FRIDAY_1440)
    leaves_email, first = start_live_chat(servers.rasa_url)
    comes_back, second = start_live_chat(servers.rasa_url)
    try:
        servers.set_clock(FRIDAY_1500)  # the portal ends waiting chats at closing
        offer = leaves_email.until_handoff("closing", timeout=30)
        assert "Chatten er stengd for i dag, og ingen rakk å svare deg" in offer["text"]
        # After closing on Friday, three working days count from Monday: Thursday 3 December.
        assert "måndag 30. november kl. 09.00" in offer["text"] and "torsdag 3. desember" in offer["text"]
        comes_back.until_handoff("closing", timeout=30)
        api = Staff(servers.staff_url, USER, PASSWORD).api()
        assert {first, second}.isdisjoint(c["ref"] for c in api.get("/queue").json()["chats"])

        leaves_email.say("kari.nordmann@example.no")
        created = leaves_email.until_handoff("case_created", timeout=30)
        assert created["reference"] == first  # the chat itself became the case
        assert created["expected_by"] == "2026-12-03T15:00:00+01:00" and "torsdag 3. desember" in created["text"]
        case = store(servers.env).get(first)
        assert case.kind == "case" and case.origin == "live" and case.contact.value == "kari.nordmann@example.no"
        assert first in [c["ref"] for c in api.get("/cases").json()["cases"]]

        servers.set_clock(MONDAY_0905)  # Monday morning: the other citizen writes again
        comes_back.say("Hallo? Er det nokon der?")
        answer = comes_back.next(timeout=30)
        assert "kan chatte med deg no" in answer["text"] and "Vil du det?" in answer["text"]  # not silence
        comes_back.say("/affirm")
        assert comes_back.until_handoff("waiting")["reference"] != second  # a new place in today's queue
    finally:
        leaves_email.close()
        comes_back.close()
        servers.set_clock(MONDAY_10)


def test_4_claims_hold_one_wins_the_race_and_only_the_handler_or_a_lead_acts(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        kari, ola = Staff(servers.staff_url, USER, PASSWORD), Staff(servers.staff_url, OTHER, PASSWORD)
        lead = StaffAPI(servers.staff_url, token=staff_token(servers.env, LEAD))
        apis = [kari.api(), ola.api(), StaffAPI(servers.staff_url, token=staff_token(servers.env, USER)),
                StaffAPI(servers.staff_url, token=staff_token(servers.env, OTHER))] * 3
        results: list[httpx.Response] = []
        barrier = threading.Barrier(len(apis))

        def claim(api: StaffAPI) -> None:
            barrier.wait()
            results.append(api.post(f"/chats/{reference}/claim"))

        threads = [threading.Thread(target=claim, args=(api,)) for api in apis]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winner = store(servers.env).get(reference).handled_by
        assert winner in (USER, OTHER)
        wins = [r for r in results if r.status_code == 200]
        assert all(r.json() == {"ref": reference, "handler": winner} for r in wins)
        refused = [r for r in results if r.status_code == 409]
        assert len(wins) + len(refused) == len(apis) and refused
        assert all(r.json()["handler"] == winner and winner in r.json()["error"] for r in refused)
        assert [m.kind for m in store(servers.env).messages(reference)].count("joined") == 1
        citizen.until_handoff("joined")

        handler, other = (kari, ola) if winner == USER else (ola, kari)
        other_name = OTHER if winner == USER else USER
        # The other employee's older copy of the page: "Ta chatten" is refused and says who has it.
        back = other.post(reference, "claim")
        assert back.endswith("?error=claimed")
        assert f"{winner} har alt teke chatten" in html.unescape(other.client.get(back).text)
        refused_write = other.api().post(f"/chats/{reference}/messages", {"text": "Hei frå meg òg"})
        assert refused_write.status_code == 403 and refused_write.json()["handler"] == winner
        assert other.api().post(f"/chats/{reference}/close").status_code == 403

        moved = handler.api().post(f"/chats/{reference}/transfer", {"to": other_name})
        assert moved.status_code == 200 and moved.json()["handler"] == other_name
        assert "teke over chatten" in citizen.until_handoff("joined")["text"]
        assert other.api().post(f"/chats/{reference}/messages", {"text": "Eg tek over no."}).status_code == 201
        assert citizen.until_handoff("staff_message")["text"] == "Eg tek over no."
        assert handler.api().post(f"/chats/{reference}/messages", {"text": "Eg òg"}).status_code == 403

        assert lead.post(f"/chats/{reference}/close").json() == {"ref": reference, "status": "closed"}
        citizen.until_handoff("ended")
    finally:
        citizen.close()


def test_5_a_phone_number_written_in_the_chat_is_shown_to_the_handler_and_stored_redacted(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        citizen.say("Ring meg på 912 34 567 eller skriv til ola.nordmann@example.no")
        staff = Staff(servers.staff_url, USER, PASSWORD)
        api = staff.api()
        detail = eventually(lambda: (lambda d: d if len(d["contacts"]) == 2 else None)(
            api.get(f"/chats/{reference}").json()))
        assert detail["contacts"] == ["+47 912 34 567", "ola.nordmann@example.no"]
        page = staff.case(reference)
        assert 'href="tel:+4791234567"' in page and 'href="mailto:ola.nordmann@example.no"' in page
        assert "Ring meg på +47 912 34 567 eller skriv til ola.nordmann@example.no" in html.unescape(page)
        stored = [e.get("text") for e in servers.tracker(citizen.session_id)["events"] if e.get("event") == "user"]
        assert "Ring meg på [telefon] eller skriv til [e-post]" in stored  # the tracker store keeps it redacted
        assert not any("912 34 567" in (t or "") or "ola.nordmann" in (t or "") for t in stored)
        api.post(f"/chats/{reference}/claim")
        api.post(f"/chats/{reference}/close")
    finally:
        citizen.close()


def test_6_a_case_is_answered_by_email_through_smtp_and_the_citizen_told_it_is_closed(servers, staff_account):
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
        reference = created["reference"]
        # Monday 20.00 counts from Tuesday: three working days -> Friday 27 November, 15.00.
        assert created["expected_by"] == "2026-11-27T15:00:00+01:00" and "fredag 27. november" in created["text"]
        assert created["contact"] == "ola.nordmann@example.no"
        assert len(created["text"].splitlines()) == 3 and "56 37 50 00" in created["text"]  # short, not a wall

        token = staff_token(servers.env, USER)
        api = StaffAPI(servers.staff_url, token=token)
        listed = next(c for c in api.get("/cases").json()["cases"] if c["ref"] == reference)
        assert listed == {"ref": reference, "status": "open",
                          "question": "Kva tid blir det henta papir hos meg på Frekhaug?",
                          "contact": "ola.nordmann@example.no", "created": listed["created"],
                          "due": "2026-11-27T14:00:00+00:00"}
        page = Staff(servers.staff_url, USER, PASSWORD).case(reference)
        assert 'href="mailto:ola.nordmann@example.no"' in page

        answer = "Papiret blir henta kvar fjerde veke. Neste gong er torsdag 3. desember."
        sent = api.post(f"/cases/{reference}/reply", {"text": answer})
        assert sent.status_code == 200 and sent.json() == {"sent_to": "ola.nordmann@example.no"}
        sender, recipients, mail = servers.mailbox.wait_for(lambda m: reference in m["Subject"])
        assert recipients == ["ola.nordmann@example.no"] and "post@alver.kommune.no" in sender
        body = mail.get_content()
        assert answer in body and "Kva tid blir det henta papir" in body
        assert f"Saka di har referanse {reference}, og ho er no lukka" in body
        assert mail["Reply-To"] == "post@alver.kommune.no"
        case = store(servers.env).get(reference)
        assert case.status == "closed" and case.end_reason == "answered" and case.handled_by == USER
        recorded = [m for m in store(servers.env).messages(reference) if m.kind == "email"]
        assert recorded and recorded[0].text == answer and recorded[0].sent_to == "ola.nordmann@example.no"
        assert reference not in [c["ref"] for c in api.get("/cases").json()["cases"]]
        again = api.post(f"/cases/{reference}/reply", {"text": "Ein gong til"})
        assert again.status_code == 409 and "alt avslutta" in again.json()["error"]
    finally:
        citizen.close()
        servers.set_clock(MONDAY_10)


def test_an_idle_chat_ends_after_the_limit(servers, staff_account):
    servers.set_clock(MONDAY_10)
    citizen, reference = start_live_chat(servers.rasa_url)
    try:
        api = Staff(servers.staff_url, USER, PASSWORD).api()
        api.post(f"/chats/{reference}/claim")
        api.post(f"/chats/{reference}/messages", {"text": "Kva er kundenummeret ditt?"})
        citizen.until_handoff("staff_message")
        servers.set_clock("2026-11-23T10:16:00+01:00")  # idle_after: 15 minutes without an answer
        ended = citizen.until_handoff("ended", timeout=30)
        assert "vi ikkje høyrde frå deg" in ended["text"]
        assert store(servers.env).get(reference).end_reason == "idle"
    finally:
        citizen.close()
        servers.set_clock(MONDAY_10)


def test_the_api_needs_credentials_and_explains_errors(servers, staff_account):
    base = servers.staff_url
    calls = [("GET", "/queue"), ("GET", "/cases"), ("POST", "/chats/ALV-2026-999999/claim"),
             ("POST", "/chats/ALV-2026-999999/messages"), ("POST", "/chats/ALV-2026-999999/close"),
             ("POST", "/cases/ALV-2026-999999/reply"), ("GET", "/events")]
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            resp = httpx.request(method, f"{base}/staff/api{path}", headers=headers, json={"text": "x"}, timeout=20)
            assert resp.status_code == 401, (method, path, headers)
            assert resp.headers["www-authenticate"].startswith("Bearer")
            assert "staff token" in resp.json()["error"]
    api = StaffAPI(base, token=staff_token(servers.env, USER))
    missing = api.post("/chats/ALV-2026-999999/claim")
    assert missing.status_code == 404 and "ALV-2026-999999" in missing.json()["error"]
    bad = api.client.post("/staff/api/chats/ALV-2026-999999/messages", content=b"not json",
                          headers={**api.headers, "Content-Type": "application/json"})
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    queue = api.get("/queue").json()
    assert set(queue) == {"chats"} and all(set(c) == {"ref", "status", "handler", "language", "waiting_since"}
                                           for c in queue["chats"])


def test_restart_in_the_middle_of_a_live_chat_loses_nothing(tmp_path_factory):
    stack, clock_file = start_stack(tmp_path_factory.mktemp("handoff_restart"))
    try:
        clock_file.write_text(MONDAY_10, encoding="utf-8")
        add_staff(stack.env, USER, PASSWORD)
        rasa_url, staff_url = stack.config.rasa_url, stack.config.staff_url
        citizen, reference = start_live_chat(rasa_url)
        session_id, token = citizen.session_id, citizen.session_token
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

        citizen = Citizen(rasa_url, session_token=token)  # the widget reconnects with its session
        assert citizen.session_id == session_id
        reply = citizen.until_handoff("staff_message", timeout=90)  # the portal's retry delivers it
        assert reply["text"] == "Eg ser på søknaden din no."
        citizen.say("Takk, eg ventar.")
        assert citizen.silent_for(3) == []  # still with a person: the bot stands aside after the restart
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


def test_case_texts_are_one_promise_each(servers, staff_account):
    """8: the waiting message gives one promise; the offer one; never the same twice."""
    servers.set_clock(MONDAY_10)
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("/request_human")
        offer = citizen.next()["text"]
        assert sum(offer.count(p) for p in PROMISES) == 1, offer
        citizen.say("/affirm")
        waiting = citizen.until_handoff("waiting")
        assert sum(waiting["text"].count(p) for p in PROMISES) == 1, waiting["text"]
        assert waiting["position"] >= 1 and re.search(r"«avbryt»", waiting["text"])
        citizen.say("avbryt")
        citizen.until_handoff("ended")
    finally:
        citizen.close()

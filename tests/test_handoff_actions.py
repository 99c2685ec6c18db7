"""The handoff actions against a real SQLite store, the real profile and the real domain
(no Rasa server): what they say, which payloads, which events, what they store."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationResumed, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

import actions.handoff as handoff
from bot.config import ROOT
from bot.handoff import clock
from bot.handoff.contact import Contact
from bot.handoff.flow import choose_mode, clean_question, last_question

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
MONDAY_10 = "2026-11-23T10:00:00+01:00"      # chat open
MONDAY_20 = "2026-11-23T20:00:00+01:00"      # closed; written answers by Friday 27 November
WEDNESDAY_BEFORE_EASTER = "2027-03-24T16:00:00+01:00"  # after closing, the day before Maundy Thursday


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'handoff.db'}")
    monkeypatch.setattr(handoff, "_stores", {})  # one store per municipality
    yield
    handoff._stores.clear()


def tracker(channel: str = "socketio", lang: str = "nn", slots: dict | None = None, text: str = "hei",
            intent: str = "request_human", sender: str = "conv-1", history: list[dict] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}}
    events = (history or []) + [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(sender, {"language": lang, **(slots or {})}, latest, events, False, None, {}, "action_listen")


def run(action, t: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, DOMAIN))
    return dispatcher.messages, events


def validate(slot: str, value: str, t: Tracker) -> tuple[list[dict], dict]:
    dispatcher = CollectingDispatcher()
    method = getattr(handoff.ValidateCaseForm(), f"validate_{slot}")
    return dispatcher.messages, asyncio.run(method(value, dispatcher, t, DOMAIN))


def test_mode_by_channel_and_hours():
    assert choose_mode("socketio", True) == "live"
    assert choose_mode("socketio", False) == "case"
    assert choose_mode("rest", True) == "case" and choose_mode("cmdline", True) == "case"
    assert choose_mode("facebook", True) == "messenger" and choose_mode("facebook", False) == "messenger"


def test_offer_in_chat_hours_on_the_widget_offers_a_person(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    messages, events = run(handoff.ActionOfferHandoff(), tracker("socketio", "nb"))
    assert messages[0]["text"] == ("En person fra innbyggerservice kan chatte med deg nå. "
                                   "En person svarer deg innen 5 minutter. Vil du det?")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert SlotSet("handoff_mode", "live") in events
    assert not any(e.get("event") == "followup" for e in events)


@pytest.mark.parametrize("channel, now", [("socketio", MONDAY_20), ("rest", MONDAY_10), ("cmdline", MONDAY_20)])
def test_offer_without_a_live_person_starts_the_case_form(monkeypatch, channel, now):
    monkeypatch.setenv("KOMMUNEBOT_NOW", now)
    messages, events = run(handoff.ActionOfferHandoff(), tracker(channel, "nn"))
    assert FollowupAction("case_form") in events and SlotSet("handoff_mode", "case") in events
    text = messages[0]["text"]
    assert "fredag 27. november" in text if now == MONDAY_20 else "torsdag 26. november" in text
    assert "innan" in text and "innen" not in text  # Nynorsk


def test_messenger_gets_phone_form_and_times_and_no_form(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_20)
    messages, events = run(handoff.ActionOfferHandoff(), tracker("facebook", "nb"))
    assert FollowupAction("case_form") not in events and SlotSet("handoff_mode", "messenger") in events
    text = messages[0]["text"]
    assert "56 37 50 00" in text and "i morgen kl. 09.00" in text
    assert "kontaktskjemaet: https://www.alver.kommune.no/kontakt-oss/" in text
    assert "fredag 27. november" in text and "personopplysninger" in text
    assert "Skriv" not in text.split("\n")[0] and "e-post" not in text.lower()  # nothing personal asked for


def test_live_chat_is_queued_and_the_bot_stands_aside(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    history = [{"event": "user", "text": "Kor mykje kostar SFO for søsken?",
                "parse_data": {"intent": {"name": "faq"}}, "input_channel": "socketio"}]
    messages, events = run(handoff.ActionStartLiveChat(), tracker("socketio", "nn", text="ja", intent="affirm",
                                                                  history=history))
    payload = messages[0]["custom"]["data"]
    assert SlotSet("live_chat", payload["reference"]) in events  # LiveChatPolicy: every message to the turn
    assert payload["type"] == "handoff" and payload["state"] == "waiting" and payload["lang"] == "nn"
    assert payload["expected_by"].startswith("2026-11-23T10:05")
    # one promise: nobody has the portal open, so the service standard's
    assert payload["text"].count("Ein person svarar deg innan 5 minutt.") == 1
    assert payload["position"] == 1 and "Du er først i køen." in payload["text"]
    entry = handoff.handoff_store().get(payload["reference"])
    assert entry.kind == "live" and entry.question == "Kor mykje kostar SFO for søsken?"
    assert payload["reference"].startswith("ALV-2026-")


def test_accepting_after_closing_turns_into_a_case(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_20)
    _, events = run(handoff.ActionStartLiveChat(), tracker("socketio", intent="affirm"))
    assert FollowupAction("case_form") in events and not any(e.get("name") == "live_chat" for e in events)


def test_case_form_validation_reasks_and_normalises():
    for slot in ("case_question", "case_contact"):  # the form's check of empty slots at start
        assert validate(slot, None, tracker()) == ([], {slot: None})
    messages, slots = validate("case_contact", "ring meg", tracker(text="ring meg", intent="out_of_scope"))
    assert slots == {"case_contact": None} and "norsk telefonnummer" in messages[0]["text"]
    _, slots = validate("case_contact", "912 34 567", tracker(text="912 34 567", intent="out_of_scope"))
    assert slots == {"case_contact": "phone:+4791234567"}
    messages, slots = validate("case_question", "?", tracker(text="?", intent="out_of_scope"))
    assert slots == {"case_question": None} and "med nokre ord" in messages[0]["text"]
    _, slots = validate("case_question", "Fnr 01019000083, kvar er saka mi?", tracker(intent="own_case"))
    assert slots["case_question"] == "Fnr [fødselsnummer], kvar er saka mi?"
    _, slots = validate("case_contact", "avbryt", tracker(text="avbryt", intent="out_of_scope"))
    assert slots == {"case_contact": None, "requested_slot": None}


@pytest.mark.parametrize("slot,text,intent", [
    ("case_question", "takk for hjelpa", "thanks"),
    ("case_question", "nei, det går fint", "deny"),
    ("case_contact", "ha det", "goodbye"),
    ("case_contact", "hvordan melder jeg flytting?", "other_authority"),
    ("case_contact", "er du ein robot?", "bot_challenge"),
])
def test_case_form_lets_the_citizen_go_instead_of_trapping_them(slot, text, intent):
    messages, slots = validate(slot, text, tracker(text=text, intent=intent))
    assert slots == {slot: None, "requested_slot": None} and messages == []


def test_an_unsure_or_mistyped_contact_is_asked_again():
    mistyped = tracker(text="ola@example", intent="faq")
    mistyped.latest_message["intent"]["confidence"] = 0.5
    messages, slots = validate("case_contact", "ola@example", mistyped)
    assert slots == {"case_contact": None} and "e-postadresse" in messages[0]["text"]


def test_case_created_after_hours_with_reference_and_promise(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", WEDNESDAY_BEFORE_EASTER)
    slots = {"case_question": "Kan eg få utsett betalinga?", "case_contact": "email:ola@example.no"}
    messages, events = run(handoff.ActionCreateCase(), tracker("socketio", "nn", slots=slots))
    payload = messages[0]["custom"]["data"]
    # Wednesday 24 March 2027 after closing: Maundy Thursday to Easter Monday are closed,
    # counting starts Tuesday 30 March; three working days later is Friday 2 April, 15.00.
    assert payload["state"] == "case_created" and payload["expected_by"] == "2027-04-02T15:00:00+02:00"
    assert payload["reference"] in payload["text"] and "fredag 2. april" in payload["text"]
    assert "ola@example.no" in payload["text"] and payload["contact"] == "ola@example.no"
    # three short lines, not a wall: the phone line says when to call (Easter: Tuesday 30 March)
    assert payload["text"].splitlines()[2] == "Hastar det? Ring oss på 56 37 50 00 tysdag 30. mars kl. 09.00."
    assert len(payload["text"].splitlines()) == 3
    case = handoff.handoff_store().get(payload["reference"])
    assert case.contact == Contact("email", "ola@example.no") and case.channel == "socketio"
    assert case.promised_by == clock.parse_moment("2027-04-02T15:00:00+02:00")
    assert SlotSet("case_question", None) in events


def test_case_on_rest_is_plain_text_in_bokmal(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_20)
    slots = {"case_question": "Hvor er søknaden min?", "case_contact": "phone:+4791234567"}
    messages, _ = run(handoff.ActionCreateCase(), tracker("rest", "nb", slots=slots))
    assert not messages[0]["custom"]
    text = messages[0]["text"]
    assert "Vi ringer deg på +47 912 34 567" in text and "innen fredag 27. november" in text
    assert "innan" not in text


def test_cancelled_form_creates_nothing(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_20)
    messages, _ = run(handoff.ActionCreateCase(), tracker("rest", "nn", slots={"case_question": "q"}))
    assert messages[0]["text"].startswith("Greitt, eg sender ikkje noko vidare.")
    assert handoff.handoff_store().open_items(clock.now()) == []


def test_relay_and_end_deliver_once_and_resume(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    store = handoff.handoff_store()
    now = clock.now()
    chat = store.open_live_chat("conv-9", channel="socketio", lang="nb", question="", now=now, promised_by=None)
    store.add_staff_message(chat.reference, "kari", "Hei! Jeg ser på saken.", now=now)
    messages, events = run(handoff.ActionRelayStaffMessage(), tracker("socketio", "nb", sender="conv-9"))
    states = [m["custom"]["data"]["state"] for m in messages]
    assert states == ["joined", "staff_message"] and events == []
    assert messages[1]["custom"]["data"]["text"] == "Hei! Jeg ser på saken."
    ids = [m["custom"]["data"]["id"] for m in messages]  # the browser confirms them by id
    assert run(handoff.ActionRelayStaffMessage(), tracker(sender="conv-9"))[0] == []  # handed over once
    assert [m.id for m in store.unacknowledged("conv-9")] == ids  # but not delivered until confirmed
    assert store.unacknowledged("conv-9")[1].payload == messages[1]["custom"]["data"]  # kept to send again
    store.close(chat.reference, "kari", now=now)
    messages, events = run(handoff.ActionEndLiveChat(), tracker("socketio", "nb", sender="conv-9",
                                                                slots={"live_chat": chat.reference}))
    assert [m["custom"]["data"]["state"] for m in messages] == ["ended"]
    assert "avsluttet" in messages[0]["custom"]["data"]["text"]
    assert SlotSet("live_chat", None) in events and ConversationResumed() in events
    assert events[-1] == ActionExecuted("action_listen")
    assert store.pending_messages("conv-9") == []


def test_every_handoff_response_has_nynorsk_and_bokmal():
    names = [n for n in DOMAIN["responses"] if n.startswith(("utter_handoff", "utter_case", "utter_live",
                                                              "utter_ask_case"))]
    assert len(names) >= 12
    for name in names:
        langs = {c["value"] for v in DOMAIN["responses"][name] for c in v.get("condition", [])}
        assert langs == {"nn", "nb"}, name


def test_unreachable_database_gives_the_phone_number(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    monkeypatch.setenv("KOMMUNEBOT_DATABASE_URL", "postgresql://kb@127.0.0.1:1/kb")
    messages, events = run(handoff.ActionStartLiveChat(), tracker("socketio"))
    assert "Ring oss på 56 37 50 00" in messages[0]["text"]
    assert not any(e.get("name") == "live_chat" for e in events)


def test_question_helpers():
    assert clean_question(" 01019000083 ") == "[fødselsnummer]"
    events = [{"event": "user", "text": "Når tømmer dei bosset?", "parse_data": {"intent": {"name": "faq"}}},
              {"event": "bot", "text": "..."},
              {"event": "user", "text": "snakke med ein person", "parse_data": {"intent": {"name": "request_human"}}}]
    assert last_question(events) == "Når tømmer dei bosset?"


def test_yes_on_a_channel_without_live_chat_never_queues(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    messages, events = run(handoff.ActionStartLiveChat(), tracker("facebook", "nn", text="ja", intent="affirm"))
    assert FollowupAction("case_form") not in events and not any(e.get("name") == "live_chat" for e in events)
    assert "ikkje her i Messenger" in messages[0]["text"]
    _, events = run(handoff.ActionStartLiveChat(), tracker("rest", "nn", text="ja", intent="affirm"))
    assert FollowupAction("case_form") in events and not any(e.get("name") == "live_chat" for e in events)
    assert handoff.handoff_store().open_items(clock.now()) == []


def test_no_to_the_live_chat_leaves_a_question_but_never_in_messenger(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    messages, events = run(handoff.ActionLeaveQuestion(), tracker("socketio", "nb", text="nei", intent="deny"))
    assert FollowupAction("case_form") in events and SlotSet("handoff_mode", "case") in events
    assert "Jeg sender spørsmålet ditt videre" in messages[0]["text"] and "torsdag 26. november" in messages[0]["text"]
    messages, events = run(handoff.ActionLeaveQuestion(), tracker("facebook", "nb", text="nei", intent="deny"))
    assert FollowupAction("case_form") not in events and "ikke her i Messenger" in messages[0]["text"]
    assert events[-1] == FollowupAction("action_listen")


def test_a_new_session_during_a_live_chat_stays_with_the_person(monkeypatch):
    from actions.session import ActionSessionStart

    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    store = handoff.handoff_store()
    chat = store.open_live_chat("conv-5", channel="socketio", lang="nn", question="", now=clock.now(), promised_by=None)
    events = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker(sender="conv-5"), DOMAIN))
    assert SlotSet("live_chat", chat.reference) in events
    store.close(chat.reference, "kari", now=clock.now(), is_lead=True)
    carried = tracker(sender="conv-5", slots={"live_chat": chat.reference})
    events = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), carried, DOMAIN))
    assert SlotSet("live_chat", None) in events


def _queued(conversation: str = "conv-live", lang: str = "nn"):
    return handoff.handoff_store().open_live_chat(conversation, channel="socketio", lang=lang, question="",
                                                  now=clock.now(), promised_by=None)


@pytest.mark.parametrize("text,lang,intent,expected", [
    ("eg vil ikkje vente lenger, ha det", "nn", "out_of_scope", "Greitt, du er ute av køen"),
    ("avbryt", "nn", "out_of_scope", "Greitt, du er ute av køen"),
    ("Gå ut av køen", "nn", "out_of_scope", "Greitt, du er ute av køen"),  # the widget's button
    ("jeg orker ikke vente mer", "nb", "out_of_scope", "Greit, du er ute av køen"),
    ("ha det bra", "nb", "goodbye", "Greit, du er ute av køen"),
])
def test_the_citizen_leaves_the_queue_in_words(monkeypatch, text, lang, intent, expected):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    chat = _queued(lang=lang)
    messages, events = run(handoff.ActionLiveChatTurn(), tracker(text=text, intent=intent, lang=lang,
                                                                 sender="conv-live",
                                                                 slots={"live_chat": chat.reference}))
    assert messages[0]["custom"]["data"]["text"].startswith(expected)
    assert SlotSet("live_chat", None) in events
    closed = handoff.handoff_store().get(chat.reference)
    assert closed.status == "closed" and closed.end_reason == "citizen"
    assert handoff.handoff_store().unsent("conv-live") == []  # told at once, nothing queued


def test_a_message_while_waiting_is_kept_for_the_handler_with_its_contacts(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    chat = _queued()
    text = "Eg lurer på fakturaen. Ring meg på 912 34 567 eller skriv til ola@example.no"
    history = [{"event": "bot", "timestamp": __import__("time").time(),
                "data": {"custom": {"data": {"type": "handoff", "state": "waiting"}}}}]
    messages, events = run(handoff.ActionLiveChatTurn(), tracker(text=text, intent="faq", sender="conv-live",
                                                                 history=history, slots={"live_chat": chat.reference}))
    assert messages == [] and events == []  # just queued: no status yet, the bot stands aside
    item = handoff.handoff_store().get(chat.reference)
    assert item.question == text
    assert [c.value for c in item.chat_contacts] == ["+4791234567", "ola@example.no"]
    # with a person in the chat, the same words are not "leaving"
    handoff.handoff_store().claim(chat.reference, "kari", now=clock.now())
    messages, events = run(handoff.ActionLiveChatTurn(), tracker(text="takk, ha det", intent="goodbye",
                                                                 sender="conv-live",
                                                                 slots={"live_chat": chat.reference}))
    assert messages == [] and handoff.handoff_store().get(chat.reference).status == "claimed"


def test_a_waiting_citizen_who_writes_hears_the_place_in_the_queue(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    _queued("someone-before")
    chat = _queued()
    messages, _ = run(handoff.ActionLiveChatTurn(), tracker(text="Hallo? Er det nokon der?", intent="greet",
                                                            sender="conv-live", slots={"live_chat": chat.reference}))
    payload = messages[0]["custom"]["data"]
    assert payload["state"] == "queue" and payload["position"] == 2
    assert "Du er nummer 2 i køen." in payload["text"]


def test_at_closing_a_waiting_chat_is_offered_a_written_answer(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", "2026-11-27T14:40:00+01:00")
    chat = _queued()
    monkeypatch.setenv("KOMMUNEBOT_NOW", "2026-11-27T15:00:30+01:00")
    store = handoff.handoff_store()
    store.end_live_chat(chat.reference, reason="closing", now=clock.now(),
                        promised_by=clock.parse_moment("2026-12-03T15:00:00+01:00"))
    messages, events = run(handoff.ActionEndLiveChat(),
                           tracker(sender="conv-live", slots={"live_chat": chat.reference}))
    payload = messages[0]["custom"]["data"]
    assert payload["state"] == "closing" and isinstance(payload["id"], int)
    assert "måndag 30. november kl. 09.00" in payload["text"] and "torsdag 3. desember" in payload["text"]
    assert ActiveLoop("case_form") in events and SlotSet("requested_slot", "case_contact") in events
    assert SlotSet("handoff_mode", "closing") in events and SlotSet("live_chat", None) in events
    # the contact comes: the same chat becomes the case
    slots = {"case_question": "(chat)", "case_contact": "email:a@example.no", "handoff_mode": "closing"}
    messages, _ = run(handoff.ActionCreateCase(), tracker(sender="conv-live", slots=slots))
    assert messages[0]["custom"]["data"]["reference"] == chat.reference
    assert store.get(chat.reference).kind == "case"


def test_after_a_closing_the_open_chat_is_offered_again(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", "2026-11-30T09:05:00+01:00")
    closing = tracker(text="Hallo? Er det nokon der?", intent="greet", slots={"handoff_mode": "closing"})
    messages, slots = validate("case_contact", "Hallo? Er det nokon der?", closing)
    assert slots == {"case_contact": None, "requested_slot": None, "handoff_mode": "reoffer"} and messages == []
    _, events = run(handoff.ActionCreateCase(), tracker(slots={"handoff_mode": "reoffer"}))
    assert events[-1] == FollowupAction("action_offer_handoff")
    monkeypatch.setenv("KOMMUNEBOT_NOW", "2026-11-28T11:00:00+01:00")  # Saturday: still closed
    messages, slots = validate("case_contact", "Hallo?", closing)
    assert slots == {"case_contact": None} and "måndag 30. november kl. 09.00" in messages[0]["text"]


def test_near_closing_the_offer_is_a_written_answer(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", "2026-11-27T14:50:00+01:00")
    messages, events = run(handoff.ActionOfferHandoff(), tracker("socketio", "nb"))
    assert FollowupAction("case_form") in events and SlotSet("handoff_mode", "case") in events
    assert messages[0]["text"].startswith("Chatten stenger kl. 15.00, så nå rekker ingen å chatte med deg i dag.")


def test_an_ended_chat_that_became_a_case_tells_the_citizen(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", MONDAY_10)
    chat = _queued()
    store = handoff.handoff_store()
    store.record_citizen_message("conv-live", now=clock.now(), contacts=[Contact("phone", "+4791234567")])
    store.end_live_chat(chat.reference, reason="left", now=clock.now(),
                        promised_by=clock.parse_moment("2026-11-26T15:00:00+01:00"))
    messages, _ = run(handoff.ActionEndLiveChat(), tracker(sender="conv-live", slots={"live_chat": chat.reference}))
    payload = messages[0]["custom"]["data"]
    assert payload["state"] == "case_created" and payload["reference"] == chat.reference
    assert payload["text"].startswith("Chatten vart avslutta fordi du var borte ei stund.")
    assert "+47 912 34 567" in payload["text"] and payload["intro"].startswith("Chatten vart avslutta")

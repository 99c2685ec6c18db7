"""Rasa actions for the handoff to people (thin adapters over bot.handoff and bot.service).

action_offer_handoff       live person in chat hours (while the queue takes chats) on a channel
                           that can push, else a case (case_form); in Messenger only phone,
                           contact form and promised times
action_leave_question      the citizen declines the live chat: the case form (Messenger: info only)
action_start_live_chat     queue the conversation in SQL, say the place in the queue and the
                           expected wait; the bot stands aside (slot `live_chat`, LiveChatPolicy)
action_live_chat_turn      every citizen message while with a person: recorded for the
                           handler (with the phone numbers / e-mail addresses in it), "avbryt"
                           or the widget's button leaves the queue or ends the chat
validate_case_form         question and contact (e-mail or Norwegian phone), re-asks kindly
action_create_case         store the case; say reference, promised time and how we answer
action_relay_staff_message hand waiting staff messages to the chat (run by the staff portal)
action_end_live_chat       the chat is over (staff closed it, the citizen left or went idle,
                           or chat closed for the day): tell the citizen, give the bot back,
                           or at closing offer a written answer (case_form for a contact)

Texts live in domain.yml (`# --- handoff ---`); on socket.io they travel inside the
handoff payload (the widget shows payload text), elsewhere as plain text.
"""

from __future__ import annotations

import logging
import string
import time
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationResumed, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.common import language, profile_values
from actions.common import profile as municipality_profile
from actions.insight import record
from bot.handoff import clock
from bot.handoff.contact import Contact, parse_contact
from bot.handoff.db import Database, DatabaseUnavailable
from bot.handoff.flow import (
    PUSH_CHANNELS,
    choose_mode,
    clean_question,
    handoff_payload,
    last_question,
    queue_accepting,
    wants_to_cancel,
    wants_to_leave,
)
from bot.handoff.queue import chat_minutes, queue_status
from bot.handoff.store import HandoffStore, HandoffView, MessageView, municipality_slug, reference_prefix
from bot.handoff.texts import next_chat_text, queue_text, urgent_text
from bot.privacy.limits import handoff_refusal
from bot.privacy.patterns import email_spans, phone_spans
from bot.service.answers import open_now
from bot.service.eta import availability
from bot.service.texts import clock as clock_text

log = logging.getLogger(__name__)

MIN_QUESTION_CHARS = 3
# In the case form: intents that end it without a case, and intents that mean the citizen
# asks something else instead of giving a contact (confident ones only: a mistyped
# e-mail address must get a second chance, not end the form).
CLOSING_INTENTS = {"deny", "thanks", "goodbye"}
QUESTION_INTENTS = {"faq", "other_authority", "ask_contact", "ask_opening_hours", "ask_desk_locations",
                    "bot_challenge"}
MOVED_ON_CONFIDENCE = 0.8
CASE_CHANNEL = "email"  # a case left in the chat is promised like a written inquiry
LIVE_SLOT = "live_chat"
STATUS_EVERY_S = 120    # a waiting citizen who writes hears their place in the queue at most this often


def municipality_of(profile) -> str:
    return profile.slug or municipality_slug(profile.name)


_stores: dict[str, HandoffStore] = {}


def handoff_store(tracker: Tracker | None = None) -> HandoffStore:
    """The store of the conversation's municipality (its case prefix; every row it writes
    carries the municipality), opened on first use (and retried after a failure)."""
    from bot.service.municipalities import registry

    profile = municipality_profile(tracker) if tracker is not None else registry().default
    slug = municipality_of(profile)
    if slug not in _stores:
        _stores[slug] = HandoffStore(Database.from_settings(),
                                     prefix=profile.reference_prefix or reference_prefix(profile.name),
                                     timezone=str(profile.timezone), municipality=slug)
    return _stores[slug]


def _intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or ""


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _variation(domain: DomainDict, name: str, lang: str) -> dict:
    variations = (domain.get("responses") or {}).get(name) or []
    chosen = next((v for v in variations for c in v.get("condition") or []
                   if c.get("name") == "language" and c.get("value") == lang), None)
    return chosen or (variations[0] if variations else {"text": name})


def render(domain: DomainDict, name: str, lang: str, **values: Any) -> str:
    """The text of response `name` in `lang` (conditional variation on the language slot)."""
    text = string.Formatter().vformat(_variation(domain, name, lang).get("text", ""), (), _Values(values))
    return " ".join(part for part in text.split(" ") if part != "") if "  " in text else text


def utter(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, name: str, lang: str,
          **values: Any) -> None:
    """Send response `name` rendered here in `lang`, so it never depends on the slot being set
    yet; the municipality's words ({service_name}, {phone}, ...) come from its profile."""
    values = {**profile_values(tracker, lang), **values}
    dispatcher.utter_message(text=render(domain, name, lang, **values),
                             buttons=_variation(domain, name, lang).get("buttons") or [])


def payload_for(tracker: Tracker, domain: DomainDict, state: str, *, response: str | None = None,
                text: str | None = None, expected_by=None, reference: str | None = None,
                extra: dict | None = None, **values: Any) -> dict:
    lang = language(tracker)
    values = {**profile_values(tracker, lang), **values}
    body = text if text is not None else render(domain, response or "", lang, reference=reference, **values)
    return handoff_payload(state, lang, body, expected_by, reference, **(extra or {}))


def send(dispatcher: CollectingDispatcher, tracker: Tracker, payload: dict) -> None:
    """A handoff payload on socket.io, its text on other channels."""
    if _channel(tracker) in PUSH_CHANNELS:
        dispatcher.utter_message(json_message=payload)
    else:
        dispatcher.utter_message(text=payload["data"]["text"])


def say(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, state: str, **kwargs: Any) -> None:
    """A handoff message: payload (with its text) on socket.io, plain text on other channels."""
    send(dispatcher, tracker, payload_for(tracker, domain, state, **kwargs))


def _store_unavailable(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                       exc: Exception) -> list[dict]:
    _stores.clear()
    log.error("handoff store unavailable: %s", exc)
    utter(dispatcher, tracker, domain, "utter_handoff_unavailable", language(tracker))
    return []


def live_queue_open(profile, now) -> tuple[bool, Any]:
    """(the queue takes a new chat now, chat availability)."""
    chat = availability(profile, "chat", now)
    accepting = chat.available_now and queue_accepting(chat.closes_at, now, profile.live_chat.queue_closes_before)
    return accepting, chat


def waiting_promise(store: HandoffStore, profile, reference: str | None, lang: str,
                    chat) -> tuple[int | None, int | None, str]:
    """(position, minutes, the one sentence) for a waiting chat, or with `reference` None
    for a chat that would join now (then without the position): the estimate from staff
    on duty and recent chats, else the service standard's promise."""
    status = queue_status(store, reference, municipality_of(profile), chat_minutes(profile))
    shown = status.position if reference is not None else None
    return status.position, status.estimate_minutes, queue_text(lang, shown, status.estimate_minutes, chat.text(lang))


class ActionOfferHandoff(Action):
    def name(self) -> str:
        return "action_offer_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        return offer(dispatcher, tracker, domain, want="offer")


def offer(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, want: str) -> list[dict]:
    """Say how a person can help now. `want`: "offer" asks whether to chat with a person
    when one is available; "case" goes straight to the case form. Messenger always gets
    the phone, the contact form and the promised times instead (no personal details)."""
    profile, lang, now = municipality_profile(tracker), language(tracker), clock.now()
    accepting, chat = live_queue_open(profile, now)
    mode = choose_mode(_channel(tracker), accepting)
    if mode == "live" and want == "case":
        mode = "case"
    # The language slot is set too, so the form's questions (rendered by Rasa) have it.
    events = [SlotSet("language", lang), SlotSet("handoff_mode", mode)]
    events += [SlotSet(slot, None) for slot in ("case_question", "case_contact") if tracker.get_slot(slot) is not None]
    if mode == "messenger":
        record(tracker, "handoff_referred")
        utter(dispatcher, tracker, domain, "utter_handoff_messenger", lang,
              phone_text=availability(profile, "phone", now).text(lang),
              contact_form=profile.contact.contact_form,
              email_text=availability(profile, "email", now).text(lang),
              messenger_text=availability(profile, "messenger", now).text(lang))
        return events
    if mode == "live":
        try:
            _, _, wait = waiting_promise(handoff_store(tracker), profile, None, lang, chat)
        except (DatabaseUnavailable, SQLAlchemyError):
            wait = chat.text(lang)
        utter(dispatcher, tracker, domain, "utter_handoff_offer_live", lang, wait=wait)
        return events
    refused = handoff_refusal("case", tracker, lang, profile.contact.phone, now, count=False)  # issue 14
    if refused:
        dispatcher.utter_message(text=refused)
        return events
    promise = availability(profile, CASE_CHANNEL, now).text(lang)
    if chat.available_now and _channel(tracker) in PUSH_CHANNELS and want != "case":
        # Open, but too close to closing time for the queue.
        intro = render(domain, "utter_live_queue_closing", lang, **profile_values(tracker, lang),
                       close=clock_text(chat.closes_at), promise=promise)
    elif chat.available_now:  # this channel cannot bring a reply back, or the citizen chose a case
        intro = render(domain, "utter_handoff_case_intro", lang, **profile_values(tracker, lang), promise=promise)
    else:
        intro = chat.text(lang)  # "Chatten er stengd no ... Du får svar innan ..."
    dispatcher.utter_message(text=intro)
    return events + [FollowupAction("case_form")]


class ActionLeaveQuestion(Action):
    """The citizen prefers a written answer to the live chat: the case form (not in Messenger)."""

    def name(self) -> str:
        return "action_leave_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        events = offer(dispatcher, tracker, domain, want="case")
        if FollowupAction("case_form") not in events:  # Messenger: nothing follows, wait for the citizen
            events.append(FollowupAction("action_listen"))
        return events


class ActionStartLiveChat(Action):
    def name(self) -> str:
        return "action_start_live_chat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        profile, lang, now = municipality_profile(tracker), language(tracker), clock.now()
        accepting, chat = live_queue_open(profile, now)
        if choose_mode(_channel(tracker), accepting) != "live":
            # The queue closed while the citizen decided, or "yes" came on a channel without live chat.
            return offer(dispatcher, tracker, domain, want="offer")
        refused = handoff_refusal("live", tracker, lang, profile.contact.phone, now)  # issue 14
        if refused:
            dispatcher.utter_message(text=refused)
            return []
        try:
            store = handoff_store(tracker)
            entry = store.open_live_chat(tracker.sender_id, channel=_channel(tracker), lang=lang,
                                         question=last_question(tracker.events), now=now,
                                         promised_by=chat.expected_by)
            position, minutes, wait = waiting_promise(store, profile, entry.reference, lang, chat)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            return _store_unavailable(dispatcher, tracker, domain, exc)
        log.info("live chat %s queued (channel %s, %s)", entry.reference, entry.channel, lang)
        record(tracker, "handoff_live", reference=entry.reference, promised_by=chat.expected_by, standard="chat")
        say(dispatcher, tracker, domain, "waiting", response="utter_live_waiting", expected_by=chat.expected_by,
            reference=entry.reference, wait=wait, extra={"position": position, "estimate_minutes": minutes})
        return [SlotSet(LIVE_SLOT, entry.reference), SlotSet("handoff_mode", "live")]


def _latest_user_event(tracker: Tracker) -> dict:
    return next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})


def _contacts_in(text: str) -> list[Contact]:
    """Every e-mail address and Norwegian phone number in a chat message, in order."""
    text = text or ""
    spans = sorted(email_spans(text) + phone_spans(text))
    found: list[Contact] = []
    for start, end in spans:
        contact = parse_contact(text[start:end])
        if contact is not None and contact not in found:
            found.append(contact)
    return found


def _last_status_at(tracker: Tracker) -> float:
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            data = ((event.get("data") or {}).get("custom") or {}).get("data") or {}
            if data.get("type") == "handoff" and data.get("state") in ("waiting", "queue"):
                return float(event.get("timestamp") or 0)
    return 0.0


class ActionLiveChatTurn(Action):
    """A message from the citizen while the bot stands aside for a person."""

    def name(self) -> str:
        return "action_live_chat_turn"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        profile, lang, now = municipality_profile(tracker), language(tracker), clock.now()
        text = str(tracker.latest_message.get("text") or "")
        try:
            store = handoff_store(tracker)
            entry = store.active_live_chat(tracker.sender_id)
            if entry is None:  # ended meanwhile: tell the citizen and give the bot back
                return _end(dispatcher, tracker, domain)
            waiting = entry.status == "open"
            name, confidence = _intent(tracker)
            if wants_to_leave(text, waiting) or (waiting and name == "goodbye" and confidence >= MOVED_ON_CONFIDENCE):
                store.end_live_chat(entry.reference, reason="citizen", now=now, notify=False)
                log.info("live chat %s: the citizen left %s", entry.reference, "the queue" if waiting else "the chat")
                say(dispatcher, tracker, domain, "ended", response="utter_live_left_queue" if waiting
                    else "utter_live_left_chat", reference=entry.reference, phone=profile.contact.phone)
                return [SlotSet(LIVE_SLOT, None), SlotSet("handoff_mode", None)]
            event = _latest_user_event(tracker)
            store.record_citizen_message(tracker.sender_id, now=now, text=clean_question(text) if waiting else "",
                                         contacts=_contacts_in(text), at=event.get("timestamp"))
            accepting, chat = live_queue_open(profile, now)
            if waiting and not chat.available_now:
                # Chat closed while the citizen waited (the portal ends such chats at closing;
                # this covers a portal that was down): nobody waits across a closing.
                ended = store.end_live_chat(entry.reference, reason="closing", now=now,
                                            promised_by=availability(profile, CASE_CHANNEL, now).expected_by)
                _deliver_pending(dispatcher, tracker, domain, include_end=True)
                return _after_end(tracker, ended)
            if waiting and time.time() - _last_status_at(tracker) > STATUS_EVERY_S:
                position, minutes, wait = waiting_promise(store, profile, entry.reference, lang, chat)
                say(dispatcher, tracker, domain, "queue", response="utter_live_status", reference=entry.reference,
                    wait=wait, extra={"position": position, "estimate_minutes": minutes})
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.error("live chat turn without the database: %s", exc)
        return []


class ValidateCaseForm(FormValidationAction):
    def name(self) -> str:
        return "validate_case_form"

    @staticmethod
    def _cancel(tracker: Tracker, text: str) -> bool:
        """The citizen says no, thanks or goodbye instead of answering: nothing is sent."""
        return wants_to_cancel(text) or _intent(tracker)[0] in CLOSING_INTENTS

    @staticmethod
    def _moved_on(tracker: Tracker) -> bool:
        """Asked for a contact, the citizen clearly asks something else: let them go."""
        name, confidence = _intent(tracker)
        return name in QUESTION_INTENTS and confidence >= MOVED_ON_CONFIDENCE

    async def validate_case_question(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        if value is None:  # the form checks the (empty) slots when it starts: nothing to say yet
            return {"case_question": None}
        text = str(value).strip()
        if self._cancel(tracker, text):
            return {"case_question": None, "requested_slot": None}
        if len(text) < MIN_QUESTION_CHARS or text.startswith("/"):
            utter(dispatcher, tracker, domain, "utter_case_question_invalid", language(tracker))
            return {"case_question": None}
        return {"case_question": clean_question(text)}

    async def validate_case_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        if value is None:
            return {"case_contact": None}
        text = str(value).strip()
        if self._cancel(tracker, text):
            return {"case_contact": None, "requested_slot": None}
        contact = parse_contact(text)
        if contact is None and self._moved_on(tracker):
            return {"case_contact": None, "requested_slot": None}
        if contact is None and tracker.get_slot("handoff_mode") == "closing":
            # Offered a written answer at closing time, the citizen writes something else
            # ("Hallo? Er det nokon der?"): if the queue is open again, offer a person.
            profile, now = municipality_profile(tracker), clock.now()
            if live_queue_open(profile, now)[0] and _channel(tracker) in PUSH_CHANNELS:
                return {"case_contact": None, "requested_slot": None, "handoff_mode": "reoffer"}
            utter(dispatcher, tracker, domain, "utter_case_contact_after_closing", language(tracker),
                  when=next_chat_text(profile, now, language(tracker)))
            return {"case_contact": None}
        if contact is None:
            utter(dispatcher, tracker, domain, "utter_case_contact_invalid", language(tracker))
            return {"case_contact": None}
        return {"case_contact": f"{contact.kind}:{contact.value}"}


class ActionCreateCase(Action):
    def name(self) -> str:
        return "action_create_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        profile, lang, now = municipality_profile(tracker), language(tracker), clock.now()
        question, contact_slot = tracker.get_slot("case_question"), tracker.get_slot("case_contact")
        mode = tracker.get_slot("handoff_mode")
        reset = [SlotSet("case_question", None), SlotSet("case_contact", None), SlotSet("handoff_mode", None)]
        if mode == "reoffer":  # chat is open again after a closing: offer a person afresh
            return reset + [FollowupAction("action_offer_handoff")]
        contact = parse_contact(str(contact_slot).partition(":")[2]) if contact_slot else None
        if not question or contact is None:
            utter(dispatcher, tracker, domain, "utter_case_cancelled", lang, open_now=open_now(profile, now).get(lang))
            return reset
        promise = availability(profile, CASE_CHANNEL, now)
        try:
            store = handoff_store(tracker)
            case = None
            if mode == "closing":  # the live chat that closed for the day becomes this case
                case = store.reopen_as_case(tracker.sender_id, contact=contact, now=now,
                                            promised_by=promise.expected_by)
            if case is None:
                # Issue 14: a new case counts against the limits (a live chat that closed
                # and became the case was counted when it was requested).
                refused = handoff_refusal("case", tracker, lang, profile.contact.phone, now)
                if refused:
                    dispatcher.utter_message(text=refused)
                    return reset
                case = store.create_case(tracker.sender_id, channel=_channel(tracker), lang=lang, question=question,
                                         contact=contact, now=now, promised_by=promise.expected_by)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            return _store_unavailable(dispatcher, tracker, domain, exc) + reset
        log.info("case %s created (channel %s, %s, reply by %s)", case.reference, case.channel, lang, contact.kind)
        record(tracker, "handoff_case", reference=case.reference, promised_by=case.promised_by or promise.expected_by,
               standard=CASE_CHANNEL)
        say(dispatcher, tracker, domain, "case_created", **case_created(profile, case, contact, now, lang))
        return reset


def case_created(profile, case: HandoffView, contact: Contact, now, lang: str, response: str | None = None) -> dict:
    """What the citizen is told when a case is made: reference, the date, how we answer."""
    promise = availability(profile, CASE_CHANNEL, now)
    name = response or ("utter_case_created_email" if contact.kind == "email" else "utter_case_created_phone")
    return {"response": name, "expected_by": case.promised_by or promise.expected_by, "reference": case.reference,
            "promise": promise.text(lang), "contact": contact.display(), "urgent": urgent_text(profile, now, lang),
            "extra": {"contact": contact.display(), "contact_kind": contact.kind,
                      "note": urgent_text(profile, now, lang)}}


def _message_payload(tracker: Tracker, domain: DomainDict, message: MessageView, store: HandoffStore) -> dict:
    """The chat payload of one staff message (the browser confirms it by `id`)."""
    profile, lang, now = municipality_profile(tracker), language(tracker), clock.now()
    extra = {"id": message.id}
    if message.kind == "joined":
        response = "utter_live_transferred" if message.text == "transfer" else "utter_live_joined"
        return payload_for(tracker, domain, "joined", response=response, extra=extra)
    if message.kind == "message":
        return payload_for(tracker, domain, "staff_message", text=message.text, extra=extra)
    reason, _, became = message.text.partition(":")
    entry = store.get_by_id(message.handoff_id)
    if became == "case" and entry is not None and entry.contact is not None:
        values = case_created(profile, entry, entry.contact, now, lang, response="utter_live_ended_case")
        values["reason"] = render(domain, f"utter_live_reason_{reason}", lang, **profile_values(tracker, lang))
        values["extra"] = {**values["extra"], **extra, "intro": values["reason"], "note": None}
        return payload_for(tracker, domain, "case_created", **values)
    if reason == "closing":
        promise = availability(profile, CASE_CHANNEL, now)
        return payload_for(tracker, domain, "closing", response="utter_live_closing_offer",
                           reference=entry.reference if entry else None, promise=promise.text(lang),
                           when=next_chat_text(profile, now, lang), extra=extra)
    response = {"left": "utter_live_ended_gone", "idle": "utter_live_ended_idle"}.get(reason, "utter_live_ended")
    return payload_for(tracker, domain, "ended", response=response, extra=extra)


def _deliver_pending(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     include_end: bool) -> list[MessageView]:
    """Hand the conversation's waiting staff messages to the chat, each exactly once
    (delivery is confirmed later by the browser); returns the "ended" notes sent."""
    store, now, ended = handoff_store(tracker), clock.now(), []
    for message in store.unsent(tracker.sender_id):
        if message.kind == "ended" and not include_end:
            continue
        payload = _message_payload(tracker, domain, message, store)
        if not store.claim_for_sending(message.id, payload["data"], now=now):
            continue  # another relay sent it
        send(dispatcher, tracker, payload)
        if message.kind == "ended":
            ended.append(message)
    return ended


class ActionRelayStaffMessage(Action):
    def name(self) -> str:
        return "action_relay_staff_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            _deliver_pending(dispatcher, tracker, domain, include_end=False)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.error("relay waits for the database: %s", exc)
        return []


def _after_end(tracker: Tracker, ended: HandoffView | None) -> list[dict]:
    """Events once the live chat is over: the bot answers again; at closing time without
    a contact the case form waits for one (the offer was just sent)."""
    events = [SlotSet(LIVE_SLOT, None), SlotSet("handoff_mode", None), ConversationResumed()]
    if ended is not None and ended.status == "closed" and ended.end_reason == "closing":
        events += [SlotSet("handoff_mode", "closing"), SlotSet("case_question", ended.question or "(chat)"),
                   SlotSet("case_contact", None), ActiveLoop("case_form"), SlotSet("requested_slot", "case_contact")]
    return events


def _end(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
    ended = _deliver_pending(dispatcher, tracker, domain, include_end=True)
    entry = handoff_store(tracker).get_by_id(ended[-1].handoff_id) if ended else None
    return _after_end(tracker, entry)


class ActionEndLiveChat(Action):
    def name(self) -> str:
        return "action_end_live_chat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            events = _end(dispatcher, tracker, domain)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.error("ending the live chat waits for the database: %s", exc)
            return []
        # Run through the portal (not after a user message): log a listen, so the citizen's
        # next message meets the same rules as at any other turn.
        return events + [ActionExecuted("action_listen")]

"""Rasa actions for the handoff to people (thin adapters over bot.handoff and bot.service).

action_offer_handoff      live person in chat hours on a channel that can push, else a case
                          (case_form); in Messenger only phone, contact form and promised times
action_leave_question     the citizen declines the live chat: the case form (Messenger: info only)
action_start_live_chat    queue the conversation in SQL, say the expected wait, pause the bot
validate_case_form        question and contact (e-mail or Norwegian phone), re-asks kindly
action_create_case        store the case; say reference, promised time, phone and openings
action_relay_staff_message deliver staff messages waiting in SQL (run by the staff portal)
action_end_live_chat      deliver what is left, tell the citizen, resume the bot

Texts live in domain.yml (`# --- handoff ---`); on socket.io they travel inside the
handoff payload (the widget shows payload text), elsewhere as plain text.
"""

from __future__ import annotations

import logging
import string
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, ConversationResumed, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.common import language, profile_values
from actions.common import profile as municipality_profile
from actions.insight import record
from bot.handoff import clock
from bot.handoff.contact import parse_contact
from bot.handoff.db import Database, DatabaseUnavailable
from bot.handoff.flow import PUSH_CHANNELS, choose_mode, clean_question, handoff_payload, last_question, wants_to_cancel
from bot.handoff.store import HandoffStore
from bot.service.answers import open_now
from bot.service.eta import availability

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


_stores: dict[str, HandoffStore] = {}


def handoff_store(tracker: Tracker | None = None) -> HandoffStore:
    """The store (with the conversation's municipality's case prefix), opened on first use
    (and retried after a failure)."""
    from bot.service.municipalities import registry

    profile = municipality_profile(tracker) if tracker is not None else registry().default
    if profile.slug not in _stores:
        _stores[profile.slug] = HandoffStore(Database.from_settings(), prefix=profile.reference_prefix,
                                             timezone=str(profile.timezone))
    return _stores[profile.slug]


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
    return string.Formatter().vformat(_variation(domain, name, lang).get("text", ""), (), _Values(values))


def utter(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, name: str, lang: str,
          **values: Any) -> None:
    """Send response `name` rendered here in `lang`, so it never depends on the slot being set yet."""
    values = {**profile_values(tracker, lang), **values}
    dispatcher.utter_message(text=render(domain, name, lang, **values),
                             buttons=_variation(domain, name, lang).get("buttons") or [])


def say(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, state: str, *,
        response: str | None = None, text: str | None = None, expected_by=None, reference: str | None = None,
        **values: Any) -> None:
    """A handoff message: payload (with its text) on socket.io, plain text on other channels."""
    lang = language(tracker)
    values = {**profile_values(tracker, lang), **values}
    body = text if text is not None else render(domain, response, lang, reference=reference, **values)
    if _channel(tracker) in PUSH_CHANNELS:
        dispatcher.utter_message(json_message=handoff_payload(state, lang, body, expected_by, reference))
    else:
        dispatcher.utter_message(text=body)


def _store_unavailable(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                       exc: Exception) -> list[dict]:
    _stores.clear()
    log.error("handoff store unavailable: %s", exc)
    utter(dispatcher, tracker, domain, "utter_handoff_unavailable", language(tracker))
    return []


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
    chat = availability(profile, "chat", now)
    mode = choose_mode(_channel(tracker), chat.available_now)
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
        utter(dispatcher, tracker, domain, "utter_handoff_offer_live", lang, wait=chat.text(lang))
        return events
    if chat.available_now:  # open, but this channel cannot bring a reply back, or the citizen chose a case
        intro = render(domain, "utter_handoff_case_intro", lang, **profile_values(tracker, lang),
                       promise=availability(profile, CASE_CHANNEL, now).text(lang))
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
        chat = availability(profile, "chat", now)
        if choose_mode(_channel(tracker), chat.available_now) != "live":
            # The chat closed while the citizen decided, or "yes" came on a channel without live chat.
            return offer(dispatcher, tracker, domain, want="case")
        try:
            entry = handoff_store(tracker).open_live_chat(tracker.sender_id, channel=_channel(tracker), lang=lang,
                                                          question=last_question(tracker.events), now=now,
                                                          promised_by=chat.expected_by)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            return _store_unavailable(dispatcher, tracker, domain, exc)
        log.info("live chat %s queued (channel %s, %s)", entry.reference, entry.channel, lang)
        record(tracker, "handoff_live", reference=entry.reference, promised_by=chat.expected_by, standard="chat")
        say(dispatcher, tracker, domain, "waiting", response="utter_live_waiting", expected_by=chat.expected_by,
            reference=entry.reference, wait=chat.text(lang))
        return [ConversationPaused()]


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
        reset = [SlotSet("case_question", None), SlotSet("case_contact", None), SlotSet("handoff_mode", None)]
        contact = parse_contact(str(contact_slot).partition(":")[2]) if contact_slot else None
        if not question or contact is None:
            utter(dispatcher, tracker, domain, "utter_case_cancelled", lang, open_now=open_now(profile, now).get(lang))
            return reset
        promise = availability(profile, CASE_CHANNEL, now)
        try:
            case = handoff_store(tracker).create_case(tracker.sender_id, channel=_channel(tracker), lang=lang,
                                                      question=question, contact=contact, now=now,
                                                      promised_by=promise.expected_by)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            return _store_unavailable(dispatcher, tracker, domain, exc) + reset
        log.info("case %s created (channel %s, %s, reply by %s)", case.reference, case.channel, lang, contact.kind)
        record(tracker, "handoff_case", reference=case.reference, promised_by=promise.expected_by, standard=CASE_CHANNEL)
        response = "utter_case_created_email" if contact.kind == "email" else "utter_case_created_phone"
        say(dispatcher, tracker, domain, "case_created", response=response, expected_by=promise.expected_by,
            reference=case.reference, promise=promise.text(lang), contact=contact.display(),
            open_now=open_now(profile, now).get(lang))
        return reset


def _deliver_pending(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
                     include_end: bool) -> bool:
    """Send the conversation's waiting staff messages; True if an "ended" note was among them."""
    store, now, ended = handoff_store(tracker), clock.now(), False
    for message in store.pending_messages(tracker.sender_id):
        if message.kind == "ended" and not include_end:
            continue
        if not store.mark_delivered(message.id, now=now):
            continue  # another delivery took it
        if message.kind == "joined":
            say(dispatcher, tracker, domain, "joined", response="utter_live_joined")
        elif message.kind == "message":
            say(dispatcher, tracker, domain, "staff_message", text=message.text)
        else:
            ended = True
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


class ActionEndLiveChat(Action):
    def name(self) -> str:
        return "action_end_live_chat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict]:
        try:
            _deliver_pending(dispatcher, tracker, domain, include_end=True)
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.error("ending the live chat waits for the database: %s", exc)
            return []
        say(dispatcher, tracker, domain, "ended", response="utter_live_ended")
        # Run through the portal (not after a user message): log a listen, so the citizen's
        # next message meets the same rules as at any other turn.
        return [ConversationResumed(), SlotSet("handoff_mode", None), ActionExecuted("action_listen")]

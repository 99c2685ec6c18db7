"""action_session_start: a new session knows its municipality (the channel's metadata, else
the slot carried over, else the default) and starts in that municipality's standard.

A conversation that is with a person when its session expires stays with the person
(slot `live_chat`, see bot/handoff/live_policy.py): a citizen who waits more than the
session expiration time for staff must not get the bot back.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.common import LANGS, SLOT, requested_municipality
from actions.handoff import handoff_store
from bot.handoff.db import DatabaseUnavailable
from bot.service.municipalities import UnknownMunicipality, registry

log = logging.getLogger(__name__)


class ActionSessionStart(Action):
    """Start a session: carry over slots (session_config), set `municipality` and, if
    unknown, `language`."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        carry_over = (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True)
        slots: dict[str, Any] = tracker.current_slot_values() if carry_over else {}
        events += [SlotSet(name, value) for name, value in slots.items()
                   if value is not None and name != SLOT]
        profile = _municipality(tracker, slots.get(SLOT))
        events.append(SlotSet(SLOT, profile.slug))
        if slots.get("language") not in LANGS:
            events.append(SlotSet("language", profile.default_language))
        live = _live_chat(tracker.sender_id, slots.get("live_chat"))
        if live != slots.get("live_chat"):
            events.append(SlotSet("live_chat", live))
        events.append(ActionExecuted("action_listen"))
        return events


def _municipality(tracker: Tracker, carried: Any):
    """The channel's municipality for this session, else the one carried over, else the default."""
    reg = registry()
    for slug in (requested_municipality(tracker), carried):
        if slug:
            try:
                return reg.get(slug)
            except UnknownMunicipality as exc:
                log.warning("session of %s: %s; using the default", tracker.sender_id, exc)
    return reg.default


def _live_chat(conversation_id: str, carried: Any) -> str | None:
    """The reference of the conversation's open live chat (the carried value when the
    store is down, so a waiting citizen never gets the bot back by mistake)."""
    try:
        entry = handoff_store().active_live_chat(conversation_id)
    except (DatabaseUnavailable, SQLAlchemyError) as exc:
        log.warning("Could not check for an open live chat: %s", exc)
        return carried
    return entry.reference if entry else None

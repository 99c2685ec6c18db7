"""action_session_start: a new session starts in the municipality's default standard."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import LANGS, profile


class ActionSessionStart(Action):
    """Start a session: carry over slots (session_config), set `language` if unknown."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        carry_over = (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True)
        slots: dict[str, Any] = tracker.current_slot_values() if carry_over else {}
        events += [SlotSet(name, value) for name, value in slots.items() if value is not None]
        if slots.get("language") not in LANGS:
            events.append(SlotSet("language", profile().default_language))
        events.append(ActionExecuted("action_listen"))
        return events

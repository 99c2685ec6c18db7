"""action_record_feedback: store "did you get an answer?" (yes/no) and reply to it."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.insight import record

POSITIVE_INTENTS = ("feedback_positive", "affirm")


class ActionRecordFeedback(Action):
    def name(self) -> str:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        helpful = intent in POSITIVE_INTENTS
        record(tracker, "feedback_positive" if helpful else "feedback_negative",
               url=tracker.get_slot("answer_url"), question=tracker.get_slot("answer_question"))
        dispatcher.utter_message(response="utter_feedback_thanks" if helpful else "utter_feedback_sorry")
        return []

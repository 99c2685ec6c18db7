"""Service facts from the municipality profile (bot.service): opening hours and "open now?",
contact details, service desks, and where to go for other authorities' services."""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import language, profile
from bot.service.answers import contact_info, desk_list, open_now, other_authority, schedule_text
from bot.service.profile import Authority

_WORD = re.compile(r"[^\W\d_]+")
# Shortest word part that counts as a match ("skatt" in "skattekortet", "trygd" in "uføretrygd").
MIN_STEM = 5


class ActionOpeningHours(Action):
    """The usual phone hours, the desks' days and hours, then the time now, whether phone,
    chat and each desk are open, and when they open next."""

    def name(self) -> str:
        return "action_opening_hours"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        lang, here = language(tracker), profile(tracker)
        phone_hours = here.opening_hours.get("phone")
        if phone_hours is not None:
            dispatcher.utter_message(response="utter_opening_hours", hours=schedule_text(phone_hours).get(lang))
        if here.service_desks:
            dispatcher.utter_message(text=desk_list(here).get(lang))
        dispatcher.utter_message(text=open_now(here).get(lang))
        return []


class ActionContact(Action):
    def name(self) -> str:
        return "action_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=contact_info(profile(tracker)).get(language(tracker)))
        return []


class ActionDeskLocations(Action):
    def name(self) -> str:
        return "action_desk_locations"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=desk_list(profile(tracker)).get(language(tracker)))
        return []


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= MIN_STEM}


def _related(a: str, b: str) -> bool:
    """One word contains the other, or they share a beginning of MIN_STEM letters."""
    return a in b or b in a or a[:MIN_STEM] == b[:MIN_STEM]


def matching_authority(text: str, authorities: tuple[Authority, ...] | list[Authority]) -> Authority | None:
    """The authority whose name or listed services share the most word parts with `text`.

    Words of at least MIN_STEM letters match when `_related` ("skattekortet" ~ "skatt",
    "adressa" ~ "adresseendring", "uføretrygd" ~ "trygd")."""
    said = _words(text)
    best, best_score = None, 0
    for authority in authorities:
        vocabulary = _words(" ".join([authority.key, authority.name, *authority.handles.values()]))
        score = sum(1 for w in said if any(_related(w, v) for v in vocabulary))
        if score > best_score:
            best, best_score = authority, score
    return best


class ActionOtherAuthority(Action):
    """Whose service it is and the way there (profile); when no authority in the profile
    matches, the knowledge index answers (pages about other authorities' services)."""

    def name(self) -> str:
        return "action_other_authority"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        here = profile(tracker)
        authority = matching_authority(text, here.other_authorities)
        if authority is None:
            return [FollowupAction("action_answer_question")]
        dispatcher.utter_message(text=other_authority(here, authority.key).get(language(tracker)))
        return []

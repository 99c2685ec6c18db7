"""The conversation's municipality in every response, and never silence when the action
server fails.

This response generator, configured in endpoints.yml as

    nlg:
      type: bot.rasa_guard.GuardedResponseGenerator

renders domain responses like Rasa's default, with the conversation's municipality
profile (slot `municipality`, else the message's metadata, else the default) added to the
template variables ({municipality_name}, {phone}, {phone_hours}, {service_name}, ...:
bot.service.municipalities.template_values) and the municipality's default written
standard used while the `language` slot is empty.

Rasa 3.6 logs a failed custom action and carries on without a reply (the REST channel
then returns []). When Rasa starts, this module also wraps
`RemoteAction.run` so that a custom action which cannot be run (server down, timeout,
HTTP error) yields `utter_technical_problem` (phone number, in the citizen's standard)
instead of nothing. A failing `action_session_start` falls back to Rasa's built-in
session start plus the `municipality` and `language` slots, so the apology comes once,
with the citizen's first real question, in the municipality's standard and with its phone.
Runs in the Rasa server process: no torch, Python 3.10.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa.core.actions.action import ActionExecutionRejection, ActionSessionStart, RemoteAction, create_bot_utterance
from rasa.core.channels import OutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from bot.language import LANGS
from bot.service.municipalities import UnknownMunicipality, registry, template_values
from bot.service.profile import Profile

log = logging.getLogger(__name__)

APOLOGY = "utter_technical_problem"
SESSION_START = "action_session_start"
SESSION_METADATA_SLOT = "session_started_metadata"


def conversation_profile(tracker: DialogueStateTracker, new_session: bool = False) -> Profile:
    """The municipality of the conversation: slot, else the channel's metadata, else the
    default (`new_session`: the channel's metadata first, as action_session_start does)."""
    reg = registry()
    latest = getattr(tracker.latest_message, "metadata", None) if tracker.latest_message else None
    session = tracker.get_slot(SESSION_METADATA_SLOT) if SESSION_METADATA_SLOT in tracker.slots else None
    slot = [tracker.get_slot("municipality") if "municipality" in tracker.slots else None]
    requested = [m.get("municipality") for m in (session, latest) if isinstance(m, dict)]
    for slug in (requested + slot if new_session else slot + requested):
        if slug:
            try:
                return reg.get(slug)
            except UnknownMunicipality:
                log.warning("conversation %s names an unknown municipality %r", tracker.sender_id, slug)
    return reg.default


def session_slots(tracker: DialogueStateTracker) -> List[Event]:
    """`municipality` and (if unknown) `language` for a session started without the action server."""
    profile = conversation_profile(tracker, new_session=True)
    events: List[Event] = [SlotSet("municipality", profile.slug)]
    if tracker.get_slot("language") not in LANGS:
        events.append(SlotSet("language", profile.default_language))
    return events


async def apology(nlg: Any, tracker: DialogueStateTracker, output_channel: OutputChannel) -> List[Event]:
    """The technical-problem response as a bot utterance (in the tracker's standard)."""
    message = await nlg.generate(APOLOGY, tracker, output_channel.name())
    if not message:
        message = {"text": "Orsak / beklager: teknisk feil. Ring kommunen."}
    message["utter_action"] = APOLOGY
    return [create_bot_utterance(message)]


def _guarded(run: Any) -> Any:
    async def guarded_run(self: RemoteAction, output_channel: OutputChannel, nlg: Any,
                          tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
        try:
            return await run(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise  # forms use this to hand over to another policy: not a failure
        except RasaException as error:
            log.error("Custom action %r failed (%s); answering with %s", self.name(), error, APOLOGY)
            if self.name() == SESSION_START:
                events = await ActionSessionStart().run(output_channel, nlg, tracker, domain)
                # Rasa's session start ends with action_listen: the slots go before it.
                return events[:-1] + session_slots(tracker) + events[-1:]
            return await apology(nlg, tracker, output_channel)

    guarded_run.kommunebot_guard = True  # type: ignore[attr-defined]
    return guarded_run


def install() -> None:
    """Wrap RemoteAction.run once per process (idempotent)."""
    if not getattr(RemoteAction.run, "kommunebot_guard", False):
        RemoteAction.run = _guarded(RemoteAction.run)  # type: ignore[method-assign]


class GuardedResponseGenerator(TemplatedNaturalLanguageGenerator):
    """Rasa's response generator (domain responses) plus the action-failure guard."""

    def __init__(self, endpoint_config: Any = None, domain: Domain | None = None, **_: Any) -> None:
        super().__init__((domain or Domain.empty()).responses)
        install()

    async def generate(self, utter_action: str, tracker: DialogueStateTracker, output_channel: str,
                       **kwargs: Any) -> Dict[str, Any] | None:
        slots = tracker.current_slot_values()
        try:
            profile = conversation_profile(tracker)
        except Exception:  # a broken profile must not silence the bot: Rasa's plain rendering
            log.exception("No municipality profile for %s", utter_action)
            return self.generate_from_slots(utter_action, slots, output_channel, **kwargs)
        if slots.get("language") not in LANGS:
            slots["language"] = profile.default_language
        values = {**template_values(profile, slots["language"]), **kwargs}
        return self.generate_from_slots(utter_action, slots, output_channel, **values)

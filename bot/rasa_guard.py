"""Never silence: when the action server fails, the Rasa server itself apologises.

Rasa 3.6 logs a failed custom action and carries on without a reply (the REST channel
then returns []). This response generator, configured in endpoints.yml as

    nlg:
      type: bot.rasa_guard.GuardedResponseGenerator

renders domain responses like Rasa's default and, when Rasa starts, wraps
`RemoteAction.run` so that a custom action which cannot be run (server down, timeout,
HTTP error) yields `utter_technical_problem` (phone number, in the citizen's standard)
instead of nothing. A failing `action_session_start` falls back to Rasa's built-in
session start, so the apology comes once, with the citizen's first real question.
Runs in the Rasa server process: no torch, Python 3.10.
"""

from __future__ import annotations

import logging
from typing import Any, List

from rasa.core.actions.action import (ActionExecutionRejection, ActionSessionStart, RemoteAction,
                                      create_bot_utterance)
from rasa.core.channels import OutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

log = logging.getLogger(__name__)

APOLOGY = "utter_technical_problem"
SESSION_START = "action_session_start"


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
                return await ActionSessionStart().run(output_channel, nlg, tracker, domain)
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

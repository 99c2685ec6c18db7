"""Rasa policy for the time a citizen is with a person (waiting in the queue or chatting).

While the slot `live_chat` holds the chat's reference, every message the citizen writes
goes to `action_live_chat_turn` (actions/handoff.py) and nothing else answers: the bot
stands aside, but each message still reaches the action server, which records it for the
handler, keeps the phone numbers and e-mail addresses in it for the handler, and lets
the citizen leave the queue in words ("avbryt", "eg vil ikkje vente lenger").

The first release paused the conversation instead (ConversationPaused); a paused
conversation sends nothing to the action server, so "avbryt" got no answer.

Runs in the Rasa process (no torch, no SQLAlchemy). config.yml:

    policies:
      - name: bot.handoff.live_policy.LiveChatPolicy
        priority: 7          # above RulePolicy (6): a live chat wins over every rule
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

SLOT = "live_chat"
TURN_ACTION = "action_live_chat_turn"
# Actions Rasa runs by itself after every message, before the prediction.
BOOKKEEPING = {"action_extract_slots"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class LiveChatPolicy(Policy):
    """Predicts `action_live_chat_turn` after each citizen message while `live_chat` is set."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"priority": 7}

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.ML_AND_RULE_DATA

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer: Any = None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        # Nothing to learn; persist an empty folder so the trained model can load the policy.
        with self._model_storage.write_to(self._resource):
            pass
        return self._resource

    @staticmethod
    def next_action(tracker: DialogueStateTracker) -> str | None:
        """The action to run now, or None to leave the decision to the other policies."""
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                # a message nobody has handled yet, while the citizen is with a person
                return TURN_ACTION if tracker.get_slot(SLOT) else None
            if isinstance(event, ActionExecuted) and event.action_name not in BOOKKEEPING:
                # after a turn, listen: also when the turn ended the live chat
                return ACTION_LISTEN_NAME if event.action_name == TURN_ACTION else None
        return None

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Dict[str, Any] | None = None,
                                     **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.next_action(tracker)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        # "No user prediction": it outranks rule and ML predictions made from the message.
        return self._prediction(probabilities, is_no_user_prediction=True)

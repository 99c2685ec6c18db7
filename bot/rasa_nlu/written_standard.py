"""Rasa NLU component: tag each message with the citizen's written standard.

Adds the entity `written_standard` (value "nn" or "nb") when `bot.language.detect`
finds evidence; adds nothing when detection is None, so the `language` slot keeps the
standard the conversation already has. Used in config.yml as
`- name: bot.rasa_nlu.written_standard.WrittenStandardExtractor`.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import detect

ENTITY = "written_standard"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class WrittenStandardExtractor(GraphComponent, EntityExtractorMixin):
    """Entity extractor that calls the Nynorsk/Bokmål detector on the whole message."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # Detections below this confidence are treated as "no evidence".
        return {"min_confidence": 0.0}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._min_confidence = float(config.get("min_confidence", 0.0))

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> WrittenStandardExtractor:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Nothing to learn and nothing to add: DIET trains without this entity.
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entity = self.entity_for(message.get(TEXT))
            if entity is not None:
                message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
        return messages

    def entity_for(self, text: str | None) -> Dict[str, Any] | None:
        """The `written_standard` entity for `text`, or None without evidence."""
        if not text or text.startswith("/"):  # "/intent" payloads from buttons carry no language
            return None
        detection = detect(text)
        if detection.lang is None or detection.confidence < self._min_confidence:
            return None
        return {
            "entity": ENTITY,
            "value": detection.lang,
            "start": 0,
            "end": len(text),
            "confidence_entity": float(detection.confidence),
            "extractor": self.__class__.__name__,
        }

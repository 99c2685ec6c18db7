"""Detect whether a text is written in Nynorsk or Bokmål.

The model is a logistic regression over `bot.language.features` (trained by
`bot.language.train`, stored in `model.json` next to this file) plus the hand-made
`bot.language.lexicon`. Scoring is a dictionary look-up per feature: stdlib only, no
torch, a few tens of microseconds for a chat message.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.language.features import iter_features, words
from bot.language.lexicon import MARKERS, PAIR_MARKERS

MODEL_PATH = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class Detection:
    """The written standard of a text: `lang` is "nn", "nb", or None when the text gives no
    clear evidence either way; `confidence` is the probability that `lang` is right
    (0.0 when `lang` is None)."""

    lang: str | None
    confidence: float


class Model:
    """Feature weights (positive = Nynorsk) and the evidence needed to decide."""

    def __init__(self, weights: dict[str, float], threshold: float):
        self.weights = weights
        self.threshold = threshold

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Model:
        """Load a model file written by `bot.language.train`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["weights"], float(data["threshold"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(
                f"cannot load the language model {path}: {exc}. "
                "Restore it from git or retrain: python -m bot.language.train --data ../shared/data/nb_nn"
            ) from exc

    def score(self, text: str) -> float:
        """Log-odds that `text` is Nynorsk rather than Bokmål (0.0 = no evidence)."""
        tokens = words(text)
        get = self.weights.get
        total = sum(get(f, 0.0) for f in iter_features(tokens, MARKERS))
        total += sum(MARKERS.get(tok, 0.0) for tok in tokens)
        return total + sum(PAIR_MARKERS.get(a + " " + b, 0.0) for a, b in zip(tokens, tokens[1:]))

    def detect(self, text: str) -> Detection:
        s = self.score(text)
        if abs(s) < self.threshold:
            return Detection(None, 0.0)
        confidence = 1.0 / (1.0 + math.exp(-min(abs(s), 50.0)))
        return Detection("nn" if s > 0 else "nb", round(confidence, 4))


_model: Model | None = None
_lock = threading.Lock()


def default_model() -> Model:
    """The committed model, loaded once per process (thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = Model.load()
    return _model


def detect(text: str) -> Detection:
    """Nynorsk ("nn"), Bokmål ("nb") or None (no evidence) for `text`, with a confidence."""
    if not isinstance(text, str):
        raise TypeError(f"detect() needs a str, got {type(text).__name__}")
    return default_model().detect(text)

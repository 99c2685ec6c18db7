"""Nynorsk/Bokmål: detect the citizen's written standard (`detect`) and convert text
between the standards with Apertium (`bot.language.apertium.convert`).

    >>> from bot.language import detect
    >>> detect("kva kostar det")
    Detection(lang='nn', confidence=...)

Stdlib only: imported by the Rasa process (Python 3.10) and the action server (3.11).
"""

from __future__ import annotations

from bot.language.detector import Detection, detect

LANGS = ("nn", "nb")  # the two written standards: Nynorsk and Bokmål

__all__ = ["LANGS", "Detection", "detect"]

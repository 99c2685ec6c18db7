"""What every action module needs: the municipality profile and the citizen's standard."""

from __future__ import annotations

from functools import lru_cache

from rasa_sdk import Tracker

from bot.service.profile import Profile, load_profile

LANGS = ("nn", "nb")


@lru_cache(maxsize=1)
def profile() -> Profile:
    """The municipality profile (municipality.yml), loaded once per process."""
    return load_profile()


def language(tracker: Tracker) -> str:
    """The conversation's written standard: the `language` slot, else the municipality's default."""
    lang = tracker.get_slot("language")
    return lang if lang in LANGS else profile().default_language

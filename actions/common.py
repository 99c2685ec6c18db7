"""What every action module needs: the conversation's municipality and the citizen's standard.

    profile(tracker)        # the conversation's Profile (slot `municipality`, else the message's
                            # metadata, else the deployment's default municipality)
    municipality(tracker)   # its slug
    language(tracker)       # "nn" | "nb": the `language` slot, else the municipality's default

Never load "the" profile without a tracker: one action server serves every municipality.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

from bot.language import LANGS
from bot.service.municipalities import UnknownMunicipality, registry, template_values
from bot.service.profile import Profile

log = logging.getLogger(__name__)

SLOT = "municipality"
METADATA_KEY = "municipality"
SESSION_METADATA_SLOT = "session_started_metadata"  # Rasa's: metadata of the session's first message


def requested_municipality(tracker: Tracker) -> str | None:
    """The slug the channel put on the latest message or on the session's first one."""
    for metadata in ((tracker.latest_message or {}).get("metadata"), tracker.get_slot(SESSION_METADATA_SLOT)):
        if isinstance(metadata, dict) and metadata.get(METADATA_KEY):
            return str(metadata[METADATA_KEY])
    return None


def profile(tracker: Tracker) -> Profile:
    """The conversation's municipality profile."""
    reg = registry()
    for slug in (tracker.get_slot(SLOT), requested_municipality(tracker)):
        if slug:
            try:
                return reg.get(slug)
            except UnknownMunicipality:  # channels refuse unknown slugs; a removed profile lands here
                log.warning("conversation %s names an unknown municipality %r; using %s",
                            tracker.sender_id, slug, reg.default_slug)
    return reg.default


def municipality(tracker: Tracker) -> str:
    """The conversation's municipality slug."""
    return profile(tracker).slug


def language(tracker: Tracker) -> str:
    """The conversation's written standard: the `language` slot, else the municipality's default."""
    lang = tracker.get_slot("language")
    return lang if lang in LANGS else profile(tracker).default_language


def profile_values(tracker: Tracker, lang: str | None = None) -> dict[str, Any]:
    """The municipality's words for response {placeholders} (name, phone, service name, ...)."""
    return template_values(profile(tracker), lang or language(tracker))

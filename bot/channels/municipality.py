"""Which municipality a message is for, checked at the channel.

Every channel puts the municipality's slug in the message metadata
(`metadata["municipality"]`): REST clients send it in the body's `metadata`, the widget
from its script tag's `data-municipality`, Messenger from the Facebook page id
(profile `messenger_page_ids`), `rasa shell` through KOMMUNEBOT_DEFAULT_MUNICIPALITY.
A slug nobody has is refused here (REST: HTTP 400), never guessed; a message without
one belongs to the conversation's municipality, or for a new conversation the default.
`action_session_start` copies it into the `municipality` slot.
"""

from __future__ import annotations

from typing import Any

METADATA_KEY = "municipality"


def requested(metadata: Any) -> Any:
    """The slug a message's metadata asks for (None when it names none)."""
    return metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None


def problem(metadata: Any) -> str | None:
    """Why the metadata's municipality cannot be served, or None when it can (or is not given)."""
    from bot.service.municipalities import UnknownMunicipality, registry

    slug = requested(metadata)
    if slug is None:
        return None
    try:
        registry().get(slug)
    except UnknownMunicipality as exc:
        return f"'metadata.municipality': {exc}"
    return None


def default_language(metadata: Any = None) -> str:
    """The default written standard of the metadata's municipality (else the default one)."""
    from bot.service.municipalities import UnknownMunicipality, registry

    reg = registry()
    try:
        return reg.resolve(requested(metadata)).default_language
    except UnknownMunicipality:
        return reg.default.default_language

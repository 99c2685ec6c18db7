"""Rasa SQL tracker store that keeps conversations without personal data in the text.

Before events are written, national identity numbers, phone numbers and e-mail
addresses in the text of user and bot messages (and in extracted entity values) are
replaced by placeholders; the municipality's own phone number and e-mail stay. Slots
are kept as they are: what the dialogue stores in slots is the municipality's choice
(domain.yml). Runs in the Rasa server process (imports rasa); enable it in endpoints.yml:

    tracker_store:
      type: bot.privacy.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite          # or postgresql, with url/port/username/password
      db: var/kommunebot.db
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Iterator

from rasa.core.tracker_store import SQLTrackerStore

from bot.privacy import redact


@lru_cache(maxsize=1)
def _public_contact() -> tuple[str, ...]:
    """The municipalities' own phones and e-mail addresses (kept in bot answers), from their profiles."""
    try:
        from bot.service.municipalities import registry

        return tuple(value for profile in registry() for value in (profile.contact.phone, profile.contact.email))
    except Exception:  # the profile is validated elsewhere at start; redact everything without it
        return ()


def redact_event(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a serialised Rasa event with personal data removed from message text."""
    if data.get("event") not in ("user", "bot"):
        return data
    data = copy.deepcopy(data)
    keep = _public_contact()
    if isinstance(data.get("text"), str):
        data["text"] = redact(data["text"], keep=keep)
    parse = data.get("parse_data")
    if isinstance(parse, dict):
        if isinstance(parse.get("text"), str):
            parse["text"] = redact(parse["text"], keep=keep)
        for entity in parse.get("entities") or []:
            if isinstance(entity, dict) and isinstance(entity.get("value"), str):
                entity["value"] = redact(entity["value"], keep=keep)
    return data


class _RedactedEvent:
    """What SQLTrackerStore.save reads from an event: type_name and as_dict()."""

    def __init__(self, event: Any) -> None:
        self._event = event
        self.type_name = event.type_name

    def as_dict(self) -> dict[str, Any]:
        return redact_event(self._event.as_dict())


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose stored user and bot texts carry no personal data."""

    def _additional_events(self, session: Any, tracker: Any) -> Iterator[Any]:
        for event in super()._additional_events(session, tracker):
            yield _RedactedEvent(event)

"""Rasa SQL tracker store that keeps conversations without personal data.

Before events are written, every string in them is redacted (bot.privacy.redact):
national identity numbers, phone numbers and e-mail addresses become placeholders in the
text of user and bot messages, in extracted entities, in slot values (the case form's
question and contact too), in the data of bot messages (the widget's handoff payloads
repeat the citizen's e-mail address) and in message metadata. Identifiers (event and
action names, message and model ids, channel names) are left as they are, and the
municipality's own phone number and e-mail stay. Server-set metadata
(bot.privacy.metadata.SERVER_KEY: the client's address key) is never written.

The conversation in memory keeps the values for the turn that uses them (the case form's
last step creates the case in the same turn); what is stored and read back later is
redacted. E-mail and phone live only in the case record (bot.handoff).

Runs in the Rasa server process (imports rasa); enable it in endpoints.yml:

    tracker_store:
      type: bot.privacy.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite          # or postgresql, with url/port/username/password
      db: var/kommunebot.db
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator

from rasa.core.tracker_store import SQLTrackerStore

from bot.privacy import redact
from bot.privacy.metadata import SERVER_KEY

# String values under these keys are identifiers, not text anybody wrote.
IDENTIFIER_KEYS = frozenset({
    "event", "name", "policy", "input_channel", "message_id", "model_id", "assistant_id", "entity",
    "extractor", "role", "group", "utter_action", "template_name", "response", "intent_response_key",
    "action_name", "intent_name", "type", "state", "lang",
})


@lru_cache(maxsize=1)
def _public_contact() -> tuple[str, ...]:
    """The municipalities' own phones and e-mail addresses (kept in bot answers), from their profiles."""
    try:
        from bot.service.municipalities import registry

        return tuple(value for profile in registry() for value in (profile.contact.phone, profile.contact.email)
                     if value)
    except Exception:  # the profile is validated elsewhere at start; redact everything without it
        return ()


# Personal data the redaction finds always has a digit or an "@": other strings are skipped.
_MAYBE_PERSONAL = re.compile(r"[0-9@]")


def _scrub(value: Any, keep: tuple[str, ...], key: str | None = None) -> Any:
    if isinstance(value, str):
        if key in IDENTIFIER_KEYS or not _MAYBE_PERSONAL.search(value):
            return value
        return redact(value, keep=keep)
    if isinstance(value, dict):
        return {k: _scrub(v, keep, k) for k, v in value.items() if k != SERVER_KEY}
    if isinstance(value, list | tuple):
        return [_scrub(v, keep, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000_000:
        text = str(value)  # a number sent as JSON number, e.g. in a slot or metadata
        redacted = redact(text, keep=keep)
        return value if redacted == text else redacted
    return value


def redact_event(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a serialised Rasa event with personal data removed from every string
    (identifiers excepted) and server-set metadata dropped."""
    return _scrub(data, _public_contact())


class _RedactedEvent:
    """What SQLTrackerStore.save reads from an event: type_name and as_dict()."""

    def __init__(self, event: Any) -> None:
        self._event = event
        self.type_name = event.type_name

    def as_dict(self) -> dict[str, Any]:
        return redact_event(self._event.as_dict())


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose stored events carry no personal data."""

    def _additional_events(self, session: Any, tracker: Any) -> Iterator[Any]:
        for event in super()._additional_events(session, tracker):
            yield _RedactedEvent(event)

    async def exists(self, conversation_id: str) -> bool:
        """Whether any event of the conversation is stored (one indexed look-up)."""
        with self.session_scope() as session:
            query = session.query(self.SQLEvent.id).filter(self.SQLEvent.sender_id == conversation_id)
            return session.query(query.exists()).scalar()

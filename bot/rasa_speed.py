"""Per-message cost fixes for the Rasa server process (Rasa Open Source 3.6).

`install()` is called once when Rasa creates the tracker store (bot.rasa_tracker), before
the first message. What it changes, and why (measured in bench/REPORT.md, "Rasa's cost
per message"):

- Rasa checks every custom action's response with `jsonschema.validate(response,
  schema)`, which first validates the *schema itself* against the JSON Schema
  meta-schema, on every call. With jsonschema 4.17 that check dominated the Rasa
  server's CPU time for a message that runs a custom action. The schema is a constant,
  so it is checked once here and the compiled validator is reused: the response is
  validated exactly as before and a bad response still raises the same ValidationError.

Runs in the Rasa server process: Python 3.10, no torch.
"""

from __future__ import annotations

import threading
from typing import Any, Dict

_lock = threading.Lock()


_validators: dict[type, Any] = {}


def _validator(action_class: Any) -> Any:
    """The compiled validator of `action_class`'s response schema (a constant), checked once."""
    validator = _validators.get(action_class)
    if validator is None:
        from jsonschema.validators import validator_for

        schema = action_class.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        validator = _validators[action_class] = cls(schema)
    return validator


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the compiled validator (same errors)."""
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _validator(type(self)).validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def install() -> None:
    """Apply the fixes once per process (idempotent). KOMMUNEBOT_RASA_SPEED=off leaves Rasa
    as it is (for measuring the difference: bench.rasa_cost)."""
    import os

    from rasa.core.actions.action import RemoteAction

    if os.environ.get("KOMMUNEBOT_RASA_SPEED", "").strip().lower() in ("off", "0", "false"):
        return

    with _lock:
        if getattr(RemoteAction._validate_action_result, "kommunebot_speed", False):
            return
        _validate_action_result.kommunebot_speed = True  # type: ignore[attr-defined]
        RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]

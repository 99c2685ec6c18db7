"""The one clock the handoff, the dialogue and the portal read, so tests can set the time.

KOMMUNEBOT_NOW (for tests and demos only) fixes "now":
  - an ISO-8601 moment, e.g. 2026-11-23T20:00:00+01:00 (no offset: Europe/Oslo time);
  - or file:PATH, a file holding such a moment (lets a test move the clock of running servers).
Unset, it is the real time.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

SETTING = "KOMMUNEBOT_NOW"
LOCAL = ZoneInfo("Europe/Oslo")


def parse_moment(text: str) -> datetime:
    """An aware datetime from ISO-8601 text; without an offset the time is Oslo time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{SETTING}: {text.strip()!r} is not an ISO-8601 moment "
                         "(e.g. 2026-11-23T10:00+01:00)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def now() -> datetime:
    """The current moment (aware, UTC), or the moment KOMMUNEBOT_NOW fixes."""
    value = os.environ.get(SETTING, "").strip()
    if not value:
        return datetime.now(timezone.utc)
    if value.startswith("file:"):
        value = Path(value[len("file:"):]).read_text(encoding="utf-8")
    return parse_moment(value).astimezone(timezone.utc)

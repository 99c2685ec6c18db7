"""Message metadata: what a client may send, and what only the server sets.

A channel builds a message's metadata from two parts:

- `client_metadata(raw)`: the few keys a client may set (`CLIENT_KEYS`), each a short
  string; anything else the client sent is dropped, so nothing the client made up is
  passed on or stored as sent;
- `with_server(metadata, client=...)`: facts only the server knows, under `SERVER_KEY`
  (today the client key: a keyed hash of the client's address, for the per-address limits
  in the action server). A client cannot set this key (it is dropped from client
  metadata), and the tracker store never writes it (bot.privacy.tracker_store).

    metadata = with_server(client_metadata(body.get("metadata")), client=client_key(address))
    server_fact(tracker.latest_message.get("metadata"), "client")   # in an action

Stdlib only (runs in the Rasa process and the action server).
"""

from __future__ import annotations

import re
from typing import Any

SERVER_KEY = "kommunebot"
# Keys a client may set, with the values each may have: the widget's page language and
# the municipality (a profile's slug, municipalities/<slug>.yml).
CLIENT_KEYS = {
    "widget_lang": re.compile(r"nn|nb"),
    "municipality": re.compile(r"[a-z0-9-]{1,40}"),
}


def client_metadata(raw: Any) -> dict[str, str]:
    """The allowed part of client-sent metadata: known keys with well-formed values."""
    if not isinstance(raw, dict):
        return {}
    return {key: value for key, value in raw.items()
            if key in CLIENT_KEYS and isinstance(value, str) and CLIENT_KEYS[key].fullmatch(value)}


def with_server(metadata: dict[str, Any] | None, **facts: str | None) -> dict[str, Any]:
    """`metadata` plus server-set facts under SERVER_KEY (replacing any the client sent)."""
    out = {k: v for k, v in (metadata or {}).items() if k != SERVER_KEY}
    out[SERVER_KEY] = {k: v for k, v in facts.items() if v}
    return out


def server_fact(metadata: Any, name: str) -> str | None:
    """A fact the server set on a message (e.g. "client"), or None."""
    if not isinstance(metadata, dict):
        return None
    facts = metadata.get(SERVER_KEY)
    value = facts.get(name) if isinstance(facts, dict) else None
    return value if isinstance(value, str) and value else None

"""Secrets the servers share, and what is signed or hashed with them.

- `secret_key()`: KOMMUNEBOT_SECRET_KEY, else the file <var>/secret-key (made once, 0600).
  Signs conversation tokens (socket.io and REST) and keys the hash of client addresses.
  Every Rasa server of a deployment needs the same key; changing it ends every open
  widget session (the widget starts a new conversation) and every REST token.
- `action_token()`: KOMMUNEBOT_ACTION_TOKEN, else <var>/action-token (made once, 0600).
  Rasa sends it to the action server (endpoints.yml), which refuses calls without it.

`kommunebot run` (bot.stack) creates both files and passes the values to its servers.
Stdlib only: runs in the Rasa process and the action server.

    token = sign("rest", sender_id)          # 32 URL-safe characters
    verify("rest", sender_id, token)         # constant time
    client_key("203.0.113.7")                # "c-..." : the same address, the same key
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.config import settings

SECRET_SETTING = "KOMMUNEBOT_SECRET_KEY"
ACTION_TOKEN_SETTING = "KOMMUNEBOT_ACTION_TOKEN"
MAC_CHARS = 32  # 192 bits of HMAC-SHA256, URL-safe base64


def read_or_create(path: Path) -> str:
    """The secret in `path`, made (random, owner-only 0600) if the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another server made it first
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(32))
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise RuntimeError(f"{path} is empty: delete it (a new secret is made) or set the setting")
    return value


def _setting_or_file(setting: str, filename: str) -> str:
    value = os.environ.get(setting, "").strip()
    return value or read_or_create(settings().var_dir / filename)


_cache: dict[tuple[str, str, str], str] = {}


def _cached(setting: str, filename: str) -> str:
    key = (setting, os.environ.get(setting, ""), str(settings().var_dir))
    if key not in _cache:
        _cache[key] = _setting_or_file(setting, filename)
    return _cache[key]


def secret_key() -> str:
    """The deployment's signing key (KOMMUNEBOT_SECRET_KEY or <var>/secret-key)."""
    return _cached(SECRET_SETTING, "secret-key")


def action_token() -> str:
    """The token Rasa sends to the action server (KOMMUNEBOT_ACTION_TOKEN or <var>/action-token)."""
    return _cached(ACTION_TOKEN_SETTING, "action-token")


def _mac(purpose: str, value: str) -> str:
    key = hmac.new(secret_key().encode(), purpose.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:MAC_CHARS]


def sign(purpose: str, value: str) -> str:
    """A MAC of `value` for one purpose ("rest", "socketio", ...): only the server can make it."""
    return _mac(purpose, value)


def verify(purpose: str, value: str, mac: object) -> bool:
    """`mac` is sign(purpose, value) (constant-time comparison)."""
    return isinstance(mac, str) and hmac.compare_digest(sign(purpose, value).encode(), mac.encode("utf-8", "replace"))


def client_key(address: str) -> str:
    """A keyed hash of a client address: counts per address without keeping the address."""
    return "c-" + _mac("client-address", address)[:22]

"""What every public channel checks before a message reaches the assistant (issue 14).

Imported by the Rasa server process (Python 3.10): stdlib, Sanic and Rasa only.

- **Body size.** `limited(blueprint)` makes registering the channel set the Rasa server's
  request limit to KOMMUNEBOT_MAX_BODY_BYTES (default 64 KB) and its websocket frame
  limit to the same: Sanic refuses a larger body with 413 from the Content-Length header
  (or as soon as a chunked body passes the limit), before it is read, and closes a
  websocket that sends a larger frame (code 1009). Rasa's HTTP API shares the limit
  (its training and testing uploads are not used: train with `make train`).
- **Client address.** `client_of(request)`: the peer, or behind a trusted proxy
  (KOMMUNEBOT_TRUSTED_PROXIES) the address it forwards; only its keyed hash travels on
  (bot.privacy.keys.client_key), as server-set metadata for the limits in the actions.
- **Origins.** `origin_allowed(origin, request)`: KOMMUNEBOT_CORS lists the web sites that
  may embed the widget (spaces or commas between origins; "*" = any site); the server's
  own origin is always allowed. The socket.io channel refuses a connection from another
  site; `kommunebot run` passes the same list to Rasa's CORS.
- **Message rate.** `message_rate().allow(conversation, client)`: at most
  KOMMUNEBOT_LIMIT_MESSAGES_PER_MINUTE messages a minute in one conversation (default 20)
  and KOMMUNEBOT_LIMIT_MESSAGES_PER_ADDRESS_MINUTE from one client address (default 120);
  more get `TOO_FAST` in the citizen's standard (REST: HTTP 429 with Retry-After) and are
  not processed. The widget's other events have their own rate (`widget_event_rate()`,
  KOMMUNEBOT_LIMIT_WIDGET_EVENTS_PER_MINUTE, default 60 per session, 600 per address).
  Counted per Rasa process, in memory. Addresses in KOMMUNEBOT_LIMIT_EXEMPT
  (networks, e.g. a monitoring host) have no per-address limits, here or in the actions.
- **REST conversations.** `rest_session(request, sender, body)`: the first message of a
  new sender id is answered with a token (header X-Kommunebot-Session); a conversation
  that exists is continued only with its token, so knowing somebody's sender id is not
  enough to read or write their conversation. A trusted integration may instead send
  `Authorization: Bearer <KOMMUNEBOT_REST_INTEGRATION_TOKEN>` and use any sender id.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections import OrderedDict, deque
from functools import lru_cache
from typing import Any

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.privacy import keys
from bot.privacy.proxy import client_address

logger = logging.getLogger(__name__)

BODY_SETTING = "KOMMUNEBOT_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
CORS_SETTING = "KOMMUNEBOT_CORS"
INTEGRATION_SETTING = "KOMMUNEBOT_REST_INTEGRATION_TOKEN"
SESSION_HEADER = "X-Kommunebot-Session"
SESSION_FIELD = "session_token"
EXEMPT_SETTING = "KOMMUNEBOT_LIMIT_EXEMPT"
RATE_SETTINGS = {"conversation": ("KOMMUNEBOT_LIMIT_MESSAGES_PER_MINUTE", 20),
                 "client": ("KOMMUNEBOT_LIMIT_MESSAGES_PER_ADDRESS_MINUTE", 120)}
WIDGET_EVENT_SETTING = ("KOMMUNEBOT_LIMIT_WIDGET_EVENTS_PER_MINUTE", 60)
TOO_FAST = {
    "nn": "Du sender mange meldingar på kort tid. Vent eit minutt, så kan du skrive igjen.",
    "nb": "Du sender mange meldinger på kort tid. Vent et minutt, så kan du skrive igjen.",
}


# -- body size --------------------------------------------------------------------------------

def max_body_bytes() -> int:
    value = os.environ.get(BODY_SETTING, "").strip()
    try:
        return int(value) if value else DEFAULT_MAX_BODY_BYTES
    except ValueError:
        raise ValueError(f"{BODY_SETTING}={value!r} is not a number of bytes (e.g. 65536)") from None


def limit_body_sizes(app: Sanic) -> None:
    """Refuse request bodies and websocket frames over the limit (before they are read)."""
    limit = max_body_bytes()
    app.config.REQUEST_MAX_SIZE = limit
    app.config.WEBSOCKET_MAX_SIZE = limit


_limited_classes: dict[type, type] = {}


def limited(blueprint: Blueprint) -> Blueprint:
    """`blueprint`, whose registration on the Rasa server sets the body limits (before the
    server starts: Sanic reads the websocket limit when it starts listening)."""
    cls = type(blueprint)
    if cls not in _limited_classes:
        def register(self: Blueprint, app: Sanic, options: dict[str, Any]) -> None:
            limit_body_sizes(app)
            cls.register(self, app, options)

        # Sanic blueprints have __slots__: swap in a subclass rather than set an attribute.
        _limited_classes[cls] = type(f"Limited{cls.__name__}", (cls,), {"__slots__": (), "register": register})
    object.__setattr__(blueprint, "__class__", _limited_classes[cls])
    return blueprint


# -- client address and origin -----------------------------------------------------------------

def client_of(request: Request) -> str:
    """The client's address (behind a trusted proxy, the one it forwards)."""
    return client_address(request.ip, request.headers.get("x-forwarded-for"))


@lru_cache(maxsize=8)
def _exempt(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(n, strict=False) for n in value.replace(",", " ").split())
    except ValueError as exc:
        raise ValueError(f"{EXEMPT_SETTING}: {exc} (write networks, e.g. 192.0.2.10/32)") from None


def exempt(address: str) -> bool:
    """The address is in KOMMUNEBOT_LIMIT_EXEMPT (no per-address limits)."""
    networks = _exempt(os.environ.get(EXEMPT_SETTING, ""))
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_key_of(request: Request) -> str | None:
    """The keyed hash of the client's address (for per-address limits); None when exempt."""
    address = client_of(request)
    return None if exempt(address) else keys.client_key(address)


def allowed_origins() -> list[str]:
    """KOMMUNEBOT_CORS as a list ("*" = any); unset: none besides the server's own."""
    return [o.rstrip("/") for o in os.environ.get(CORS_SETTING, "").replace(",", " ").split()]


def origin_allowed(origin: str | None, own_origin: str | None = None) -> bool:
    """A browser page from `origin` may talk to this server (no Origin: not a browser page)."""
    if not origin:
        return True
    allowed = allowed_origins()
    origin = origin.rstrip("/")
    return "*" in allowed or origin in allowed or (own_origin is not None and origin == own_origin.rstrip("/"))


# -- message rate ------------------------------------------------------------------------------

def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None


class MessageRate:
    """Sliding one-minute windows per conversation and per client (in memory, bounded)."""

    def __init__(self, per_conversation: int, per_client: int, window_s: float = 60.0,
                 max_keys: int = 100_000) -> None:
        self.limits = {"conversation": per_conversation, "client": per_client}
        self.window_s, self.max_keys = window_s, max_keys
        self._seen: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._seen.pop(key, None) or deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        self._seen[key] = times  # most recently used last
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return times

    def allow(self, conversation: str, client: str | None, now: float | None = None) -> bool:
        """Count a message; False (not counted) when a limit is reached."""
        now = time.monotonic() if now is None else now
        windows = [self._recent(("conversation", conversation), now)]
        if client:
            windows.append(self._recent(("client", client), now))
        scopes = ["conversation", "client"][:len(windows)]
        if any(len(w) >= self.limits[scope] for w, scope in zip(windows, scopes)):
            return False
        for window in windows:
            window.append(now)
        return True


_rates: dict[tuple[str, int, int], MessageRate] = {}


def message_rate() -> MessageRate:
    """The process's message counter, with the limits from the settings."""
    limits = (_setting(*RATE_SETTINGS["conversation"]), _setting(*RATE_SETTINGS["client"]))
    key = ("messages", *limits)
    if key not in _rates:
        _rates[key] = MessageRate(*limits)
    return _rates[key]


def widget_event_rate() -> MessageRate:
    """The counter for the widget's other events (session_request, kb_sync, kb_ack): each
    reads or writes the handoff database, so a script sending them in a loop is cut off.
    KOMMUNEBOT_LIMIT_WIDGET_EVENTS_PER_MINUTE per session or socket (default 60) and ten
    times that per client address; events over it are dropped without an answer."""
    per_session = _setting(*WIDGET_EVENT_SETTING)
    key = ("widget", per_session, per_session * 10)
    if key not in _rates:
        _rates[key] = MessageRate(per_session, per_session * 10)
    return _rates[key]


# -- REST conversations --------------------------------------------------------------------------

async def conversation_exists(app: Sanic, sender: str) -> bool:
    """Whether Rasa's tracker store holds the conversation (one look-up, no tracker built)."""
    agent = getattr(app.ctx, "agent", None)
    store = getattr(agent, "tracker_store", None)
    while store is not None and hasattr(store, "_tracker_store"):  # FailSafe / Awaitable wrappers
        store = store._tracker_store
    if store is None:
        return False
    return bool(await store.exists(sender))


def _integration(request: Request) -> bool:
    expected = os.environ.get(INTEGRATION_SETTING, "").strip()
    sent = request.headers.get("authorization", "")
    return bool(expected) and sent.startswith("Bearer ") and \
        hmac.compare_digest(sent[len("Bearer "):].strip().encode(), expected.encode())


def rest_token(sender: str) -> str:
    return keys.sign("rest", sender)


async def rest_session(request: Request, sender: str, body: dict[str, Any]) -> HTTPResponse | None:
    """None when this client may write to `sender`'s conversation, else the refusal."""
    if _integration(request):
        return None
    token = request.headers.get(SESSION_HEADER) or body.get(SESSION_FIELD)
    if token:
        if keys.verify("rest", sender, token):
            return None
        return response.json({"error": f"the {SESSION_HEADER} token does not belong to the conversation "
                                       f"{sender!r}: send the token this conversation's first reply carried"},
                             status=403)
    try:
        exists = await conversation_exists(request.app, sender)
    except Exception:  # the conversation store is down: do not guess
        logger.exception("rest: could not check whether a conversation exists")
        return response.json({"error": "the conversation store is unavailable; try again shortly"}, status=503)
    if exists:
        return response.json({"error": f"the conversation {sender!r} exists: continue it with the "
                                       f"{SESSION_HEADER} header its first reply carried, or start a new "
                                       "conversation with a new, random sender id (docs/CHANNELS.md)"},
                             status=403)
    return None


def with_session_header(resp: HTTPResponse, sender: str) -> HTTPResponse:
    resp.headers[SESSION_HEADER] = rest_token(sender)
    return resp

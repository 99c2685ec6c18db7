"""The web widget's channel: Rasa's socket.io channel with checked input.

Rasa's `SocketIOInput` trusts what a browser sends: a non-object payload raises inside the
handler (the citizen gets silence), empty and 100 kB messages go to the NLU pipeline, and a
session id may be any value. This subclass keeps Rasa's protocol (session_request /
session_confirm, user_uttered / bot_uttered, rooms per session id) and replaces the
handlers that read client data, so bad input gets a friendly answer and is never processed.

Sessions are the server's (issue 14): `session_confirm` carries `{"session_id",
"session_token"}`; the session id is made by the server and the token (the id with a MAC,
bot.privacy.keys) is the only way back into it (`session_request {"session_token": ...}`
after a reload). A socket writes to and receives for the one session it proved, whatever
`session_id` a message claims, so knowing a conversation id gives no access to it.
Connections from web sites not in KOMMUNEBOT_CORS are refused; bodies and frames over
KOMMUNEBOT_MAX_BODY_BYTES (64 KB) are refused before they are read (bot.channels.guard).

With several Rasa servers behind a load balancer, set KOMMUNEBOT_SOCKETIO_REDIS_URL (e.g.
redis://127.0.0.1:6379/1, a private Redis) so that a message one server emits (a staff
reply relayed with output_channel=latest) reaches a widget connected to another. Messages
pass through Redis as JSON (`JsonRedisManager`): python-socketio's own manager unpickles
what it reads, which would run code for anybody who can write to that Redis.

Delivery of staff replies (handoff engineer): the widget confirms every staff message it
shows (`kb_ack`), and on every (re)connect (`session_request`, `kb_sync`) the channel
sends again what it has not confirmed and tells the widget where it stands in the
queue (`kb_status`). Connects and disconnects are recorded, so staff see when the citizen
left. All of it goes through bot.handoff.presence (plain SQL on KOMMUNEBOT_DATABASE_URL).

credentials.yml::

    bot.channels.socketio.HardenedSocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from redis.exceptions import RedisError  # type: ignore[import-untyped]
from sanic import Blueprint
from socketio import AsyncRedisManager

from bot.channels import guard, municipality
from bot.channels.user_text import NOT_TEXT, check_text, default_language, language_of, reply_for
from bot.handoff.presence import Presence
from bot.privacy import keys
from bot.privacy.metadata import client_metadata, with_server
from bot.privacy.proxy import forwarded_https

logger = logging.getLogger(__name__)

# Session ids the widget makes (uuid4 hex) and other clients' reasonable ids.
_SESSION_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")


UNKNOWN_MUNICIPALITY = {
    "nn": "Chatten er sett opp med ein kommune som ikkje finst her ({slug}). Gi beskjed til dei som driv nettstaden.",
    "nb": "Chatten er satt opp med en kommune som ikke finnes her ({slug}). Gi beskjed til dem som drifter nettstedet.",
}

NO_SESSION = {
    "nn": "Chatten manglar ein samtale-ID. Last inn sida på nytt og prøv igjen.",
    "nb": "Chatten mangler en samtale-ID. Last inn siden på nytt og prøv igjen.",
}


def _valid_session_id(value: object) -> str | None:
    return value if isinstance(value, str) and _SESSION_ID.fullmatch(value) else None


def session_token(session_id: str) -> str:
    """What the widget keeps to come back to its session: the id and its MAC."""
    return f"{session_id}.{keys.sign('socketio', session_id)}"


def session_of_token(token: object) -> str | None:
    """The session id a token proves, or None (malformed, forged, another key)."""
    if not isinstance(token, str) or token.count(".") != 1:
        return None
    session_id, mac = token.split(".")
    return session_id if _valid_session_id(session_id) and keys.verify("socketio", session_id, mac) else None


class JsonRedisManager(AsyncRedisManager):
    """python-socketio's Redis client manager with JSON on the wire instead of pickle.

    The stock manager unpickles every message on its channel: anybody who can publish to
    the Redis server could run code in every Rasa process. This one writes JSON and reads
    only JSON objects (everything it relays is JSON: the widget protocol is JSON)."""

    async def _publish(self, data: Any) -> Any:
        message = json.dumps(data)
        for attempt in (1, 2):
            try:
                if attempt == 2:
                    self._redis_connect()
                return await self.redis.publish(self.channel, message)
            except RedisError:
                self._get_logger().error("Cannot publish to redis%s", "... retrying" if attempt == 1 else "; giving up")
        return None

    async def _listen(self) -> Any:
        async for message in super()._listen():
            try:
                data = json.loads(message)
            except (TypeError, ValueError, UnicodeDecodeError):
                logger.warning("socketio: a message on the Redis channel that is not JSON was ignored")
                continue
            if isinstance(data, dict):
                yield data


class LanguageTaggedOutput(SocketIOOutput):
    """Adds `"lang": "nn"|"nb"` to each text message (detected), so the widget can set
    `lang` on every message, not only on those followed by a custom payload."""

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if isinstance(response, dict) and isinstance(response.get("text"), str):
            lang = language_of(response["text"], "")
            if lang:
                response = {**response, "lang": lang}
        await super()._send_message(socket_id, response)


class HardenedSocketIOInput(SocketIOInput):
    """Socket.io channel (name "socketio") that validates every client event."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def get_output_channel(self) -> SocketIOOutput | None:
        """The output for messages the staff portal relays (`output_channel=latest`)."""
        return None if self.sio is None else LanguageTaggedOutput(self.sio, self.bot_message_evt)

    _presence: Presence | None = None

    def presence(self) -> Presence:
        if self._presence is None:
            self._presence = Presence.from_settings()
        return self._presence

    async def _db(self, method: str, session_id: str, *args: Any, **kwargs: Any) -> Any:
        """Run a presence call off the event loop (the database may be slow), one at a time
        per session in the order the events came (an acknowledgement, then a disconnect)."""
        locks = self.__dict__.setdefault("_presence_locks", {})
        lock = locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            result = await asyncio.get_running_loop().run_in_executor(
                None, lambda: getattr(self.presence(), method)(session_id, *args, **kwargs))
        if len(locks) > 10_000:  # bounded: forget the sessions nobody is waiting for
            for key in [k for k, v in locks.items() if not v.locked()]:
                locks.pop(key, None)
        return result
    async def _facts(self, sid: str) -> dict[str, Any]:
        """What this socket proved and where it comes from (kept for the connection)."""
        try:
            return dict(await self.sio.get_session(sid, namespace=self.namespace))
        except KeyError:
            return {}

    async def _remember(self, sid: str, **facts: Any) -> None:
        await self.sio.save_session(sid, {**await self._facts(sid), **facts}, namespace=self.namespace)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = guard.limited(super().blueprint(on_new_message))
        sio = self.sio
        sessions: dict[str, str] = {}  # socket id -> the widget's session (conversation) id
        sio.eio.max_http_buffer_size = guard.max_body_bytes()  # long-polling bodies and packets
        redis_url = os.environ.get("KOMMUNEBOT_SOCKETIO_REDIS_URL")
        if redis_url:  # several Rasa servers: a message emitted by one reaches sockets on all
            manager = JsonRedisManager(redis_url, channel="kommunebot-socketio")
            manager.set_server(sio)
            sio.manager = manager
        output = LanguageTaggedOutput(sio, self.bot_message_evt)
        rasa_connect = sio.handlers[self.namespace or "/"]["connect"]  # keeps Rasa's optional JWT check

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            if request is None:  # not served by Sanic: nothing to check against
                return await rasa_connect(sid, environ, auth)
            scheme = "https" if request.scheme == "https" or forwarded_https(
                request.ip, request.headers.get("x-forwarded-proto")) else "http"
            origin = environ.get("HTTP_ORIGIN")
            if not guard.origin_allowed(origin, f"{scheme}://{request.host}"):
                logger.warning("socketio: connection from %r refused: not in %s", str(origin)[:100],
                               guard.CORS_SETTING)
                return False
            if not await rasa_connect(sid, environ, auth):
                return False
            await self._remember(sid, client=guard.client_key_of(request))
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, *args: Any) -> None:
            if not guard.widget_event_rate().allow(f"socket:{sid}", (await self._facts(sid)).get("client")):
                return  # a script asking for sessions in a loop
            data = args[0] if args and isinstance(args[0], dict) else {}
            session_id = session_of_token(data.get("session_token")) or uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):  # async in python-socketio >= 5.10 (RasaHQ/rasa#13027)
                    await joined
            await self._remember(sid, session_id=session_id)
            await sio.emit("session_confirm", {"session_id": session_id, "session_token": session_token(session_id)},
                           room=sid, namespace=self.namespace)
            sessions[sid] = session_id
            await resync(sid, session_id)

        async def resync(sid: str, session_id: str) -> None:
            """The citizen is (back) online: record it, send again what the browser has not
            confirmed (it drops what it has already), and say where the chat stands."""
            await self._db("connected", session_id)
            for _, payload in await self._db("unacknowledged", session_id):
                await sio.emit(self.bot_message_evt, payload, room=sid, namespace=self.namespace)
            status = await self._db("queue_status", session_id)
            await sio.emit("kb_status", status.to_json() if status else {"state": None},
                           room=sid, namespace=self.namespace)

        async def own_session(sid: str, data: Any) -> str | None:
            """The session this socket proved (session_token); a socket cannot act for another
            session. None too when the socket sends these events faster than the widget does
            (each reads or writes the database; bot.channels.guard.widget_event_rate)."""
            if not isinstance(data, dict):
                return None
            session_id = _valid_session_id(data.get("session_id"))
            if not session_id or sessions.get(sid) != session_id:
                return None
            if not guard.widget_event_rate().allow(f"session:{session_id}", (await self._facts(sid)).get("client")):
                return None
            return session_id

        @sio.on("kb_ack", namespace=self.namespace)
        async def acknowledge(sid: str, *args: Any) -> None:
            data = args[0] if args else None
            session_id = await own_session(sid, data)
            ids = data.get("ids") if isinstance(data, dict) else None
            if session_id and isinstance(data, dict) and isinstance(ids, list):
                await self._db("acknowledge", session_id, [i for i in ids if isinstance(i, int)][:200],
                               seen=data.get("seen") is True)

        @sio.on("kb_sync", namespace=self.namespace)
        async def sync(sid: str, *args: Any) -> None:
            session_id = await own_session(sid, args[0] if args else None)
            if session_id:
                await resync(sid, session_id)

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str, *args: Any) -> None:
            session_id = sessions.pop(sid, None)
            if session_id and session_id not in sessions.values():  # its last open tab
                await self._db("disconnected", session_id)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, *args: Any) -> None:
            data = args[0] if args and isinstance(args[0], dict) else None
            if data is None:
                await output.send_text_message(sid, reply_for(NOT_TEXT, default_language()))
                return
            facts = await self._facts(sid)
            if self.session_persistence:
                sender_id = facts.get("session_id")  # the session this socket proved, never a claimed one
                if sender_id is None:
                    logger.warning("socketio: message before session_request ignored; "
                                   "the client must send session_request first")
                    await output.send_text_message(sid, NO_SESSION[default_language()])
                    return
            else:
                sender_id = sid
            metadata = data.get(self.metadata_key)
            metadata = metadata if isinstance(metadata, dict) else {}
            widget_lang = metadata.get("widget_lang")
            if municipality.problem(metadata):  # the widget's data-municipality names no municipality here
                logger.warning("socketio: message for unknown municipality %r refused",
                               municipality.requested(metadata))
                lang = widget_lang if widget_lang in ("nn", "nb") else default_language()
                slug = str(municipality.requested(metadata))[:40]
                await output.send_text_message(sender_id, UNKNOWN_MUNICIPALITY[lang].format(slug=slug))
                return
            if not guard.message_rate().allow(sender_id, facts.get("client")):
                await output.send_text_message(sender_id, guard.TOO_FAST[
                    widget_lang if widget_lang in ("nn", "nb") else default_language(metadata)])
                return
            checked = check_text(data.get("message"))
            if checked.problem:
                fallback = widget_lang if widget_lang in ("nn", "nb") else default_language(metadata)
                raw = data.get("message")
                lang = language_of(raw[:200], fallback) if isinstance(raw, str) else fallback
                await output.send_text_message(sender_id, reply_for(checked.problem, lang))
                return
            await on_new_message(UserMessage(
                checked.text, output, sender_id, input_channel=self.name(),
                metadata=with_server(client_metadata(metadata), client=facts.get("client")),
            ))

        return webhook

"""The portal's background work: hand staff messages to the citizen's chat, end chats
nobody should wait in, keep the queue's estimates fresh, and tell open pages what changed.

- Delivery: staff messages are stored first; `deliver(conversation)` asks Rasa to run the
  relay action (or the end action), which hands them to the chat. What Rasa could not
  take (down, restarting) is retried every few seconds. Whether the citizen got a
  message is decided later, by the browser's acknowledgement (bot/handoff/presence.py).
- Sweeper, every 2 s, with the service clock (KOMMUNEBOT_NOW in tests):
  * closing time: a chat still waiting when chat closes ends; with a phone number or
    e-mail address written in the chat it becomes a case, otherwise the citizen is
    offered a written answer (the case form) and told when chat opens;
  * a citizen disconnected for `live_chat.citizen_gone_after` has left: the chat ends,
    or becomes a case if they left a contact;
  * a chat where the citizen has not answered staff for `live_chat.idle_after` ends the
    same way;
  * queue position and estimated wait of every waiting chat (read by the chat channel).
- ChangeHub: polls `handoffs.updated_at` (every change bumps it, in every process) and
  wakes the server-sent-event streams of open portal pages.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timedelta

from bot.handoff import clock
from bot.handoff.queue import chat_minutes, queue_estimates
from bot.handoff.store import HandoffError, HandoffStore, HandoffView, wall_clock
from bot.privacy import redact
from bot.service.eta import availability
from bot.staff.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger(__name__)

RELAY_INTERVAL_S = 5.0
SWEEP_INTERVAL_S = 2.0
POLL_INTERVAL_S = 0.5
CASE_CHANNEL = "email"


class Delivery:
    """Hands stored staff messages to the citizen's chat through Rasa."""

    def __init__(self, store: HandoffStore, rasa: RasaClient) -> None:
        self.store, self.rasa = store, rasa
        self._locks: dict[str, asyncio.Lock] = {}

    async def __call__(self, conversation_id: str) -> bool:
        """Run the relay (or end) action for the conversation; False if Rasa failed."""
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            unsent = self.store.unsent(conversation_id)
            if not unsent:
                return True
            action = "action_end_live_chat" if any(m.kind == "ended" for m in unsent) else "action_relay_staff_message"
            try:
                await self.rasa.execute(conversation_id, action)
            except RasaUnavailable as exc:
                log.warning("relay to conversation %s waits: %s", redact(conversation_id), exc)
                return False
            return not self.store.unsent(conversation_id)

    async def retry_forever(self) -> None:
        """Deliver what could not be delivered before (Rasa restarting, say)."""
        while True:
            await asyncio.sleep(RELAY_INTERVAL_S)
            try:
                for conversation_id in self.store.conversations_with_unsent():
                    await self(conversation_id)
            except Exception:  # keep retrying; the database may be restarting
                log.exception("relay of pending staff messages failed; retrying")


class Sweeper:
    """Ends chats nobody should wait in, and keeps the queue estimates fresh."""

    def __init__(self, store: HandoffStore, deliver: Delivery, profile_for) -> None:
        self.store, self.deliver, self.profile_for = store, deliver, profile_for

    def _idle_since(self, chat: HandoffView) -> datetime | None:
        """When staff last wrote without an answer from the citizen since (None: the
        citizen has the last word, or staff have not written)."""
        last_staff = max((m.created_at for m in self.store.messages(chat.reference) if m.kind == "message"),
                         default=None)
        if last_staff is None:
            return None
        if chat.citizen_message_at and chat.citizen_message_at >= last_staff:
            return None
        return last_staff

    async def _end(self, chat: HandoffView, reason: str, now: datetime, profile) -> None:
        promised = availability(profile, CASE_CHANNEL, now).expected_by
        try:
            ended = self.store.end_live_chat(chat.reference, reason=reason, now=now, promised_by=promised)
        except HandoffError:
            return  # closed meanwhile by staff or the citizen
        log.info("live chat %s ended: %s%s", chat.reference, reason, " (now a case)" if ended.kind == "case" else "")
        await self.deliver(chat.conversation_id)

    async def sweep_once(self) -> None:
        now = clock.now()
        by_municipality: dict[str | None, object] = {}
        for chat in self.store.live_chats():
            profile = self.profile_for(chat.municipality)
            by_municipality[chat.municipality] = profile
            rules = profile.live_chat
            if chat.status == "open" and not availability(profile, "chat", now).available_now:
                await self._end(chat, "closing", now, profile)
            elif (chat.citizen_away_since
                  and now - chat.citizen_away_since >= timedelta(minutes=rules.citizen_gone_after)):
                await self._end(chat, "left", now, profile)
            elif chat.status == "claimed":
                idle = self._idle_since(chat)
                if idle and now - idle >= timedelta(minutes=rules.idle_after):
                    await self._end(chat, "idle", now, profile)
        for municipality, profile in by_municipality.items():
            estimates = queue_estimates(self.store, municipality, chat_minutes(profile))
            self.store.set_queue_estimates({ref: (s.position, s.estimate_minutes) for ref, s in estimates.items()})

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweeping the live chats failed; trying again")


class ChangeHub:
    """Which chats and cases changed, for the portal's live updates (server-sent events)."""

    OVERLAP = timedelta(seconds=3)   # re-read a little back: a slow commit is never missed

    def __init__(self, store: HandoffStore) -> None:
        self.store = store
        self.version = 0
        self._recent: deque[tuple[int, str, str | None]] = deque(maxlen=2000)
        self._seen: dict[str, datetime] = {}
        self._since = wall_clock()
        self._changed = asyncio.Event()

    def poll_once(self) -> bool:
        found = False
        newest = self._since
        for reference, updated_at, municipality in self.store.changed_since(self._since - self.OVERLAP):
            if updated_at is None or self._seen.get(reference) == updated_at:
                continue
            self._seen[reference] = updated_at
            self.version += 1
            self._recent.append((self.version, reference, municipality))
            newest = max(newest, updated_at)
            found = True
        self._since = newest
        if len(self._seen) > 5000:
            self._seen = dict(list(self._seen.items())[-2000:])
        return found

    def changes_after(self, version: int, municipality: str | None) -> list[str]:
        """References changed after `version` (of `municipality` only; rows without one are
        the default municipality's)."""
        from bot.service.municipalities import registry

        default = registry().default_slug
        return sorted({ref for v, ref, m in self._recent if v > version
                       and (municipality is None or (m or default) == municipality)})

    async def wait(self, version: int, timeout: float) -> int:
        """Wait until something changed after `version` (or the timeout); the new version."""
        if self.version > version:
            return self.version
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return self.version

    async def run_forever(self) -> None:
        while True:
            try:
                if self.poll_once():
                    self._changed.set()
                    self._changed = asyncio.Event()
            except Exception:
                log.exception("polling for changes failed; trying again")
            await asyncio.sleep(POLL_INTERVAL_S)

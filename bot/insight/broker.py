"""A Rasa event broker that counts conversations and messages (runs in the Rasa process).

Rasa publishes every tracker event it saves to the configured event broker. The actions
count what they do (answers, not found, handoffs, feedback: actions/insight.py); this
broker counts what no custom action sees:

- a conversation (a Rasa session) and every message the citizen writes, with the
  channel and the municipality the channel put in the message's metadata;
- the conversation's written standard (the `language` slot);
- out-of-scope questions and own-case messages (the responses `utter_out_of_scope`
  and `utter_own_case`), and answers from the municipality profile (opening hours,
  contact, service desks, other authorities).

endpoints.yml:

    event_broker:
      type: bot.insight.broker.InsightEventBroker

Events are written by one background thread, in order, so a slow database never holds
up a reply. No message text is read or stored here.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)

# Responses and actions that answer from the profile, and what they count as.
ACTION_KINDS = {
    "utter_out_of_scope": "out_of_scope",
    "utter_own_case": "own_case",
    "action_opening_hours": "service_answer",
    "action_contact": "service_answer",
    "action_desk_locations": "service_answer",
    "action_offer_handoff": "handoff_offered",
}
# Answers from the profile unless the knowledge search takes over right after it.
DEFERRED = {"action_other_authority": "service_answer"}
MAX_SENDERS = 50_000
QUEUE_LIMIT = 100_000


class _Sender:
    __slots__ = ("session_start", "lang", "channel", "municipality", "counted", "deferred")

    def __init__(self) -> None:
        self.session_start: float | None = None
        self.lang: str | None = None
        self.channel: str | None = None
        self.municipality: str | None = None
        self.counted = False      # the conversation has a row (a message was counted)
        self.deferred: str | None = None


class Counter:
    """Turns Rasa's event stream into insight events (no Rasa imports: testable alone)."""

    def __init__(self, record) -> None:
        self.record = record  # callable(kind, **fields)
        self.senders: OrderedDict[str, _Sender] = OrderedDict()

    def _sender(self, sender_id: str) -> _Sender:
        state = self.senders.get(sender_id)
        if state is None:
            state = self.senders[sender_id] = _Sender()
            if len(self.senders) > MAX_SENDERS:
                self.senders.popitem(last=False)
        else:
            self.senders.move_to_end(sender_id)
        return state

    def _emit(self, kind: str, sender_id: str, state: _Sender) -> None:
        self.record(kind, conversation=sender_id, municipality=state.municipality,
                    session_start=state.session_start, channel=state.channel, lang=state.lang)

    def handle(self, event: dict[str, Any]) -> None:
        sender_id, name = event.get("sender_id"), event.get("event")
        if not sender_id or not name:
            return
        state = self._sender(str(sender_id))
        if state.deferred and name == "action":
            action = event.get("name")
            if action != "action_answer_question" and state.counted:
                self._emit(state.deferred, sender_id, state)
            state.deferred = None
        if name == "session_started":
            fresh = _Sender()
            fresh.session_start = event.get("timestamp")
            fresh.lang, fresh.channel, fresh.municipality = state.lang, state.channel, state.municipality
            self.senders[str(sender_id)] = fresh
        elif name == "user":
            state.channel = event.get("input_channel") or state.channel
            metadata = event.get("metadata") or {}
            if isinstance(metadata, dict) and metadata.get("municipality"):
                state.municipality = str(metadata["municipality"])
            self._emit("message", sender_id, state)
            state.counted = True
        elif name == "slot" and event.get("name") == "language":
            value = event.get("value")
            if value in ("nn", "nb") and value != state.lang:
                state.lang = value
                if state.counted:
                    self._emit("lang", sender_id, state)
        elif name == "slot" and event.get("name") == "municipality" and event.get("value"):
            state.municipality = str(event["value"])
        elif name == "action" and state.counted:
            action = event.get("name")
            if action in ACTION_KINDS:
                self._emit(ACTION_KINDS[action], sender_id, state)
            elif action in DEFERRED:
                state.deferred = DEFERRED[action]


def _record(kind: str, **fields: Any) -> None:
    from bot.insight import record_event

    record_event(kind, **fields)


try:  # the Rasa process; elsewhere the broker class is not needed
    from rasa.core.brokers.broker import EventBroker
except ImportError:  # pragma: no cover - the action-server virtualenv has no Rasa
    EventBroker = object  # type: ignore[assignment,misc]


class InsightEventBroker(EventBroker):  # type: ignore[misc,valid-type]
    """Rasa event broker: queues events, one thread counts them (see the module docstring)."""

    def __init__(self, record=_record) -> None:
        self.counter = Counter(record)
        self.events: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        self.dropped = 0
        self._thread = threading.Thread(target=self._work, name="insight-broker", daemon=True)
        self._thread.start()

    @classmethod
    async def from_endpoint_config(cls, broker_config: Any = None, event_loop: Any = None) -> InsightEventBroker:
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        if event.get("event") not in ("session_started", "user", "slot", "action"):
            return
        try:
            self.events.put_nowait(dict(event))
        except queue.Full:  # the database is away for long: count less rather than use all memory
            self.dropped += 1
            if self.dropped in (1, 1000) or self.dropped % 100_000 == 0:
                log.warning("insight: %d events not counted (the database does not keep up)", self.dropped)

    def is_ready(self) -> bool:
        return self._thread.is_alive()

    def _work(self) -> None:
        while True:
            event = self.events.get()
            if event is None:
                self.events.task_done()
                return
            try:
                self.counter.handle(event)
            except Exception:
                log.exception("insight: could not count an event")
            finally:
                self.events.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is counted (tests, shutdown)."""
        done = threading.Event()

        def wait_for_queue() -> None:
            self.events.join()
            done.set()

        threading.Thread(target=wait_for_queue, daemon=True).start()
        return done.wait(timeout)

    async def close(self) -> None:
        self.flush(5.0)

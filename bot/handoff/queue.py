"""Where a citizen stands in the live queue and how long the wait is likely to be.

The estimate comes from who is on duty (staff with a portal page open in the last
minute), how many of them are in a chat already, and how long recent chats took
(the median from taking a chat to closing it, over the latest 20). With nobody on duty
there is no estimate: the bot then gives the promise of the service standard.

    status = queue_status(store, "ALV-2026-000012", municipality="alver", default_minutes=5)
    status.position, status.waiting, status.estimate_minutes   # 2, 3, 6
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.handoff.store import HandoffStore

MIN_HANDLING_MINUTES = 2.0
MAX_HANDLING_MINUTES = 30.0


@dataclass(frozen=True)
class QueueStatus:
    position: int | None          # 1 = next in line; None when not waiting
    waiting: int                  # chats waiting in all
    on_duty: int                  # staff with the portal open
    estimate_minutes: int | None  # None: nobody on duty, no honest estimate


def estimate_minutes(position: int, on_duty: int, busy: int, handling_minutes: float) -> int | None:
    """Minutes until a person takes the chat at `position` (1 = next).

    Free staff take the first chats at once (about a minute); the rest wait for chats
    to finish, `on_duty` at a time, each taking `handling_minutes`.
    """
    if on_duty <= 0 or position <= 0:
        return None
    free = max(0, on_duty - busy)
    if position <= free:
        return 1
    rounds = math.ceil((position - free) / on_duty)
    return max(1, round(rounds * handling_minutes))


def chat_minutes(profile) -> float:
    """Minutes the service standard promises for a chat answer (5 when it is not in minutes)."""
    promise = profile.standard("chat").answer_within
    if promise.unit not in ("minutes", "hours"):
        return 5.0
    return float(promise.amount * (60 if promise.unit == "hours" else 1))


def _context(store: HandoffStore, municipality: str | None, default_minutes: float) -> tuple[int, int, float]:
    """(staff on duty, of them in a chat now, minutes a chat takes)."""
    on_duty = store.staff_on_duty(municipality)
    busy = len(set(store.busy_handlers(municipality)) & set(on_duty))
    handling = store.handling_minutes(municipality)
    handling = handling if handling is not None else default_minutes
    return len(on_duty), busy, min(MAX_HANDLING_MINUTES, max(MIN_HANDLING_MINUTES, handling))


def queue_estimates(store: HandoffStore, municipality: str | None, default_minutes: float) -> dict[str, QueueStatus]:
    """The status of every waiting chat of a municipality, by reference."""
    waiting = store.waiting_chats(municipality)
    on_duty, busy, handling = _context(store, municipality, default_minutes)
    return {chat.reference: QueueStatus(index, len(waiting), on_duty, estimate_minutes(index, on_duty, busy, handling))
            for index, chat in enumerate(waiting, start=1)}


def queue_status(store: HandoffStore, reference: str | None, municipality: str | None,
                 default_minutes: float) -> QueueStatus:
    """The status of one waiting chat; with `reference` None (or no longer waiting), where
    a chat joining now would stand (position None when the chat is not waiting)."""
    waiting = store.waiting_chats(municipality)
    on_duty, busy, handling = _context(store, municipality, default_minutes)
    refs = [chat.reference for chat in waiting]
    if reference in refs:
        position = refs.index(reference) + 1
        return QueueStatus(position, len(waiting), on_duty, estimate_minutes(position, on_duty, busy, handling))
    if reference is None:
        position = len(waiting) + 1
        return QueueStatus(position, len(waiting), on_duty, estimate_minutes(position, on_duty, busy, handling))
    return QueueStatus(None, len(waiting), on_duty, None)

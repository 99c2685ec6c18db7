"""Index scale: build time, memory, size and query latency for 1k, 10k and 100k passages.

Exact search (FAISS IndexFlatIP) against the approximate index (HNSW), with the
approximate index's recall@10 measured against exact search.

Real embeddings cost ~120 texts/s on 2 cores (100k passages would take ~14 minutes),
so: the 1k corpus is embedded for real (timed), and the 10k/100k corpora use synthetic
vectors of the model's real dimension, made as noisy mixtures of the real 1k passage
vectors so that they keep the clustered shape of real text embeddings. Queries are
real embedded questions/sentences. The report says so beside the numbers.

Passages are generated from the shared Bokmål/Nynorsk parallel sentences
(../shared/data/nb_nn) when present, else from the knowledge pages.

Run: python -m bench.index_scale [--sizes 1000,10000,100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import sys
import tempfile
import time

import numpy as np
import psutil

from bench.common import latency_summary, machine, repo_path, rss_mb, write_json
from bot.config import ROOT, settings

SHARED_SENTENCES = ROOT.parent / "shared" / "data" / "nb_nn"
K = 10


def load_sentences() -> tuple[list[str], str]:
    """Sentences to build passages from, and where they came from."""
    files = sorted(SHARED_SENTENCES.glob("*.tsv")) if SHARED_SENTENCES.is_dir() else []
    sentences: list[str] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            sentences.extend(part.strip() for part in line.split("\t") if part.strip())
    if sentences:
        return sentences, f"{repo_path(SHARED_SENTENCES)} ({len(sentences)} sentences)"
    for path in sorted(settings().knowledge_dir.rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        sentences.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", body) if len(s.strip()) > 20)
    return sentences, f"knowledge pages in {repo_path(settings().knowledge_dir)} ({len(sentences)} sentences)"


def make_passages(sentences: list[str], count: int, rng: random.Random) -> list[str]:
    """`count` passages of 2-5 consecutive sentences each (like a page section)."""
    passages = []
    for _ in range(count):
        start = rng.randrange(len(sentences))
        passages.append(" ".join(sentences[start : start + rng.randint(2, 5)]))
    return passages


def embed(model, texts: list[str], prefix: str) -> np.ndarray:
    vectors = model.encode([prefix + t for t in texts], batch_size=32, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype="float32")


def synthetic_vectors(real: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian vectors with the mean and covariance of the real passage vectors, L2-normalised.

    They keep the real embeddings' first two moments (the mean cosine between passages and
    the spread over dimensions, i.e. how hard nearest-neighbour search is), not their text.
    """
    mean = real.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(np.cov(real - mean, rowvar=False))
    scale = np.sqrt(np.clip(eigvals, 0.0, None)).astype("float32")
    out = np.empty((count, real.shape[1]), dtype="float32")
    for start in range(0, count, 20000):
        z = rng.standard_normal((min(20000, count - start), real.shape[1])).astype("float32")
        out[start : start + len(z)] = mean + (z * scale) @ eigvecs.T.astype("float32")
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def build(kind: str, vectors: np.ndarray):
    """Build one FAISS index of the given kind ("flat" or "hnsw") with the knowledge index's own code."""
    from bot.knowledge import store

    index = store.make_faiss(vectors, kind)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = store.HNSW_EF_SEARCH  # as store.read_faiss sets it for search
    return index


def threshold_info() -> dict:
    """The index-type switch the knowledge index uses, and its HNSW parameters."""
    from bot.knowledge import store

    return {"hnsw_min_passages": store.HNSW_MIN_PASSAGES, "hnsw_m": store.HNSW_M,
            "hnsw_ef_search": store.HNSW_EF_SEARCH,
            "hnsw_ef_construction": store.make_faiss(np.zeros((0, 8), dtype="float32"), "hnsw").hnsw.efConstruction}


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, exact_ids: np.ndarray | None) -> dict:
    import faiss

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    index = build(kind, vectors)
    build_s = time.perf_counter() - start
    after = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        faiss.write_index(index, path)
        size_mb = os.path.getsize(path) / 2**20
    faiss.omp_set_num_threads(1)  # one query at a time, as the action server sends them
    index.search(queries[:5], K)
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, ids = index.search(q[None, :], K)
        times.append(time.perf_counter() - t0)
        found.append(ids[0])
    found_ids = np.array(found)
    recall = None if exact_ids is None else recall_at_k(found_ids, exact_ids)
    sweep = ef_search_sweep(index, queries, exact_ids) if exact_ids is not None and hasattr(index, "hnsw") else None
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    del index
    return {
        "kind": kind,
        "build_s": round(build_s, 3),
        "rss_delta_mb": round(after - before, 1),
        "size_mb": round(size_mb, 2),
        "query": latency_summary(times),
        "recall_at_10": None if recall is None else round(recall, 4),
        "ef_search_sweep": sweep,
        "_ids": found_ids,
    }


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))


def ef_search_sweep(index, queries: np.ndarray, exact_ids: np.ndarray) -> list[dict]:
    """Recall@10 and latency of the HNSW index over its search breadth (efSearch)."""
    chosen = index.hnsw.efSearch
    points = []
    for ef in (16, 32, 64, 128, 256):
        index.hnsw.efSearch = ef
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            found.append(index.search(q[None, :], K)[1][0])
            times.append(time.perf_counter() - t0)
        points.append({"ef_search": ef, "recall_at_10": round(recall_at_k(np.array(found), exact_ids), 4),
                       **{k: v for k, v in latency_summary(times).items() if k in ("p50_ms", "p95_ms")}})
    index.hnsw.efSearch = chosen
    return points


def real_embedding_speed(model, passages: list[str]) -> tuple[dict, np.ndarray]:
    """Wall-clock and CPU-time throughput of embedding real passages (the CPU time says what
    an otherwise idle machine would do when other work slows the wall clock)."""
    model.encode(["passage: oppvarming"] * 8, show_progress_bar=False)
    me = psutil.Process()
    cpu0 = sum(me.cpu_times()[:2])
    start = time.perf_counter()
    vectors = embed(model, passages, "passage: ")
    seconds = time.perf_counter() - start
    cpu_s = sum(me.cpu_times()[:2]) - cpu0
    cores = os.cpu_count() or 1
    return {"passages": len(passages), "seconds": round(seconds, 2),
            "texts_per_s": round(len(passages) / seconds, 1), "cpu_s": round(cpu_s, 1),
            "idle_texts_per_s": round(len(passages) / cpu_s * cores, 1),  # all cores busy with this alone
            "dimension": int(vectors.shape[1])}, vectors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="corpus sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="number of timed queries")
    parser.add_argument("--real", type=int, default=1000, help="passages embedded for real")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    rng = random.Random(7)
    sentences, source = load_sentences()
    if len(sentences) < 50:
        print(f"index_scale: too few sentences to build passages from ({source}); skipped.", file=sys.stderr)
        return 1
    print(f"index_scale: passages from {source}", flush=True)
    passages = make_passages(sentences, args.real, rng)
    questions = [s for s in rng.sample(sentences, min(len(sentences), args.queries))]

    from sentence_transformers import SentenceTransformer

    model_path = settings().embedding_model
    print(f"index_scale: loading {model_path}", flush=True)
    rss_before_model = rss_mb()
    model = SentenceTransformer(model_path, device="cpu")
    model_rss = rss_mb() - rss_before_model
    embedding, real_vectors = real_embedding_speed(model, passages)
    embedding["model_rss_mb"] = round(model_rss, 1)
    print(f"  real embedding: {embedding['passages']} passages in {embedding['seconds']} s "
          f"({embedding['texts_per_s']} texts/s; {embedding['idle_texts_per_s']} texts/s by CPU time on an idle "
          f"machine)", flush=True)
    t0 = time.perf_counter()
    queries = embed(model, questions, "query: ")
    query_embed_ms = (time.perf_counter() - t0) / len(questions) * 1000
    del model
    gc.collect()

    nprng = np.random.default_rng(11)
    avg_chars = sum(len(p) for p in passages) / len(passages)
    rows = []
    for n in sizes:
        vectors = real_vectors[:n] if n <= len(real_vectors) else synthetic_vectors(real_vectors, n, nprng)
        vector_kind = "real" if n <= len(real_vectors) else "synthetic"
        exact = measure("flat", vectors, queries, None)
        approx = measure("hnsw", vectors, queries, exact["_ids"])
        for row in (exact, approx):
            row.pop("_ids")
            row.update({"passages": n, "vectors": vector_kind})
            rows.append(row)
            print(f"  {n:>7} {row['kind']:<5} ({vector_kind}): build {row['build_s']:.2f} s, "
                  f"+{row['rss_delta_mb']} MiB RSS, {row['size_mb']} MiB on disk, query p50 "
                  f"{row['query']['p50_ms']} ms p95 {row['query']['p95_ms']} ms, recall@10 "
                  f"{row['recall_at_10'] if row['recall_at_10'] is not None else '1 (reference)'}",
                  flush=True)
        del vectors
        gc.collect()

    result = {
        "machine": machine(),
        "source": source,
        "dimension": int(real_vectors.shape[1]),
        "embedding": embedding,
        "query_embedding_ms": round(query_embed_ms, 2),
        "avg_passage_chars": round(avg_chars, 1),
        "queries": len(queries),
        "threshold": threshold_info(),
        "rows": rows,
    }
    result["plan_1m"] = plan_for(1_000_000, result)
    path = write_json("index_scale", result)
    print(f"index_scale: wrote {path}")
    return 0


def plan_for(n: int, result: dict) -> dict:
    """Extrapolate memory and latency to n passages from the largest measured size."""
    largest = max(r["passages"] for r in result["rows"])
    factor = n / largest
    plan = {"passages": n, "from_passages": largest}
    for row in result["rows"]:
        if row["passages"] != largest:
            continue
        kind = row["kind"]
        # Exact search is a linear scan: latency and memory grow linearly.
        # HNSW latency grows roughly with log(n); its memory linearly.
        latency_factor = factor if kind == "flat" else np.log(n) / np.log(largest)
        plan[kind] = {
            "index_mb": round(row["size_mb"] * factor, 0),
            "query_p50_ms": round(row["query"]["p50_ms"] * latency_factor, 2),
            "query_p95_ms": round(row["query"]["p95_ms"] * latency_factor, 2),
            "build_s": round(row["build_s"] * (factor if kind == "flat" else factor * np.log(n) / np.log(largest)), 0),
        }
    plan["passage_text_mb"] = round(n * result["avg_passage_chars"] * 1.1 / 2**20, 0)
    plan["embedding_hours_2_cores"] = round(n / result["embedding"]["texts_per_s"] / 3600, 2)
    plan["embedding_hours_idle_machine"] = round(n / result["embedding"]["idle_texts_per_s"] / 3600, 2)
    return plan


if __name__ == "__main__":
    sys.exit(main())

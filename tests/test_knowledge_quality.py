"""Search quality floor on the retrieval dev set (fails if the model or fusion silently degrades).

Floors sit a little below the measured values (bench/out/search.json, `python -m
bench.search`) so that noise does not fail them but a broken model, tokenizer, chunker
or fusion does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.knowledge import store
from bot.knowledge.evaluation import DEV, answerable_metrics, load_questions, retrieval_metrics
from bot.knowledge.index_build import build_index
from bot.knowledge.search import Searcher
from bot.service.municipalities import registry
from tests.knowledge_support import model_dir, session_dir

pytestmark = pytest.mark.skipif(not DEV.exists(), reason="tests/data/search_dev.yml is missing")


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    """The index of knowledge/, built incrementally from an existing build when there is one."""
    out = session_dir() / "knowledge-index"
    reg = registry()  # the dev questions are Alver's: its pages and the common ones
    for seed in (reg.index_dir("alver"), Path(__file__).resolve().parent.parent / "bench" / "out" / "search-index"):
        if (seed / store.MANIFEST).is_file() and not out.exists():
            shutil.copytree(seed, out)
    build_index(reg.knowledge_dirs("alver"), out, str(model_dir()), log=lambda m: None, progress=False)
    return Searcher.load(out, model=str(model_dir()))


@pytest.fixture(scope="module")
def runs(searcher):
    questions = load_questions(DEV)
    vectors = {q["text"]: searcher.encode_query(q["text"]) for q in questions}
    return {name: [(q, searcher.rank(q["text"], vectors[q["text"]], k=10, lang=q["lang"], dense_weight=w))
                   for q in questions]
            for name, w in (("hybrid", None), ("e5", 1.0), ("bm25", 0.0))}


def test_dev_set_is_big_enough():
    questions = load_questions(DEV)
    assert sum(1 for q in questions if q["pages"]) >= 60
    assert sum(1 for q in questions if not q["pages"]) >= 20


def test_hybrid_retrieval_floor(runs):
    metrics = retrieval_metrics(runs["hybrid"])
    assert metrics["all"]["hit@5"] >= 0.90, metrics
    assert metrics["all"]["hit@1"] >= 0.70, metrics
    for lang in ("nn", "nb"):
        assert metrics[lang]["hit@5"] >= 0.85, metrics


def test_hybrid_is_at_least_as_good_as_the_better_retriever(runs):
    hybrid, e5, bm25 = (retrieval_metrics(runs[n])["all"] for n in ("hybrid", "e5", "bm25"))
    assert hybrid["mrr"] >= max(e5["mrr"], bm25["mrr"]), (hybrid, e5, bm25)
    assert hybrid["hit@5"] >= max(e5["hit@5"], bm25["hit@5"]) - 0.02, (hybrid, e5, bm25)


def test_threshold_separates_answerable_from_unanswerable(runs, searcher):
    result = answerable_metrics(runs["hybrid"], searcher.threshold)
    assert result["recall"] >= 0.75, result
    assert result["unanswerable_refused"] >= 0.80, result
    assert result["precision"] >= 0.90, result

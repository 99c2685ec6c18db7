"""BM25 (Okapi, Lucene idf) over Norwegian text with the Snowball Norwegian stemmer.

Scores are also given normalised to 0..1 by the query's ceiling (the sum of its terms'
idf * (k1 + 1), what a passage that contains every term very often approaches), so that
they compare across queries and can be fused with cosine similarities.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter

import numpy as np

from bot.knowledge.synonyms import load as load_synonyms

K1 = 1.2
B = 0.75
TOKEN = re.compile(r"\w+", re.UNICODE)
# Very frequent function words in both standards; they carry no topic.
STOPWORDS = frozenset("""
og i er det som på å til av for med at ein en ei eit et den dei de du eg jeg vi me oss deg
meg han ho hun seg sin si sitt sine har hadde var vere være vera blir vert kan skal vil må
kor korleis kva kven kvar hvor hvordan hva hvem hvilken kva for om frå fra ved etter over
under ikkje ikke så men eller når då da no nå også òg berre bare mitt min mi mine dykk dere
ka kæ ke koss kossen åssen va æ je mæ dæ sæ dokker dokk dåkk ikkj ikje itj
""".split())  # the last line: chat and dialect spellings of the same function words

_stem_lock = threading.Lock()
_stemmer = None


def _stem(words: list[str]) -> list[str]:
    global _stemmer
    with _stem_lock:  # snowballstemmer objects keep state between calls
        if _stemmer is None:
            import snowballstemmer

            _stemmer = snowballstemmer.stemmer("norwegian")
        return _stemmer.stemWords(words)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed tokens; synonyms as their group's term."""
    synonyms = load_synonyms(_stem)
    words = [w for w in TOKEN.findall(synonyms.rewrite_phrases(text))
             if w not in STOPWORDS and (len(w) >= 2 or not w.isdigit())]
    return synonyms.canonical(_stem(words))


class BM25:
    """An inverted index over passages; `scores(query)` returns one score per passage."""

    def __init__(self, doc_terms: list[list[str]]):
        canonical = load_synonyms(_stem).canonical  # also for indexes built before a synonym was added
        doc_terms = [canonical(tokens) for tokens in doc_terms]
        self.n_docs = len(doc_terms)
        self.lengths = np.array([len(t) for t in doc_terms], dtype=np.float32)
        self.avg_length = float(self.lengths.mean()) if self.n_docs else 0.0
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        collected: dict[str, list[tuple[int, int]]] = {}
        for doc, tokens in enumerate(doc_terms):
            for term, tf in Counter(tokens).items():
                collected.setdefault(term, []).append((doc, tf))
        for term, items in collected.items():
            docs, tfs = zip(*items)
            self.postings[term] = (np.array(docs, dtype=np.int32), np.array(tfs, dtype=np.float32))

    def idf(self, term: str) -> float:
        df = len(self.postings[term][0]) if term in self.postings else 0
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> tuple[np.ndarray, float]:
        """(raw BM25 score per passage, the query's ceiling for normalising)."""
        out: np.ndarray = np.zeros(self.n_docs, dtype=np.float32)
        ceiling = 0.0
        if not self.n_docs:
            return out, ceiling
        norm = K1 * (1.0 - B + B * self.lengths / max(self.avg_length, 1e-9))
        for term, qtf in Counter(terms(query)).items():
            idf = self.idf(term)
            ceiling += qtf * idf * (K1 + 1.0)
            if term not in self.postings:
                continue
            docs, tfs = self.postings[term]
            out[docs] += qtf * idf * tfs * (K1 + 1.0) / (tfs + norm[docs])
        return out, ceiling

    def normalised_scores(self, query: str) -> np.ndarray:
        raw, ceiling = self.scores(query)
        return raw / ceiling if ceiling > 0 else raw

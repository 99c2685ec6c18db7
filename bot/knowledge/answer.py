"""Trimming search hits to the sentences that answer the question."""

from __future__ import annotations

import re
from typing import Callable, Sequence

from bot.knowledge.bm25 import terms
from bot.knowledge.sentences import split_sentences

# (query, texts) -> one relevance score per text, e.g. the cosine of their embeddings.
Similarity = Callable[[str, list[str]], Sequence[float]]

_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\|)\s*")
# A passage this short is answered whole: trimming it saves little and can cut the fact.
SHORT_PASSAGE_WORDS = 40
# Weight of one shared stemmed query term: the ranking itself without `similarity`, a
# tie-breaker beside it (e5 cosines of sentences from one page lie within a few hundredths).
TERM_WEIGHT = 0.03
TERM_TIE_BREAK = 0.003
# Another section's sentence joins a short answer when it scores at least this close to
# the answer's own best sentence: the fact is often in the next section of the page.
SAME_PAGE_MARGIN = 0.01
# A short passage whose page has another section that the search ranks about as high
# (calibrated scores within this margin): that whole section joins the answer, trimmed.
# Sentence similarity alone picked a side remark over the section with the fact.
SAME_PAGE_SCORE_MARGIN = 0.005


def units(text: str) -> list[str]:
    """Sentences of `text`; a line ending in ":" stays with what follows, a list stays whole."""
    out: list[str] = []
    for sentence in split_sentences(text):
        last = out[-1].splitlines()[-1] if out else ""
        if last.endswith(":") or (_LIST_ITEM.match(sentence) and _LIST_ITEM.match(last)):
            out[-1] = f"{out[-1]}\n{sentence}"
        else:
            out.append(sentence)
    return out


def _line_similarity(query: str, title: str, texts: list[str], similarity: Similarity | None) -> list[float]:
    """Per text, the best similarity of its lines to `query` (a list is as relevant as its
    best item); zeros without `similarity`."""
    if similarity is None:
        return [0.0] * len(texts)
    lines = [(i, line) for i, text in enumerate(texts) for line in text.splitlines() if line.strip()]
    best = [0.0] * len(texts)
    for (i, _), value in zip(lines, similarity(query, [f"{title}: {line}" for _, line in lines])):
        best[i] = max(best[i], float(value))
    return best


def excerpt(hit, query: str, max_sentences: int = 3, same_page: Sequence = (),
            similarity: Similarity | None = None) -> str:
    """The sentences of `hit.text` that answer `query`, in page order.

    Sentences are ranked by how close they are in meaning (given `similarity`) and by the
    query's stemmed terms they or their heading share; lists stay whole. A long passage
    gives its lead sentence and its best others (`max_sentences` in all). A short passage
    (at most one sentence more) is kept whole, and the best sentence of `same_page` (other
    hits of the same page: its other sections) is added when it scores about as well."""
    if not query.strip():
        return hit.text.strip()
    passages = [hit] + [h for h in same_page if h.page_id == hit.page_id and h.lang == hit.lang
                        and h.text != hit.text]
    wanted = set(terms(query))
    candidates: list[tuple[int, int, str, str]] = []  # (passage rank, order, unit, context)
    for rank, passage in enumerate(passages):
        heading_terms = set(terms(passage.heading or ""))
        for order, unit in enumerate(units(passage.text)):
            candidates.append((rank, order, unit, " ".join(heading_terms)))
    if not candidates:
        return ""
    overlap = [len(wanted & (set(terms(u)) | set(c.split()))) for _, _, u, c in candidates]
    meaning = _line_similarity(query, hit.title, [u for _, _, u, _ in candidates], similarity)
    weight = TERM_TIE_BREAK if similarity else TERM_WEIGHT
    score = [m + weight * o for m, o in zip(meaning, overlap)]
    ranked = sorted(range(len(candidates)), key=lambda i: (-score[i], candidates[i][0], candidates[i][1]))
    own = [i for i in range(len(candidates)) if candidates[i][0] == 0]
    short = len(hit.text.split()) <= SHORT_PASSAGE_WORDS and len(own) <= max_sentences + 1
    if len(own) > max_sentences and not short:
        # A long passage: its lead sentence (what its heading promises) and its best others.
        others = [i for i in ranked if candidates[i][0] == 0 and i != own[0]][:max_sentences - 1]
        return " ".join(candidates[i][2] for i in sorted([own[0]] + others))
    # A short passage is kept whole; the fact may be in the next section of the page.
    rival = next((p for p in passages[1:] if p.score >= hit.score - SAME_PAGE_SCORE_MARGIN), None)
    if rival is not None:
        return f"{hit.text.strip()} {excerpt(rival, query, max_sentences, similarity=similarity)}"
    best_own = max(score[i] for i in own)
    chosen = own + [i for i in ranked if candidates[i][0] > 0 and score[i] >= best_own - SAME_PAGE_MARGIN][:1]
    chosen.sort(key=lambda i: (candidates[i][0] > 0, candidates[i][0], candidates[i][1]))
    return " ".join(candidates[i][2] for i in chosen)

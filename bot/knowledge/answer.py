"""Trimming a search hit to the sentences that answer the question."""

from __future__ import annotations

from bot.knowledge.bm25 import terms
from bot.knowledge.sentences import split_sentences


def excerpt(hit, query: str, max_sentences: int = 3) -> str:
    """The most relevant whole sentences of `hit.text` (at most `max_sentences`), in page order.

    Sentences are ranked by how many of the query's stemmed terms they share; the best one
    is kept with its neighbours so the excerpt reads as a continuous piece of text."""
    sentences = split_sentences(hit.text)
    if len(sentences) <= max_sentences:
        return " ".join(sentences)
    wanted = set(terms(query)) | set(terms(hit.heading or ""))
    overlap = [len(wanted & set(terms(s))) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (overlap[i], -i))
    # Grow a window around the best sentence towards the side with more overlap.
    start, end = best, best + 1
    while end - start < max_sentences:
        left = overlap[start - 1] if start > 0 else -1
        right = overlap[end] if end < len(sentences) else -1
        if left < 0 and right < 0:
            break
        if right >= left:
            end += 1
        else:
            start -= 1
    return " ".join(sentences[start:end])

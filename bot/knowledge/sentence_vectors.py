"""Sentence vectors for answer excerpts, computed once at index time.

The excerpt code ranks the lines of a passage by `similarity(question, texts)`, where
each text is "<page title>: <line>" (bot.knowledge.answer). Embedding those texts for
every question cost the action server most of its CPU per answer. The index therefore
stores a vector for every text the excerpt code can ask for: each sentence and each
line of each passage, and the last part of its heading (a list's stand-in lead-in), all
prefixed with the passage's title. At question time `Searcher.similarities` looks them
up; a text not in the table (the excerpt code changed its units) is embedded on the spot
and counted (`Searcher.sentence_misses`), so answers stay right while the table catches up
at the next `bin/kommunebot index`.
"""

from __future__ import annotations

from bot.knowledge.sentences import split_sentences


def texts_for(title: str, heading: str, text: str) -> list[str]:
    """The texts `similarity` may be asked about for one passage (no duplicates, in order)."""
    pieces: list[str] = []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    pieces += lines
    pieces += split_sentences(text)
    if heading:
        pieces.append(heading.split(" > ")[-1].strip())
    seen: dict[str, None] = {}
    for piece in pieces:
        if piece:
            seen.setdefault(f"{title}: {piece}", None)
    return list(seen)

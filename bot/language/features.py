"""Turn text into the sparse features the Nynorsk/Bokmål model scores.

Shared by training (`bot.language.train`) and detection (`bot.language.detector`) so
both see exactly the same features:

- `w:<word>` word unigrams,
- `c:<n-gram>` character 2..5-grams inside each word: they generalise to unseen words,
  endings (-ar/-ane, -leg) and typos,
- `b:<word> <word>` word bigrams.

Words in `whole_only` (the curated lexicon) get no character n-grams: they are scored by
their own weight only, so a chat word used alike in both standards ("takk", "ok") gives
no evidence instead of whatever its letters suggest. Stdlib only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Container, Iterator

# Letters only: digits, punctuation, emoji and symbols carry no evidence for nn vs nb.
_WORD = re.compile(r"[^\W\d_]+")
# Web and e-mail addresses are not prose either ("alver.kommune.no" is not the word "no").
_ADDRESS = re.compile(r"\S+@\S+|\b(?:https?://|www\.)\S+", re.IGNORECASE)
# Longest input looked at; the first few thousand characters are ample evidence.
MAX_CHARS = 4000
# Longer "words" are not words (a URL slug, a held-down key) and would swamp the score.
MAX_WORD = 40
CHAR_NGRAMS = (2, 3, 4, 5)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of `text` (letters only, NFKC-normalised)."""
    text = _ADDRESS.sub(" ", unicodedata.normalize("NFKC", text[:MAX_CHARS]))
    found = _WORD.findall(text.lower())
    return [w for w in found if len(w) <= MAX_WORD]


def iter_features(tokens: list[str], whole_only: Container[str] = ()) -> Iterator[str]:
    """Every feature of a token list, repeated as often as it occurs (see the module docstring)."""
    previous = None
    for tok in tokens:
        yield "w:" + tok
        if tok not in whole_only:
            padded = " " + tok + " "
            size = len(padded)
            for n in CHAR_NGRAMS:
                for start in range(size - n + 1):
                    yield "c:" + padded[start : start + n]
        if previous is not None:
            yield "b:" + previous + " " + tok
        previous = tok


def features(tokens: list[str], whole_only: Container[str] = ()) -> Counter[str]:
    """Feature counts of a token list."""
    return Counter(iter_features(tokens, whole_only))

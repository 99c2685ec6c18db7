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
from typing import Container

# Letters only: digits, punctuation, emoji and symbols carry no evidence for nn vs nb.
_WORD = re.compile(r"[^\W\d_]+")
# Longest input looked at; the first few thousand characters are ample evidence.
MAX_CHARS = 4000
CHAR_NGRAMS = (2, 3, 4, 5)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of `text` (letters only, NFKC-normalised)."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()
    return _WORD.findall(text)


def char_ngrams(word: str) -> list[str]:
    """Character n-grams of `word` padded with a space at each end."""
    padded = " " + word + " "
    return [padded[i : i + n] for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)]


def features(tokens: list[str], whole_only: Container[str] = ()) -> Counter[str]:
    """Feature counts of a token list (see the module docstring)."""
    feats: Counter[str] = Counter()
    for i, tok in enumerate(tokens):
        feats["w:" + tok] += 1
        if tok not in whole_only:
            for gram in char_ngrams(tok):
                feats["c:" + gram] += 1
        if i:
            feats["b:" + tokens[i - 1] + " " + tok] += 1
    return feats

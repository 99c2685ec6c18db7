"""Synonyms for BM25: words and phrases that mean the same are searched as one term.

The groups live in `synonyms.yml` next to this module (content, not code). Phrases are
rewritten in the text before tokenising; single words are mapped after stemming, so
every inflected form the stemmer reduces to a listed word's stem is covered.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Callable

import yaml

SYNONYMS_FILE = Path(__file__).with_name("synonyms.yml")


class Synonyms:
    """Phrase rewriting and stem canonicalisation built from synonym groups."""

    def __init__(self, groups: list[list[str]], stem: Callable[[list[str]], list[str]]):
        self.stems: dict[str, str] = {}
        phrases: dict[str, str] = {}
        for group in groups:
            words = [str(w).lower().strip() for w in group if str(w).strip()]
            if not words:
                continue
            head = words[0]
            head_stem = stem([head])[0]
            for word in words:
                if " " in word:
                    phrases[word] = head
                else:
                    self.stems[stem([word])[0]] = head_stem
        alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
        self._phrases = phrases
        self._phrase_re = re.compile(rf"\b(?:{alternatives})\b") if phrases else None

    def rewrite_phrases(self, text: str) -> str:
        """Lower-case `text` with each listed phrase replaced by its group's first word."""
        text = text.lower()
        if self._phrase_re is None:
            return text
        return self._phrase_re.sub(lambda m: self._phrases[m.group(0)], text)

    def canonical(self, stems: list[str]) -> list[str]:
        """Each stem replaced by its group's stem (others unchanged)."""
        return [self.stems.get(s, s) for s in stems]


@lru_cache(maxsize=1)
def load(stem: Callable[[list[str]], list[str]], path: Path = SYNONYMS_FILE) -> Synonyms:
    """The synonyms of `path` (cached), with words stemmed by `stem`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Synonyms(data.get("groups") or [], stem)

"""Sentence splitting for Norwegian text (spaCy blank pipeline + sentencizer).

One pipeline serves both standards: spaCy's `nn` tokenizer exceptions know the
Nynorsk abbreviations ("t.d.", "kl.") and the Bokmål ones we met ("f.eks.", "bl.a.",
"ca."), while the `nb` ones split after "t.d.". Paragraph and line breaks always end a
sentence.
"""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_nlp = None


def _pipeline():
    global _nlp
    with _lock:
        if _nlp is None:
            import spacy

            nlp = spacy.blank("nn")
            nlp.add_pipe("sentencizer")
            _nlp = nlp
        return _nlp


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped, in order; list items count as sentences."""
    lines = [line.strip() for line in re.split(r"\n+", text) if line.strip()]
    if not lines:
        return []
    nlp = _pipeline()
    with _lock:  # spaCy pipelines are not documented as thread-safe
        docs = list(nlp.pipe(lines))
    return [s.text.strip() for doc in docs for s in doc.sents if s.text.strip()]

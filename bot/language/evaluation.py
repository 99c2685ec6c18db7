"""Evaluation of the Nynorsk/Bokmål detector: the chat-style set and accuracy over labelled rows.

Used by `python -m bench.language` (which prints the numbers) and by tests/test_language.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.config import ROOT

CHAT_SET = ROOT / "tests" / "data" / "lang_chat.tsv"


def read_chat_set(path: Path = CHAT_SET) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(tuning half, held-out half) of a text<TAB>nn|nb|none file; '#' lines are comments.
    Within each label, odd rows (1st, 3rd, ...) tune and even rows are held out."""
    tune: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, label = line.rsplit("\t", 1)
        seen[label] = seen.get(label, 0) + 1
        (tune if seen[label] % 2 else held).append((text, label))
    return tune, held


def accuracy(predict: Callable[[str], str | None], rows: list[tuple[str, str]]) -> dict:
    """Accuracy over rows labelled nn/nb (None is wrong) and the share of 'none' rows answered None."""
    labelled = [(t, lang) for t, lang in rows if lang in ("nn", "nb")]
    none_rows = [t for t, lang in rows if lang == "none"]
    right = sum(predict(t) == lang for t, lang in labelled)
    out = {"n": len(labelled), "accuracy": round(right / len(labelled), 4) if labelled else None}
    if none_rows:
        out["none_n"] = len(none_rows)
        out["none_answered_none"] = round(sum(predict(t) is None for t in none_rows) / len(none_rows), 4)
    return out

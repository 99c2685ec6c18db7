"""Train the Nynorsk/Bokmål detector and write `bot/language/model.json`.

    python -m bot.language.train --data ../shared/data/nb_nn

Reads `train.tsv` (Bokmål<TAB>Nynorsk pairs), adds chat-like variants of every sentence
(short fragments, lower case, no punctuation, typos) and, under BOTH labels, the words a
pair shares (so "barnehage" or "takk" carry no evidence), fits an L2 logistic regression
over the features of `bot.language.features`, prunes tiny weights, checks accuracy on
`dev.tsv` and writes the model. numpy/scipy/scikit-learn are needed here only, never at
detection time. Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from bot.language.detector import Model
from bot.language.features import features, words
from bot.language.lexicon import MARKERS

MODEL_PATH = Path(__file__).with_name("model.json")
_NO_KEYBOARD = {"æ": "ae", "ø": "o", "å": "a"}
_LETTERS = "abcdefghijklmnoprstuvyæøå"


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(bokmål, nynorsk) pairs of a tab-separated file; malformed lines are skipped."""
    pairs = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def labelled(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(text, lang) examples; a pair whose two sides are identical has no label and is dropped."""
    out = []
    for nb, nn in pairs:
        if nb != nn:
            out += [(nb, "nb"), (nn, "nn")]
    return out


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: swap, drop, double or replace a letter, or type æøå without them."""
    if len(word) < 3:
        return word
    i = rng.randrange(len(word) - 1)
    kind = rng.randrange(5)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    if kind == 3:
        return word[:i] + rng.choice(_LETTERS) + word[i + 1 :]
    return "".join(_NO_KEYBOARD.get(ch, ch) for ch in word)


def chat_variant(text: str, rng: random.Random) -> str:
    """A chat-like rendering of a news sentence: a short fragment, often lower case,
    without punctuation, sometimes with a typo."""
    toks = text.split()
    if len(toks) > 2:
        size = min(len(toks), rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8)))
        start = rng.randrange(len(toks) - size + 1)
        toks = toks[start : start + size]
    if rng.random() < 0.3:
        j = rng.randrange(len(toks))
        toks[j] = typo(toks[j], rng)
    out = " ".join(toks)
    if rng.random() < 0.7:
        out = out.lower()
    return out


def build_examples(pairs, variants: int, seed: int) -> list[tuple[str, str]]:
    """Every labelled sentence plus `variants` chat-like renderings of each."""
    rng = random.Random(seed)
    out = []
    for text, lang in labelled(pairs):
        out.append((text, lang))
        for _ in range(variants):
            out.append((chat_variant(text, rng), lang))
    return out


def shared_words(pairs, cap: int) -> list[str]:
    """Words found in both sides of the same pair ("barnehage", "kommune"): no evidence.
    Each word is repeated as often as it is shared, at most `cap` times."""
    counts: Counter[str] = Counter()
    for nb, nn in pairs:
        counts.update(set(words(nb)) & set(words(nn)))
    return [w for w, n in sorted(counts.items()) for _ in range(min(n, cap))]


def fit(examples, c: float) -> dict[str, float]:
    """Logistic regression (nn = positive) without intercept: no features, no evidence."""
    import numpy as np
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = DictVectorizer()
    x = vec.fit_transform(features(words(text), MARKERS) for text, _ in examples).tocsr()
    # liblinear wants 32-bit sparse indices; DictVectorizer may hand out 64-bit ones.
    x.indices = x.indices.astype(np.int32)
    x.indptr = x.indptr.astype(np.int32)
    y = np.array([1 if lang == "nn" else 0 for _, lang in examples])
    clf = LogisticRegression(C=c, fit_intercept=False, solver="liblinear", max_iter=200)
    clf.fit(x, y)
    return dict(zip(vec.get_feature_names_out(), clf.coef_[0].tolist()))


def prune(weights: dict[str, float], minimum: float) -> dict[str, float]:
    """Round weights and drop those smaller than `minimum`."""
    return {f: round(w, 3) for f, w in weights.items() if abs(w) >= minimum}


def evaluate(model: Model, examples) -> tuple[float, float]:
    """(accuracy, share of None answers); None counts as wrong."""
    answers = [model.detect(text).lang for text, _ in examples]
    right = sum(a == lang for a, (_, lang) in zip(answers, examples))
    n = max(1, len(examples))
    return right / n, answers.count(None) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.language.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with train.tsv and dev.tsv")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--variants", type=int, default=3, help="chat-like variants per sentence")
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength")
    parser.add_argument("--prune", type=float, default=0.01, help="drop weights smaller than this")
    parser.add_argument("--shared-cap", type=int, default=1_000_000,
                        help="most times a shared word is added under both labels")
    parser.add_argument("--threshold", type=float, default=0.6, help="|log-odds| below this answers None")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    for name in ("train.tsv", "dev.tsv"):
        if not (args.data / name).is_file():
            print(f"error: {args.data / name} not found; pass --data DIR holding train.tsv and dev.tsv",
                  file=sys.stderr)
            return 2
    t0 = time.time()
    pairs = read_pairs(args.data / "train.tsv")
    examples = build_examples(pairs, args.variants, args.seed)
    # Words used alike in both standards, and the lexicon's neutral chat words, under both labels.
    neutral = shared_words(pairs, args.shared_cap) + [w for w, v in MARKERS.items() if v == 0.0] * 50
    examples += [(w, lang) for w in neutral for lang in ("nb", "nn")]
    print(f"training on {len(examples)} examples (with chat-like variants) ...", flush=True)
    weights = fit(examples, args.c)
    kept = prune(weights, args.prune)
    print(f"fitted in {time.time() - t0:.0f} s; kept {len(kept)} of {len(weights)} weights", flush=True)
    model = Model(kept, args.threshold)
    dev = labelled(read_pairs(args.data / "dev.tsv"))
    short = [(t, lang) for t, lang in dev if len(t.split()) <= 8]
    for name, part in (("dev", dev), ("dev <= 8 words", short)):
        acc, none = evaluate(model, part)
        print(f"{name}: accuracy {acc:.4f}, None {none:.4f} (n={len(part)})")
    payload = {"version": 2, "threshold": args.threshold, "weights": kept}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

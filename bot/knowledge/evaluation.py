"""Retrieval evaluation and calibration: how well search finds the page that answers a question.

Used by `python -m bench.search` (which prints the numbers and, with --calibrate, writes
`search_settings.json`) and by the quality floor in tests/test_knowledge_quality.py. Question
sets are YAML: `questions: [{text, lang, pages: [page ids that answer it]}]`; a question
without pages is one the content cannot answer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import yaml

from bot.config import ROOT

DEV = ROOT / "tests" / "data" / "search_dev.yml"
HOLDOUT = ROOT / "tests" / "data" / "search_holdout.yml"
WEIGHTS: list[float] = [round(float(w), 2) for w in np.arange(0.0, 1.0001, 0.05)]


def load_questions(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [{"text": q["text"], "lang": q.get("lang"), "pages": list(q.get("pages") or [])}
            for q in data["questions"]]


def first_rank(hits, pages: list[str]) -> int | None:
    for rank, hit in enumerate(hits, 1):
        if hit.page_id in pages:
            return rank
    return None


def ndcg(hits, pages: list[str], k: int = 10) -> float:
    seen, dcg = set(), 0.0
    for rank, hit in enumerate(hits[:k], 1):
        if hit.page_id in pages and hit.page_id not in seen:
            seen.add(hit.page_id)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(pages), k) + 1))
    return dcg / ideal if ideal else 0.0


def retrieval_metrics(runs: list[tuple[dict, list]]) -> dict:
    """hit@1, hit@5, MRR, nDCG@10 over answerable questions: all, nn, nb."""
    result = {}
    splits = (("all", lambda q: True), ("nn", lambda q: q["lang"] == "nn"), ("nb", lambda q: q["lang"] == "nb"))
    for name, keep in splits:
        rows = [(q, hits) for q, hits in runs if q["pages"] and keep(q)]
        if not rows:
            continue
        ranks = [first_rank(hits, q["pages"]) for q, hits in rows]
        result[name] = {
            "n": len(rows),
            "hit@1": round(sum(r == 1 for r in ranks) / len(rows), 3),
            "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / len(rows), 3),
            "mrr": round(sum(1.0 / r for r in ranks if r) / len(rows), 3),
            "ndcg@10": round(sum(ndcg(hits, q["pages"]) for q, hits in rows) / len(rows), 3),
        }
    return result


def answerable_metrics(runs: list[tuple[dict, list]], threshold: float) -> dict:
    """Precision/recall of 'answer' (top score >= threshold) for answerable questions."""
    answered = [(q, hits) for q, hits in runs if hits and hits[0].score >= threshold]
    tp = sum(1 for q, _ in answered if q["pages"])
    positives = sum(1 for q, _ in runs if q["pages"])
    correct = sum(1 for q, hits in answered if q["pages"] and hits[0].page_id in q["pages"])
    negatives = len(runs) - positives
    return {
        "threshold": threshold,
        "precision": round(tp / len(answered), 3) if answered else 0.0,
        "recall": round(tp / positives, 3) if positives else 0.0,
        "unanswerable_refused": round(1 - (len(answered) - tp) / negatives, 3) if negatives else None,
        "answered_top1_correct": round(correct / len(answered), 3) if answered else 0.0,
    }


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """1-D logistic regression p = sigmoid(slope * (x - midpoint)) by Newton's method (small L2)."""
    a, b = 0.0, 0.0  # p = sigmoid(a * x + b)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * x + b)))
        w = p * (1 - p) + 1e-9
        grad = np.array([np.sum((p - y) * x) + 1e-3 * a, np.sum(p - y)])
        hess = np.array([[np.sum(w * x * x) + 1e-3, np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(-b / a) if a else 0.0


def choose_threshold(scores: np.ndarray, answerable: np.ndarray) -> float:
    """The calibrated threshold with the best balanced accuracy; the middle of the best range."""
    candidates = np.unique(np.round(scores, 4))
    cuts = np.concatenate([[0.0], (candidates[:-1] + candidates[1:]) / 2, [1.0]])
    def balanced(t):
        said = scores >= t
        return 0.5 * (said[answerable].mean() + (~said[~answerable]).mean())
    values = np.array([balanced(t) for t in cuts])
    best = np.flatnonzero(values >= values.max() - 1e-9)
    return float(round((cuts[best[0]] + cuts[best[-1]]) / 2, 3))


def smoothed_mrr(sweep: dict, w: float) -> float:
    """MRR averaged with the neighbouring weights: prefers a plateau to a lone peak (less overfit)."""
    i = WEIGHTS.index(w)
    near = WEIGHTS[max(0, i - 1): i + 2]
    return sum(sweep[x]["mrr"] for x in near) / len(near)


def calibrate(runs_for_weight, candidates: int, dev_questions: int, settings_file: Path) -> dict:
    """Choose the fusion weight and the answer threshold on a dev set and write them.

    `runs_for_weight(w)` returns [(question, hits)] with dense weight w. The weight is the best
    dev MRR averaged with its neighbours; the threshold the best balanced accuracy of the
    logistic-calibrated top score, answerable against unanswerable questions.
    """
    sweep = {w: retrieval_metrics(runs_for_weight(w))["all"] for w in WEIGHTS}
    best_w = max(WEIGHTS, key=lambda w: (smoothed_mrr(sweep, w), sweep[w]["mrr"], -abs(w - 0.5)))
    runs = runs_for_weight(best_w)
    fused = np.array([hits[0].fused if hits else 0.0 for _, hits in runs])
    answerable = np.array([bool(q["pages"]) for q, _ in runs])
    slope, midpoint = fit_logistic(fused, answerable.astype(float))
    calibrated = 1 / (1 + np.exp(-slope * (fused - midpoint)))
    data = {
        "dense_weight": best_w,
        "calibration": {"slope": round(slope, 3), "midpoint": round(midpoint, 4)},
        "threshold": choose_threshold(calibrated, answerable),
        "candidates": candidates,
        "measured": {"dev_set": str(DEV.relative_to(ROOT)), "questions": dev_questions,
                     "answerable": int(answerable.sum()),
                     "chosen_by": "weight: best MRR averaged with its two neighbours in the 0.05 sweep; "
                     "threshold: best balanced accuracy answerable vs unanswerable (middle of the best range)",
                     "dev_hybrid": sweep[best_w], "dev_dense": sweep[1.0], "dev_bm25": sweep[0.0]},
    }
    settings_file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return data

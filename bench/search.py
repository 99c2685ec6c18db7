"""Search benchmark: e5, BM25 and the hybrid side by side on the retrieval dev set.

    python -m bench.search [--index DIR] [--fresh] [--calibrate]

Prints hit@1, hit@5, MRR and nDCG@10 (all, nn, nb) for dense-only, BM25-only and the
hybrid; answerable precision/recall at the threshold; query latency p50/p95; index build
time; peak memory. Writes bench/out/search.json. With --calibrate it also chooses the
fusion weight (best dev MRR, smoothed over neighbouring weights), fits the logistic calibration and picks the
answer threshold, and writes them to bot/knowledge/search_settings.json. The held-out
set (tests/data/search_holdout.yml) is only reported, never tuned on.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import OUT_DIR, latency_summary, machine, repo_path, write_json  # noqa: E402
from bot.config import settings  # noqa: E402
from bot.knowledge import search as search_mod  # noqa: E402
from bot.knowledge.index_build import build_index  # noqa: E402

DEV = ROOT / "tests" / "data" / "search_dev.yml"
HOLDOUT = ROOT / "tests" / "data" / "search_holdout.yml"
WEIGHTS = [round(w, 2) for w in np.arange(0.0, 1.0001, 0.05)]


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
    for name, keep in (("all", lambda q: True), ("nn", lambda q: q["lang"] == "nn"), ("nb", lambda q: q["lang"] == "nb")):
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


def run(questions: list[dict], searcher, vectors: dict, weight: float | None) -> list[tuple[dict, list]]:
    return [(q, searcher.rank(q["text"], vectors[q["text"]], k=10, lang=q["lang"], dense_weight=weight))
            for q in questions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n")[0])
    parser.add_argument("--index", help="use this built index (default: build knowledge/ into bench/out/index)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the benchmark index from scratch")
    parser.add_argument("--calibrate", action="store_true", help="choose weight/threshold and write search_settings.json")
    args = parser.parse_args(argv)
    cfg = settings()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report: dict = {}

    if args.index:
        index_dir = Path(args.index)
    else:
        index_dir = OUT_DIR / "search-index"
        if args.fresh and index_dir.exists():
            shutil.rmtree(index_dir)
        start = time.perf_counter()
        from bot.service.municipalities import registry

        sources = registry().knowledge_dirs("alver")  # the dev and holdout questions are Alver's
        built = build_index(sources, index_dir, cfg.embedding_model, log=lambda m: None, progress=False)
        report["index_build"] = {"seconds": round(time.perf_counter() - start, 1), "embedded": built.embedded,
                                 "reused": built.reused, **built.manifest["counts"]}
    searcher = search_mod.Searcher.load(index_dir)
    dev, holdout = load_questions(DEV), load_questions(HOLDOUT) if HOLDOUT.exists() else []
    vectors = {}
    for q in dev + holdout:
        vectors[q["text"]] = searcher.encode_query(q["text"])

    # Weight sweep (hybrid), dense-only (w=1) and BM25-only (w=0) are its end points.
    sweep = {w: retrieval_metrics(run(dev, searcher, vectors, w))["all"] for w in WEIGHTS}
    report["weight_sweep_dev"] = {str(w): m for w, m in sweep.items()}
    if args.calibrate:
        best_w = max(WEIGHTS, key=lambda w: (smoothed_mrr(sweep, w), sweep[w]["mrr"], -abs(w - 0.5)))
        runs = run(dev, searcher, vectors, best_w)
        fused = np.array([hits[0].fused if hits else 0.0 for _, hits in runs])
        answerable = np.array([bool(q["pages"]) for q, _ in runs])
        slope, midpoint = fit_logistic(fused, answerable.astype(float))
        calibrated = 1 / (1 + np.exp(-slope * (fused - midpoint)))
        threshold = choose_threshold(calibrated, answerable)
        data = {
            "dense_weight": best_w,
            "calibration": {"slope": round(slope, 3), "midpoint": round(midpoint, 4)},
            "threshold": threshold,
            "candidates": searcher.settings.candidates,
            "measured": {"dev_set": "tests/data/search_dev.yml", "questions": len(dev),
                         "answerable": int(answerable.sum()), "chosen_by": "weight: best MRR averaged with its two neighbours in the 0.05 sweep; threshold: best "
                         "balanced accuracy answerable vs unanswerable (middle of the best range)",
                         "dev_hybrid": sweep[best_w], "dev_dense": sweep[1.0], "dev_bm25": sweep[0.0]},
        }
        search_mod.SETTINGS_FILE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        search_mod._cache.clear()
        searcher = search_mod.Searcher.load(index_dir)
        print(f"Wrote {search_mod.SETTINGS_FILE.relative_to(ROOT)}: dense_weight={best_w}, "
              f"slope={slope:.2f}, midpoint={midpoint:.4f}, threshold={threshold}")

    weight = searcher.settings.dense_weight
    for name, questions in (("dev", dev), ("holdout", holdout)):
        if not questions:
            continue
        hybrid = run(questions, searcher, vectors, None)
        report[name] = {
            "e5": retrieval_metrics(run(questions, searcher, vectors, 1.0)),
            "bm25": retrieval_metrics(run(questions, searcher, vectors, 0.0)),
            f"hybrid(w={weight})": retrieval_metrics(hybrid),
            "answerable": answerable_metrics(hybrid, searcher.threshold),
        }
        if name == "dev":
            report["threshold_curve"] = [answerable_metrics(hybrid, round(t, 2)) for t in np.arange(0.0, 1.0001, 0.05)]

    latencies = []
    for q in dev:
        start = time.perf_counter()
        searcher.search(q["text"], k=5, lang=q["lang"])
        latencies.append(time.perf_counter() - start)
    summary = latency_summary(latencies)
    report["latency_ms"] = {"p50": summary["p50_ms"], "p95": summary["p95_ms"], "n": summary["count"]}
    report["machine"] = machine()
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    report["index"] = {"dir": repo_path(index_dir), "type": searcher.manifest["index_type"],
                       "passages": len(searcher.passages), "model": searcher.manifest["model"]}
    report["settings"] = {"dense_weight": weight, "threshold": searcher.threshold,
                          "slope": searcher.settings.slope, "midpoint": searcher.settings.midpoint}

    print_table(report)
    path = write_json("search", report)
    print(f"\nWrote {path.relative_to(ROOT)}")
    return 0


def print_table(report: dict) -> None:
    for name in ("dev", "holdout"):
        if name not in report:
            continue
        print(f"\n{name} set (answerable questions)")
        print(f"{'method':<16}{'split':<6}{'n':>4}{'hit@1':>8}{'hit@5':>8}{'MRR':>8}{'nDCG@10':>9}")
        for method, by_split in report[name].items():
            if method == "answerable":
                continue
            for split, m in by_split.items():
                print(f"{method:<16}{split:<6}{m['n']:>4}{m['hit@1']:>8.3f}{m['hit@5']:>8.3f}{m['mrr']:>8.3f}{m['ndcg@10']:>9.3f}")
        a = report[name]["answerable"]
        print(f"answer threshold {a['threshold']}: precision {a['precision']}, recall {a['recall']}, "
              f"unanswerable refused {a['unanswerable_refused']}, answered with correct top-1 {a['answered_top1_correct']}")
    print(f"\nlatency p50 {report['latency_ms']['p50']} ms, p95 {report['latency_ms']['p95']} ms; "
          f"peak RSS {report['peak_rss_mb']:.0f} MB; index {report['index']['type']} "
          f"with {report['index']['passages']} passages (load average {report['machine']['load_average_1m']} on {report['machine']['cpus']} cores)")
    if "index_build" in report:
        b = report["index_build"]
        print(f"index build {b['seconds']} s ({b['embedded']} passages embedded, {b['reused']} reused)")


if __name__ == "__main__":
    sys.exit(main())

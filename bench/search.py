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
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import OUT_DIR, latency_summary, machine, repo_path, write_json  # noqa: E402
from bot.config import settings  # noqa: E402
from bot.knowledge import search as search_mod  # noqa: E402
from bot.knowledge.evaluation import (  # noqa: E402
    DEV,
    HOLDOUT,
    WEIGHTS,
    answerable_metrics,
    calibrate,
    load_questions,
    retrieval_metrics,
)
from bot.knowledge.index_build import build_index  # noqa: E402


def run(questions: list[dict], searcher, vectors: dict, weight: float | None) -> list[tuple[dict, list]]:
    return [(q, searcher.rank(q["text"], vectors[q["text"]], k=10, lang=q["lang"], dense_weight=weight))
            for q in questions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n")[0])
    parser.add_argument("--index", help="use this built index (default: build knowledge/ into bench/out/index)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the benchmark index from scratch")
    parser.add_argument("--calibrate", action="store_true",
                        help="choose weight/threshold and write search_settings.json")
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
        data = calibrate(lambda w: run(dev, searcher, vectors, w), searcher.settings.candidates, len(dev),
                         search_mod.SETTINGS_FILE)
        search_mod._cache.clear()
        searcher = search_mod.Searcher.load(index_dir)
        print(f"Wrote {search_mod.SETTINGS_FILE.relative_to(ROOT)}: dense_weight={data['dense_weight']}, "
              f"calibration={data['calibration']}, threshold={data['threshold']}")

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
              f"unanswerable refused {a['unanswerable_refused']}, "
              f"answered with correct top-1 {a['answered_top1_correct']}")
    print(f"\nlatency p50 {report['latency_ms']['p50']} ms, p95 {report['latency_ms']['p95']} ms; "
          f"peak RSS {report['peak_rss_mb']:.0f} MB; index {report['index']['type']} "
          f"with {report['index']['passages']} passages "
          f"(load average {report['machine']['load_average_1m']} on {report['machine']['cpus']} cores)")
    if "index_build" in report:
        b = report["index_build"]
        print(f"index build {b['seconds']} s ({b['embedded']} passages embedded, {b['reused']} reused)")


if __name__ == "__main__":
    sys.exit(main())

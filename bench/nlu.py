"""NLU benchmark: intent precision, recall and F1 per intent by cross-validation.

    python -m bench.nlu                      # make bench-nlu; 3 folds over data/nlu
    python -m bench.nlu --folds 5 --config other-config.yml --name nlu-other

Runs `rasa test nlu --cross-validation` in the Rasa virtualenv (the pipeline of
config.yml, including the FallbackClassifier, so "nlu_fallback" shows up as a
prediction), prints a table per intent, the written standard split (F1 on the Nynorsk
and Bokmål examples separately), and how out_of_scope is confused with real intents (in
both directions), and writes bench/out/<name>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

from bench.common import machine, repo_path, write_json
from bot.config import ROOT

RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"
OUT_OF_SCOPE = "out_of_scope"


def standard_of_examples(nlu_dir: Path) -> dict[str, str]:
    """example text -> "nn"/"nb", from the data/nlu/<standard>/ folder it is written in."""
    standards: dict[str, str] = {}
    for path in sorted(nlu_dir.glob("*/*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for line in block["examples"].splitlines():
                if line.strip():
                    standards.setdefault(line.strip()[2:].strip(), path.parent.name)
    return standards


def run_cross_validation(config: Path, nlu: Path, folds: int, out: Path) -> float:
    command = [str(RASA), "test", "nlu", "--nlu", str(nlu), "--config", str(config), "--cross-validation",
               "--folds", str(folds), "--out", str(out), "--no-plot", "--successes"]
    env = {"PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    print(f"Cross-validating {config.name} on {nlu} with {folds} folds (several minutes) ...", flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"rasa test nlu failed (exit {result.returncode}); see the output above")
    return time.monotonic() - started


def predictions(out: Path) -> list[dict]:
    """[{text, intent, predicted, confidence}] for every held-out example."""
    rows = []
    for name in ("intent_errors.json", "intent_successes.json"):
        path = out / name
        if path.exists():
            for item in json.loads(path.read_text(encoding="utf-8")):
                predicted = item.get("intent_prediction") or {}
                rows.append({"text": item["text"], "intent": item["intent"], "predicted": predicted.get("name"),
                             "confidence": predicted.get("confidence")})
    return rows


def f1_by_standard(rows: list[dict], standards: dict[str, str]) -> dict[str, dict[str, float]]:
    """Accuracy and macro F1 over the examples of each written standard."""
    result = {}
    for lang in ("nn", "nb"):
        subset = [r for r in rows if standards.get(r["text"]) == lang]
        intents = sorted({r["intent"] for r in subset})
        f1s = []
        for intent in intents:
            tp = sum(1 for r in subset if r["intent"] == intent and r["predicted"] == intent)
            fp = sum(1 for r in subset if r["intent"] != intent and r["predicted"] == intent)
            fn = sum(1 for r in subset if r["intent"] == intent and r["predicted"] != intent)
            p = tp / (tp + fp) if tp + fp else 0.0
            rc = tp / (tp + fn) if tp + fn else 0.0
            f1s.append(2 * p * rc / (p + rc) if p + rc else 0.0)
        correct = sum(1 for r in subset if r["intent"] == r["predicted"])
        result[lang] = {"examples": len(subset), "accuracy": round(correct / len(subset), 4) if subset else 0.0,
                        "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0}
    return result


def out_of_scope_confusion(rows: list[dict]) -> dict:
    """Where out_of_scope examples went, and which real examples became out_of_scope."""
    oos = [r for r in rows if r["intent"] == OUT_OF_SCOPE]
    went = Counter(r["predicted"] for r in oos if r["predicted"] != OUT_OF_SCOPE)
    came = Counter(r["intent"] for r in rows if r["intent"] != OUT_OF_SCOPE and r["predicted"] == OUT_OF_SCOPE)
    return {
        "out_of_scope_examples": len(oos),
        "out_of_scope_predicted_as": dict(went.most_common()),
        "real_intents_predicted_as_out_of_scope": dict(came.most_common()),
        "examples": [{"text": r["text"], "intent": r["intent"], "predicted": r["predicted"]}
                     for r in rows if (r["intent"] == OUT_OF_SCOPE) != (r["predicted"] == OUT_OF_SCOPE)][:40],
    }


def print_table(report: dict) -> None:
    intents = sorted(k for k in report if isinstance(report[k], dict) and "f1-score" in report[k]
                     and k not in ("macro avg", "weighted avg", "micro avg"))
    print(f"\n{'intent':24} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for name in intents + ["macro avg", "weighted avg"]:
        row = report.get(name)
        if row:
            print(f"{name:24} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1-score']:6.3f} {row['support']:8}")
    if "accuracy" in report:
        print(f"{'accuracy':24} {report['accuracy']:24.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--nlu", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--name", default="nlu", help="name of the JSON file in bench/out/")
    args = parser.parse_args(argv)
    if not RASA.exists():
        raise SystemExit(f"{RASA} is missing: run `make install` first")
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        out = Path(tmp)
        seconds = run_cross_validation(args.config.resolve(), args.nlu.resolve(), args.folds, out)
        report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
        rows = predictions(out)
    by_standard = f1_by_standard(rows, standard_of_examples(args.nlu.resolve()))
    confusion = out_of_scope_confusion(rows)
    print_table(report)
    print("\nBy written standard (held-out examples):")
    for lang, values in by_standard.items():
        print(f"  {lang}: accuracy {values['accuracy']:.3f}, macro F1 {values['macro_f1']:.3f} "
              f"({values['examples']} examples)")
    print(f"\nout_of_scope ({confusion['out_of_scope_examples']} examples) predicted as: "
          f"{confusion['out_of_scope_predicted_as'] or 'nothing else'}")
    print(f"real intents predicted as out_of_scope: {confusion['real_intents_predicted_as_out_of_scope'] or 'none'}")
    print(f"\n{args.folds}-fold cross-validation took {seconds:.0f} s")
    path = write_json(args.name, {
        "config": repo_path(args.config), "folds": args.folds, "seconds": round(seconds, 1), "machine": machine(),
        "intents": {k: v for k, v in report.items() if isinstance(v, dict) and "f1-score" in v},
        "accuracy": report.get("accuracy"), "by_standard": by_standard, "out_of_scope": confusion,
    })
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

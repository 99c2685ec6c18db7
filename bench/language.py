"""Benchmark the Nynorsk/Bokmål detector beside langid (restricted to nb/nn).

    python -m bench.language [--data ../shared/data/nb_nn]

Accuracy (None counts as wrong) on the dev split overall and for texts of <= 8 words,
and on the chat-style sets in tests/data/lang_chat.tsv (tuning and held-out halves);
the share of no-evidence lines answered None; latency per chat message and throughput.
Writes bench/out/language.json. Without the dev data only the chat sets are measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

from bench.common import latency_summary, machine, write_json
from bot.language.evaluation import accuracy, read_chat_set

REPO = Path(__file__).resolve().parent.parent
DEV_DATA = REPO.parent / "shared" / "data" / "nb_nn"


def read_dev(folder: Path) -> list[tuple[str, str]]:
    """(text, lang) from dev.tsv (Bokmål<TAB>Nynorsk); pairs identical in both standards are left out."""
    rows = []
    for line in (folder / "dev.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0].strip() != parts[1].strip():
            rows += [(parts[0].strip(), "nb"), (parts[1].strip(), "nn")]
    return rows


def throughput(predict: Callable[[str], str | None], texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        predict(text)
    return round(len(texts) / (time.perf_counter() - start), 1)


def systems() -> dict[str, Callable[[str], str | None]]:
    from bot.language import detect

    out: dict[str, Callable[[str], str | None]] = {"kommunebot": lambda t: detect(t).lang}
    try:
        import langid

        langid.set_languages(["nb", "nn"])
        out["langid (nb/nn)"] = lambda t: langid.classify(t)[0]
    except ImportError:
        print("langid is not installed: baseline skipped (pip install langid==1.1.6)", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.language", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEV_DATA, help="folder with dev.tsv (default %(default)s)")
    args = parser.parse_args(argv)
    tune, held = read_chat_set()
    sets: dict[str, list[tuple[str, str]]] = {"chat tuning half": tune, "chat held-out half": held}
    if (args.data / "dev.tsv").is_file():
        dev = read_dev(args.data)
        sets = {"dev": dev, "dev <= 8 words": [r for r in dev if len(r[0].split()) <= 8], **sets}
    else:
        print(f"note: {args.data / 'dev.tsv'} not found (the shared data is missing); measuring the chat sets only")
    results: dict[str, dict] = {}
    speed_texts = [t for t, _ in sets.get("dev", tune + held)]
    chat_texts = [t for t, _ in tune + held]
    for name, predict in systems().items():
        predict(chat_texts[0])  # load the model before timing
        row = {set_name: accuracy(predict, rows) for set_name, rows in sets.items()}
        row["throughput_texts_per_s"] = throughput(predict, speed_texts)
        timings = []
        for text in chat_texts:
            t0 = time.perf_counter()
            predict(text)
            timings.append(time.perf_counter() - t0)
        row["chat_latency"] = latency_summary(timings)
        cpu0 = time.process_time()
        for text in chat_texts:
            predict(text)
        # CPU time is what a busy machine cannot inflate: the cost of the detector itself.
        row["chat_cpu_ms_per_message"] = round((time.process_time() - cpu0) * 1000 / len(chat_texts), 3)
        results[name] = row
    print_table(results, list(sets))
    sizes = {k: len(v) for k, v in sets.items()}
    path = write_json("language", {"machine": machine(), "sets": sizes, "systems": results})
    print(f"wrote {path}")
    return 0


def print_table(results: dict[str, dict], set_names: list[str]) -> None:
    names = list(results)
    rows: list[tuple[str, list[str]]] = []
    for set_name in set_names:
        first = results[names[0]][set_name]
        rows.append((f"accuracy, {set_name} (n={first['n']})",
                     [f"{results[n][set_name]['accuracy']:.4f}" for n in names]))
        if "none_n" in first:
            rows.append((f"  no-evidence lines answered None (n={first['none_n']})",
                         [f"{results[n][set_name]['none_answered_none']:.4f}" for n in names]))
    rows.append(("throughput (texts/s)", [f"{results[n]['throughput_texts_per_s']:.0f}" for n in names]))
    rows.append(("chat latency p50 / p99 (ms)",
                 [f"{results[n]['chat_latency']['p50_ms']} / {results[n]['chat_latency']['p99_ms']}" for n in names]))
    rows.append(("chat CPU time per message (ms)", [f"{results[n]['chat_cpu_ms_per_message']:.3f}" for n in names]))
    width = max(len(label) for label, _ in rows) + 2
    print("".ljust(width) + "".join(n.rjust(18) for n in names))
    for label, cells in rows:
        print(label.ljust(width) + "".join(c.rjust(18) for c in cells))


if __name__ == "__main__":
    sys.exit(main())

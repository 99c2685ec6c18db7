"""`make bench`: run every benchmark, then write bench/results.json and bench/REPORT.md.

Each benchmark runs as its own process (`python -m bench.<name>`) with a time limit and
writes bench/out/<name>.json. The speed benchmarks that need the servers (end to end,
latency, load) share one set of real servers started here with bot.stack; the cold-start
benchmark starts its own afterwards. A benchmark whose module is missing or that fails is
reported as such, and the rest still run.

Run: python -m bench.run [--only search,load,...] [--quick] [--report-only]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

from bench import report
from bench.common import BENCH_DIR, OUT_DIR, machine
from bench.servers import running_stack, server_pids
from bot.config import ROOT

# name -> (extra args, extra args with --quick, time limit in seconds)
OFFLINE = {
    "search": ([], [], 1500),
    "language": ([], [], 600),
    "nlu": ([], ["--folds", "2"], 1800),
    "index_scale": ([], ["--sizes", "1000,10000", "--real", "300", "--queries", "50"], 1500),
    "tenancy": ([], ["--sizes", "2,10", "--queries", "100"], 2400),
    "serving": ([], [], 1800),
    "rasa_cost": ([], ["--n", "60"], 1800),
    "insight": ([], ["--conversations", "100000", "--backends", "sqlite"], 2400),
}
# latency first: its first request is the first the fresh servers answer.
WITH_SERVERS = {
    "latency": ([], ["--n", "30"], 900),
    "e2e": ([], [], 900),
    "load": ([], ["--steps", "1,5,10", "--seconds", "8"], 900),
}
# mix starts its own servers: Rasa's starter bot and Kommunebot as `kommunebot run` serves.
AFTER = {"mix": (["--bots", "starter,kommunebot,kommunebot@2", "--steps", "1,10,25,50", "--seconds", "10"],
                 ["--steps", "1,10,25", "--seconds", "8"], 2400),
         "coldstart": ([], ["--skip-train"], 1800)}


def run_module(name: str, args: list[str], limit: int) -> dict:
    if importlib.util.find_spec(f"bench.{name}") is None:
        print(f"==> bench.{name}: module missing, skipped", flush=True)
        return {"status": "missing", "seconds": None}
    print(f"==> python -m bench.{name} {' '.join(args)}", flush=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_HOME=str(ROOT), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    try:
        command = [sys.executable, "-m", f"bench.{name}", *args]
        code = subprocess.run(command, cwd=ROOT, env=env, timeout=limit).returncode
        status = "ok" if code == 0 else f"failed (exit {code})"
    except subprocess.TimeoutExpired:
        status = f"stopped after {limit} s"
    return {"status": status, "seconds": round(time.perf_counter() - start, 1)}


def previous_run() -> dict:
    """The last run's bench/results.json ({} if none): --only keeps the other results from it."""
    path = BENCH_DIR / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes and short steps (a smoke run)")
    parser.add_argument("--report-only", action="store_true", help="re-render REPORT.md from bench/results.json")
    args = parser.parse_args(argv)
    if args.report_only:
        previous = previous_run()
        print(f"==> wrote {report.write(previous.get('results', {}), {}, previous.get('run', {})).relative_to(ROOT)}")
        return 0
    wanted = set(args.only.split(",")) if args.only else None
    pick = lambda table: {n: v for n, v in table.items() if wanted is None or n in wanted}  # noqa: E731
    run_info: dict = {"machine": machine(), "quick": args.quick, "benchmarks": {}}
    started = time.time()

    for name, (full, quick, limit) in pick(OFFLINE).items():
        run_info["benchmarks"][name] = run_module(name, quick if args.quick else full, limit)

    live = pick(WITH_SERVERS)
    if live:
        print("==> starting the real servers (bot.stack) for e2e, latency and load", flush=True)
        try:
            with running_stack(progress=lambda line: print(line, flush=True)) as stack:
                url = stack.config.rasa_url
                pids = ",".join(f"{n}={p}" for n, p in server_pids(stack).items())
                for name, (full, quick, limit) in live.items():
                    extra = ["--url", url] + (["--pids", pids] if name in ("load", "latency") else [])
                    run_info["benchmarks"][name] = run_module(name, (quick if args.quick else full) + extra, limit)
        except Exception as error:  # a stack that cannot start must not hide the other results
            print(f"bench: the servers did not start: {error}", file=sys.stderr)
            for name in live:
                run_info["benchmarks"].setdefault(name, {"status": f"servers did not start: {error}"[:300],
                                                         "seconds": None})

    for name, (full, quick, limit) in pick(AFTER).items():
        run_info["benchmarks"][name] = run_module(name, quick if args.quick else full, limit)

    previous = previous_run() if wanted else {}
    results, notes = dict(previous.get("results", {})), {}
    run_info["benchmarks"] = {**previous.get("run", {}).get("benchmarks", {}), **run_info["benchmarks"]}
    for name, info in run_info["benchmarks"].items():
        path = OUT_DIR / f"{name}.json"
        if path.exists() and path.stat().st_mtime >= started - 1:
            results[name] = json.loads(path.read_text(encoding="utf-8"))
        elif name not in results:
            notes[name] = f"Not measured in this run: bench.{name} {info['status']}."
    run_info["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (BENCH_DIR / "results.json").write_text(
        json.dumps({"run": run_info, "results": results}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    path = report.write(results, notes, run_info)
    print(f"==> wrote {path.relative_to(ROOT)} and bench/results.json")
    for name, info in run_info["benchmarks"].items():
        print(f"  {name:<12} {info['status']:<24} {info['seconds'] or '':>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Small helpers the benchmark modules share: percentiles, RSS, JSON output."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import psutil

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(seconds: list[float]) -> dict:
    """count, mean, p50/p95/p99 and max, in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "count": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else None,
        "p50_ms": _round(percentile(ms, 50)),
        "p95_ms": _round(percentile(ms, 95)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def rss_mb(pid: int | None = None, children: bool = False) -> float:
    """Resident memory of a process (optionally with its children) in MiB."""
    proc = psutil.Process(pid or os.getpid())
    total = proc.memory_info().rss
    if children:
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
    return round(total / 2**20, 1)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds used so far by each process (with its children).

    CPU time per message is what a message costs, whatever else the machine is doing;
    wall-clock latency also contains the wait for a busy CPU.
    """
    used = {}
    for name, pid in pids.items():
        try:
            proc = psutil.Process(pid)
            total = 0.0
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
            used[name] = total
        except psutil.Error:
            pass
    return used


def write_json(name: str, data: dict) -> Path:
    """Write one benchmark's results to bench/out/<name>.json and return the path."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def repo_path(path: str | Path) -> str:
    """A path as results record it: relative to the repository, so no machine's layout is kept."""
    return os.path.relpath(Path(path).resolve(), BENCH_DIR.parent)


def load_averages(results: object) -> list[float]:
    """Every 1-minute load average recorded anywhere in a results tree (see `machine`)."""
    if isinstance(results, dict):
        found = [float(v) for k, v in results.items() if k == "load_average_1m" and v is not None]
        return found + [x for k, v in results.items() if k != "load_average_1m" for x in load_averages(v)]
    if isinstance(results, list):
        return [x for v in results for x in load_averages(v)]
    return []


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews timings
    }

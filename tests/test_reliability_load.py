"""Sustained load with the real servers (bounded, loopback): simulated citizens below the
saturation point get every message answered, and server memory does not grow over the run.

Uses the benchmark's load generator (bench.load). A short warm-up step first lets caches
and lazy imports settle; then the sustained step runs SUSTAINED_S seconds.
"""

from __future__ import annotations

import pytest
from conftest import run_coroutine

from bench.load import run_step
from bench.servers import knowledge_questions

pytestmark = pytest.mark.servers

CITIZENS = 3            # well below the saturation point measured by `make bench` on 2 cores
WARM_UP_S = 10
SUSTAINED_S = 60
RSS_MARGIN = 0.10       # a server may grow by at most 10 % (or 60 MiB) over the sustained run
RSS_MARGIN_MB = 60


def test_sustained_load_has_no_errors_and_flat_memory(servers):
    url = f"{servers.rasa_url}/webhooks/rest/webhook"
    pids = {name: proc.pid for name, proc in servers.stack.procs.items() if proc.poll() is None}
    questions = knowledge_questions()
    warm = run_coroutine(run_step(url, CITIZENS, WARM_UP_S, pids, questions))
    run = run_coroutine(run_step(url, CITIZENS, SUSTAINED_S, pids, questions))
    print(f"sustained: {run['answered']} messages, {run['throughput_rps']} msg/s, p95 {run['latency']['p95_ms']} ms, "
          f"RSS {run['rss_mb']}")
    assert warm["errors"] == 0 and run["errors"] == 0, (warm["error_kinds"], run["error_kinds"])
    assert run["answered"] >= CITIZENS * 10, "the servers answered too few messages to judge"
    for name, rss in run["rss_mb"].items():
        baseline = warm["rss_mb"][name]["end"]
        allowed = max(baseline * (1 + RSS_MARGIN), baseline + RSS_MARGIN_MB)
        assert rss["end"] <= allowed, f"{name} grew from {baseline} MiB to {rss['end']} MiB during the run"

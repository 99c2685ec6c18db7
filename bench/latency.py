"""Latency of one message through the REST channel with the real servers.

The servers run as their own processes (bot.stack); this process is the client. For
greeting-type messages (intent + response, no search) and for knowledge questions
(intent + custom action + semantic search), each in a conversation that is already
open: p50/p95/p99 over `--n` messages each. The very first request after start is
reported separately (it pays for lazy loading and warm-up).

Run: python -m bench.latency [--n 100] [--url http://127.0.0.1:5005]  (no --url: starts its own servers)
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import uuid

import httpx

from bench.common import cpu_seconds, latency_summary, machine, write_json
from bench.servers import GREETINGS, knowledge_questions, running_stack, server_pids

SESSION_HEADER = "X-Kommunebot-Session"  # a REST conversation's token (bot.channels.guard)
_tokens: dict[str, str] = {}


def send(client: httpx.Client, url: str, sender: str, text: str) -> tuple[float, list]:
    headers = {SESSION_HEADER: _tokens[sender]} if sender in _tokens else {}
    start = time.perf_counter()
    response = client.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                           headers=headers)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    _tokens[sender] = response.headers.get(SESSION_HEADER, "")
    return elapsed, response.json()


def measure(url: str, n: int, pids: dict[str, int]) -> dict:
    client = httpx.Client(timeout=60)
    first_s, first_reply = send(client, url, f"bench-first-{uuid.uuid4().hex[:8]}", "Hei")
    print(f"  first request: {first_s * 1000:.0f} ms", flush=True)
    result: dict = {"first_request_ms": round(first_s * 1000, 1), "first_request_answered": bool(first_reply)}
    # Open conversations first (session start runs once), then time messages inside them.
    senders = [f"bench-lat-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    for sender in senders:
        send(client, url, sender, "Hei")
    for kind, texts in (("greeting", GREETINGS), ("knowledge", knowledge_questions())):
        times, empty = [], 0
        pairs = zip(itertools.cycle(senders), itertools.cycle(texts))
        cpu_before = cpu_seconds(pids)
        for sender, text in itertools.islice(pairs, n):
            elapsed, reply = send(client, url, sender, text)
            times.append(elapsed)
            empty += not reply
        cpu_after = cpu_seconds(pids)
        summary = latency_summary(times)
        summary["empty_replies"] = empty
        summary["server_cpu_ms_per_message"] = {name: round((cpu_after[name] - cpu_before[name]) / n * 1000, 1)
                                                for name in cpu_after if name in cpu_before}
        result[kind] = summary
        print(f"  {kind:<9}: p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, p99 {summary['p99_ms']} ms "
              f"({summary['count']} messages, {empty} empty replies); server CPU per message "
              f"{summary['server_cpu_ms_per_message']} ms", flush=True)
    client.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="timed messages per kind")
    parser.add_argument("--url", help="an already running Rasa server (default: start the servers)")
    parser.add_argument("--pids", default="", help="with --url: name=pid,... of the server processes (CPU time)")
    args = parser.parse_args(argv)
    print("latency: one message through REST, client in its own process", flush=True)
    if args.url:
        pids = {k: int(v) for k, v in (p.split("=") for p in args.pids.split(",") if p)}
        result = measure(args.url.rstrip("/"), args.n, pids)
    else:
        started = time.perf_counter()
        with running_stack(["actions", "rasa"], progress=lambda line: None) as stack:
            print(f"  servers up in {time.perf_counter() - started:.0f} s", flush=True)
            result = measure(stack.config.rasa_url, args.n, server_pids(stack))
    result["machine"] = machine()
    print(f"latency: wrote {write_json('latency', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load: simulated citizens holding short conversations at rising concurrency.

An asyncio client (httpx) in its own process drives the REST channel of the real
servers. Each simulated citizen repeats a short conversation (greeting, two knowledge
questions, thanks; a new conversation id each time) with a short think time. Each
concurrency step (1, 5, 10, 25, 50 citizens) runs for a bounded time; for each step:
throughput, latency percentiles (all messages and knowledge questions alone), errors
(HTTP errors, timeouts and empty replies) and the RSS of every server process.

The saturation point is the first step where throughput grows by less than 10 % over the
previous step (more citizens only add waiting) or errors appear.

Run: python -m bench.load [--steps 1,5,10,25,50] [--seconds 20] [--url URL --pids rasa=123,actions=456]
Loopback only: the URL must point at 127.0.0.1 / localhost.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from urllib.parse import urlsplit

import httpx
import psutil

from bench.common import cpu_seconds, latency_summary, machine, write_json
from bench.servers import GREETINGS, knowledge_questions, running_stack, server_pids

THINK_S = (0.2, 0.8)        # pause between a citizen's messages
TIMEOUT_S = 30.0            # a reply slower than this counts as an error
MAX_REQUESTS_PER_STEP = 5000
SESSION_HEADER = "X-Kommunebot-Session"  # a REST conversation's token (bot.channels.guard)


class Step:
    """What one concurrency step measured."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {"greeting": [], "knowledge": [], "thanks": []}
        self.errors: dict[str, int] = {}
        self.requests = 0
        self.conversations = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def conversation(rng: random.Random, questions: list[str]) -> list[tuple[str, str]]:
    return [("greeting", rng.choice(GREETINGS[:6])), ("knowledge", rng.choice(questions)),
            ("knowledge", rng.choice(questions)), ("thanks", rng.choice(GREETINGS[6:]))]


async def citizen(client: httpx.AsyncClient, url: str, step: Step, deadline: float, seed: int,
                  questions: list[str]) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline and step.requests < MAX_REQUESTS_PER_STEP:
        sender = f"load-{uuid.uuid4().hex[:12]}"
        headers: dict[str, str] = {}  # the conversation's token after its first reply
        for kind, text in conversation(rng, questions):
            if time.monotonic() >= deadline:
                return
            step.requests += 1
            start = time.perf_counter()
            try:
                response = await client.post(url, json={"sender": sender, "message": text}, headers=headers)
                elapsed = time.perf_counter() - start
                if SESSION_HEADER in response.headers:
                    headers = {SESSION_HEADER: response.headers[SESSION_HEADER]}
                if response.status_code != 200:
                    step.error(f"http_{response.status_code}")
                elif not response.json():
                    step.error("empty_reply")
                else:
                    step.times[kind].append(elapsed)
            except httpx.TimeoutException:
                step.error("timeout")
            except httpx.HTTPError as exc:
                step.error(type(exc).__name__)
            await asyncio.sleep(rng.uniform(*THINK_S))
        step.conversations += 1


async def sample_rss(pids: dict[str, int], samples: dict[str, list[float]], stop: asyncio.Event) -> None:
    procs = {name: psutil.Process(pid) for name, pid in pids.items()}
    while not stop.is_set():
        for name, proc in procs.items():
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                samples.setdefault(name, []).append(rss / 2**20)
            except psutil.Error:
                pass
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass


async def run_step(url: str, concurrency: int, seconds: float, pids: dict[str, int], questions: list[str]) -> dict:
    step = Step()
    rss: dict[str, list[float]] = {}
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=concurrency + 5, max_keepalive_connections=concurrency + 5)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:
        sampler = asyncio.create_task(sample_rss(pids, rss, stop))
        cpu_before = cpu_seconds(pids)
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(*(citizen(client, url, step, deadline, concurrency * 1000 + i, questions)
                               for i in range(concurrency)))
        wall = time.monotonic() - start
        cpu_after = cpu_seconds(pids)
        stop.set()
        await sampler
    all_times = [t for times in step.times.values() for t in times]
    return {
        "concurrency": concurrency,
        "seconds": round(wall, 1),
        "requests": step.requests,
        "answered": len(all_times),
        "conversations": step.conversations,
        "throughput_rps": round(len(all_times) / wall, 2),
        "errors": sum(step.errors.values()),
        "error_kinds": step.errors,
        "latency": latency_summary(all_times),
        "knowledge_latency": latency_summary(step.times["knowledge"]),
        "greeting_latency": latency_summary(step.times["greeting"] + step.times["thanks"]),
        "server_cpu_ms_per_message": round(sum(cpu_after.get(n, 0) - cpu_before.get(n, 0) for n in cpu_before)
                                           / max(1, len(all_times)) * 1000, 1),
        "rss_mb": {name: {"start": round(v[0], 1), "max": round(max(v), 1), "end": round(v[-1], 1)}
                   for name, v in rss.items() if v},
    }


def saturation(steps: list[dict]) -> dict:
    """The first step where throughput stops growing (< 10 %) or errors appear."""
    for previous, current in zip(steps, steps[1:]):
        if current["errors"]:
            return {"concurrency": current["concurrency"], "reason": "errors appeared",
                    "throughput_rps": current["throughput_rps"]}
        if current["throughput_rps"] < previous["throughput_rps"] * 1.10:
            return {"concurrency": previous["concurrency"], "reason":
                    f"throughput grew < 10 % from {previous['concurrency']} to {current['concurrency']} citizens",
                    "throughput_rps": previous["throughput_rps"]}
    return {"concurrency": None, "reason": "not reached in the measured steps",
            "throughput_rps": max(s["throughput_rps"] for s in steps)}


def warm_up(endpoint: str, questions: list[str]) -> None:
    """A few conversations first, so the first step does not pay for lazy loading in the servers."""
    senders = [f"load-warm-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    tokens: dict[str, str] = {}
    with httpx.Client(timeout=120) as client:
        for i, text in enumerate(["Hei", *questions[:6], "takk"]):
            sender = senders[i % 2]
            reply = client.post(endpoint, json={"sender": sender, "message": text},
                                headers={SESSION_HEADER: tokens[sender]} if sender in tokens else {})
            tokens.setdefault(sender, reply.headers.get(SESSION_HEADER, ""))


def run_load(url: str, steps: list[int], seconds: float, pids: dict[str, int]) -> dict:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"load: refusing to load {host}: this benchmark runs on loopback only.")
    endpoint = f"{url.rstrip('/')}/webhooks/rest/webhook"
    questions = knowledge_questions()
    warm_up(endpoint, questions)
    results = []
    for concurrency in steps:
        row = asyncio.run(run_step(endpoint, concurrency, seconds, pids, questions))
        results.append(row)
        rss = ", ".join(f"{n} {v['max']:.0f} MiB" for n, v in row["rss_mb"].items())
        print(f"  {concurrency:>3} citizens: {row['throughput_rps']:>6} msg/s, p50 {row['latency']['p50_ms']} ms, "
              f"p95 {row['latency']['p95_ms']} ms, knowledge p95 {row['knowledge_latency']['p95_ms']} ms, "
              f"errors {row['errors']} {row['error_kinds'] or ''}; RSS {rss}", flush=True)
    return {"steps": results, "saturation": saturation(results), "think_time_s": list(THINK_S),
            "step_seconds": seconds, "timeout_s": TIMEOUT_S}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,5,10,25,50", help="concurrency steps, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each step")
    parser.add_argument("--url", help="an already running Rasa server on loopback (default: start the servers)")
    parser.add_argument("--pids", default="", help="with --url: name=pid,... of server processes to sample RSS")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    print(f"load: {steps} simulated citizens, {args.seconds:.0f} s each, REST over loopback", flush=True)
    if args.url:
        pids = {k: int(v) for k, v in (p.split("=") for p in args.pids.split(",") if p)}
        result = run_load(args.url, steps, args.seconds, pids)
    else:
        with running_stack(["actions", "rasa"], progress=lambda line: None) as stack:
            result = run_load(stack.config.rasa_url, steps, args.seconds, server_pids(stack))
    sat = result["saturation"]
    print(f"  saturation: {sat['concurrency']} citizens ({sat['reason']})")
    result["machine"] = machine()
    print(f"load: wrote {write_json('load', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

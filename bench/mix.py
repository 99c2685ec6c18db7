"""Side by side: Kommunebot and Rasa's own starter bot under the same citizen mix.

Both bots run at the same time on this machine (the starter bot: `rasa init`, same Rasa
install, SQLite tracker store, see bench/starter.py; Kommunebot: its real servers as
`kommunebot run` starts them, with its own SQLite databases). A client in this process
sends the same citizen mix to each bot's REST channel: greetings, factual questions,
requests for a person and out-of-scope messages, drawn with fixed weights from a seeded
generator; no think time; a new conversation every third message. At each concurrency
step the two bots are measured one after the other (the order alternates step by step,
so a change in the machine's load hits both alike), and the result is reported as
RATIOS Kommunebot / starter: the machine is shared, so absolute numbers move with its
load (the load average is recorded with every step) while the ratio of two bots measured
a few seconds apart is what this benchmark is for.

For each bot and step: messages answered per second, p50/p95/p99 latency, errors (HTTP
errors, timeouts, empty replies), CPU milliseconds per message of each server process
(user + system), and the resident memory of each server process. Saturation throughput
is the highest throughput over the steps.

Run: python -m bench.mix [--steps 1,5,10,25,50] [--seconds 15] [--bots starter,kommunebot]
     [--rasa-workers N] [--env KEY=VALUE ...]
Writes bench/out/mix.json; bench/report.py draws bench/mix.png from it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from typing import Iterator

import httpx
import psutil

from bench.citizens import GREETINGS, HANDOFFS, OUT_OF_SCOPE, WEIGHTS
from bench.common import latency_summary, machine, write_json
from bench.servers import free_port, knowledge_questions, running_stack
from bench.starter import RunningBot, running_starter

TIMEOUT_S = 30.0               # a reply slower than this counts as an error
MESSAGES_PER_CONVERSATION = 3  # a new conversation (sender id) every third message
SESSION_HEADER = "X-Kommunebot-Session"  # a REST conversation's token (bot.channels.guard)
WARM_UP_MESSAGES = 30


def mix_texts() -> dict[str, list[str]]:
    return {"greeting": GREETINGS, "fact": knowledge_questions(), "handoff": HANDOFFS,
            "out_of_scope": OUT_OF_SCOPE}


def draw(rng: random.Random, texts: dict[str, list[str]]) -> tuple[str, str]:
    """One message of the mix: (category, text)."""
    kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    return kind, rng.choice(texts[kind])


# -- processes --------------------------------------------------------------------------

def _tree(pid: int) -> list[psutil.Process]:
    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) so far of each named server and, separately, of each of
    its child processes (Sanic workers) as `name/pid`."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        for proc in _tree(pid):
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            key = name if proc.pid == pid else f"{name}/{proc.pid}"
            out[key] = t.user + t.system
    return out


def rss_by_process(pids: dict[str, int]) -> dict[str, float]:
    """Resident memory (MiB) of each server process and of each of its children."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        for proc in _tree(pid):
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            out[name if proc.pid == pid else f"{name}/{proc.pid}"] = rss / 2**20
    return out


# -- the client -------------------------------------------------------------------------

class Step:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {k: [] for k in WEIGHTS}
        self.errors: dict[str, int] = {}
        self.empty = 0
        self.sent = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def citizen(client: httpx.AsyncClient, endpoint: str, step: Step, deadline: float, seed: int,
                  texts: dict[str, list[str]]) -> None:
    rng = random.Random(seed)
    sender, in_conversation = "", MESSAGES_PER_CONVERSATION
    headers: dict[str, str] = {}
    while time.monotonic() < deadline:
        if in_conversation >= MESSAGES_PER_CONVERSATION:
            sender, in_conversation, headers = f"mix-{uuid.uuid4().hex[:12]}", 0, {}
        kind, text = draw(rng, texts)
        in_conversation += 1
        step.sent += 1
        start = time.perf_counter()
        try:
            response = await client.post(endpoint, json={"sender": sender, "message": text}, headers=headers)
            elapsed = time.perf_counter() - start
            if SESSION_HEADER in response.headers:  # Kommunebot's conversation token (the starter bot has none)
                headers = {SESSION_HEADER: response.headers[SESSION_HEADER]}
            if response.status_code != 200:
                step.error(f"http_{response.status_code}")
            else:
                # An answer without messages is a reply for the starter bot (its stories end
                # in silence for some inputs); Kommunebot promises never to be silent, so the
                # report counts its empty replies as errors.
                step.empty += not response.json()
                step.times[kind].append(elapsed)
        except httpx.TimeoutException:
            step.error("timeout")
        except httpx.HTTPError as exc:
            step.error(type(exc).__name__)


async def sample_rss(pids: dict[str, int], peaks: dict[str, float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, mib in rss_by_process(pids).items():
            peaks[name] = max(peaks.get(name, 0.0), mib)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def run_step(url: str, concurrency: int, seconds: float, pids: dict[str, int],
                   texts: dict[str, list[str]]) -> dict:
    step = Step()
    peaks: dict[str, float] = {}
    stop = asyncio.Event()
    endpoint = f"{url}/webhooks/rest/webhook"
    limits = httpx.Limits(max_connections=concurrency + 5, max_keepalive_connections=concurrency + 5)
    load_before = os.getloadavg()[0]
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:
        sampler = asyncio.create_task(sample_rss(pids, peaks, stop))
        cpu_before = cpu_by_process(pids)
        start = time.monotonic()
        await asyncio.gather(*(citizen(client, endpoint, step, start + seconds, concurrency * 7919 + i, texts)
                               for i in range(concurrency)))
        wall = time.monotonic() - start
        cpu_after = cpu_by_process(pids)
        stop.set()
        await sampler
    answered = [t for times in step.times.values() for t in times]
    n = max(1, len(answered))
    cpu_ms = {name: round((cpu_after[name] - cpu_before.get(name, 0.0)) / n * 1000, 2) for name in cpu_after}
    return {
        "concurrency": concurrency,
        "seconds": round(wall, 1),
        "sent": step.sent,
        "answered": len(answered),
        "throughput_rps": round(len(answered) / wall, 2),
        "errors": sum(step.errors.values()),
        "error_kinds": step.errors,
        "empty_replies": step.empty,
        "latency": latency_summary(answered),
        "latency_by_kind": {kind: latency_summary(times) for kind, times in step.times.items()},
        "cpu_ms_per_message": cpu_ms,
        "cpu_ms_per_message_total": round(sum(cpu_ms.values()), 2),
        "rss_mib": {name: round(v, 1) for name, v in sorted(peaks.items())},
        "load_average_1m": round(load_before, 2),
    }


def warm_up(url: str, texts: dict[str, list[str]]) -> None:
    """One conversation's worth of every category first: lazy loading is not measured."""
    rng = random.Random(1)
    senders: dict[int, str] = {}
    tokens: dict[str, str] = {}
    with httpx.Client(timeout=120) as client:
        for i in range(WARM_UP_MESSAGES):
            _, text = draw(rng, texts)
            sender = senders.setdefault(i // 3, f"mix-warm-{uuid.uuid4().hex[:8]}")
            reply = client.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                headers={SESSION_HEADER: tokens[sender]} if tokens.get(sender) else {})
            tokens.setdefault(sender, reply.headers.get(SESSION_HEADER, ""))


# -- the two bots -----------------------------------------------------------------------

@contextlib.contextmanager
def running_kommunebot(rasa_workers: int, env: dict[str, str], progress=print) -> Iterator[RunningBot]:
    """Kommunebot's action server and Rasa server (as `kommunebot run`, without the portal)."""
    # As `kommunebot run` serves (the test fixtures turn uvloop off; production does not).
    extra = {"SANIC_NO_UVLOOP": "false", **env}
    if rasa_workers > 1:
        extra["KOMMUNEBOT_RASA_WORKERS"] = str(rasa_workers)
    with running_stack(["actions", "rasa"], progress=progress, **extra) as stack:
        pids = {name: proc.pid for name, proc in stack.procs.items() if proc.poll() is None}
        yield RunningBot(url=stack.config.rasa_url, pids=pids, log=stack.log_dir)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if not ours or not theirs:
        return None
    return round(ours / theirs, 3)


def compare(steps: dict[str, list[dict]], ours_name: str = "kommunebot") -> dict:
    """Kommunebot / starter ratios per step and at saturation."""
    ours, theirs = steps.get(ours_name, []), steps.get("starter", [])
    rows = []
    for a, b in zip(ours, theirs):
        rows.append({"concurrency": a["concurrency"],
                     "throughput_ratio": ratio(a["throughput_rps"], b["throughput_rps"]),
                     "p95_ratio": ratio(a["latency"]["p95_ms"], b["latency"]["p95_ms"]),
                     "cpu_ratio": ratio(a["cpu_ms_per_message_total"], b["cpu_ms_per_message_total"])})
    out: dict = {"steps": rows}
    if ours and theirs:
        peak_ours = max(s["throughput_rps"] for s in ours)
        peak_theirs = max(s["throughput_rps"] for s in theirs)
        out["saturation_throughput"] = {"kommunebot": peak_ours, "starter": peak_theirs,
                                        "ratio": ratio(peak_ours, peak_theirs)}
        at10 = [r for r in rows if r["concurrency"] == 10]
        if at10:
            out["p95_ratio_at_10"] = at10[0]["p95_ratio"]
    return out


def print_step(name: str, row: dict) -> None:
    cpu = ", ".join(f"{k} {v}" for k, v in row["cpu_ms_per_message"].items() if v)
    rss = ", ".join(f"{k} {v:.0f}" for k, v in row["rss_mib"].items())
    print(f"  {name:<10} {row['concurrency']:>3} citizens: {row['throughput_rps']:>6} msg/s, "
          f"p50 {row['latency']['p50_ms']} ms, p95 {row['latency']['p95_ms']} ms, errors {row['errors']} "
          f"{row['error_kinds'] or ''}, empty replies {row['empty_replies']}; CPU ms/msg {cpu}; RSS MiB {rss}; "
          f"load {row['load_average_1m']}", flush=True)


def run(bots: list[str], steps: list[int], seconds: float, rasa_workers: int, env: dict[str, str]) -> dict:
    texts = mix_texts()
    results: dict[str, list[dict]] = {name: [] for name in bots}
    info: dict[str, dict] = {}
    with contextlib.ExitStack() as stack:
        running: dict[str, RunningBot] = {}
        for name in bots:
            print(f"mix: starting {name}", flush=True)
            started = time.monotonic()
            if name == "starter":
                running[name] = stack.enter_context(running_starter(free_port(), progress=print))
            else:  # "kommunebot" or "kommunebot@N" (N Rasa processes)
                workers = int(name.split("@")[1]) if "@" in name else rasa_workers
                running[name] = stack.enter_context(running_kommunebot(workers, env, progress=lambda _: None))
            info[name] = {"start_s": round(time.monotonic() - started, 1)}
        for name, bot in running.items():
            warm_up(bot.url, texts)
            info[name]["rss_after_warm_up_mib"] = {k: round(v, 1) for k, v in rss_by_process(bot.pids).items()}
        for i, concurrency in enumerate(steps):
            order = bots if i % 2 == 0 else list(reversed(bots))
            for name in order:
                row = asyncio.run(run_step(running[name].url, concurrency, seconds, running[name].pids, texts))
                results[name].append(row)
                print_step(name, row)
    ours = [name for name in bots if name != "starter"]
    comparisons = {name: compare(results, name) for name in ours}
    comparison = comparisons[ours[0]] if ours else {}
    sat = comparison.get("saturation_throughput")
    if sat:
        print(f"mix: saturation throughput {ours[0]} {sat['kommunebot']} msg/s, starter {sat['starter']} msg/s, "
              f"ratio {sat['ratio']}; p95 ratio at 10 citizens {comparison.get('p95_ratio_at_10')}")
    return {"bots": results, "comparison": comparison, "comparisons": comparisons,
            "headline": ours[0] if ours else None,
            "bot_info": info, "weights": WEIGHTS,
            "messages_per_conversation": MESSAGES_PER_CONVERSATION, "step_seconds": seconds,
            "timeout_s": TIMEOUT_S, "rasa_workers": rasa_workers, "env": env}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,5,10,25,50", help="concurrency steps, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each step per bot")
    parser.add_argument("--bots", default="starter,kommunebot",
                        help="which bots, comma-separated: starter, kommunebot, kommunebot@N (N Rasa processes); "
                             "the first Kommunebot is the headline")
    parser.add_argument("--rasa-workers", type=int, default=0,
                        help="Kommunebot's Rasa processes (default: what `kommunebot run` starts)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for Kommunebot's servers")
    parser.add_argument("--out", default="mix", help="name of the JSON file in bench/out/")
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    steps = [int(s) for s in args.steps.split(",")]
    print(f"mix: {steps} concurrent citizens, {args.seconds:.0f} s per step and bot, no think time", flush=True)
    result = run(args.bots.split(","), steps, args.seconds, args.rasa_workers, env)
    result["machine"] = machine()
    print(f"mix: wrote {write_json(args.out, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

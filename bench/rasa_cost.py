"""Rasa's own cost per message, in-process, for Kommunebot and Rasa's starter bot (issue 13).

Each bot is measured in a child process in the Rasa virtualenv. Loads each bot's trained model
with its endpoints (Kommunebot: its action server,
started here, and its SQLite tracker store; the starter bot: Rasa's SQLTrackerStore on
SQLite) and sends the same citizen mix as bench.mix, one message at a time, a new
conversation every third message. Reported per bot: CPU ms per message (process time,
all threads) by kind of message, events written per message, and where the time goes
(cProfile on a second pass: NLU, policy predictions, tracker store load and save, custom
actions and their response check). Kommunebot is measured twice: as it runs, and with
bot.rasa_speed switched off (KOMMUNEBOT_RASA_SPEED=off), which shows that lever alone.

Run: python -m bench.rasa_cost [--n 150]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.citizens import GREETINGS, HANDOFFS, OUT_OF_SCOPE, WEIGHTS  # noqa: E402

RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"

# cProfile function names (file fragment, function) -> stage
STAGES = {
    "NLU pipeline": ("rasa/core/processor.py", "_parse_message_with_graph"),
    "policy predictions": ("rasa/core/processor.py", "_predict_next_with_tracker"),
    "tracker store load": ("rasa/core/tracker_store.py", "retrieve"),
    "tracker store save": ("rasa/core/processor.py", "save_tracker"),
    "actions (incl. custom action calls)": ("rasa/core/processor.py", "_run_action"),
    "custom action response check": ("rasa/core/actions/action.py", "_validate_action_result"),
    "written-standard component": ("bot/rasa_nlu/written_standard.py", "process"),
}


def questions() -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / "tests" / "data" / "search_dev.yml").read_text(encoding="utf-8"))
    return [q["text"] for q in data["questions"] if q.get("pages")]


def messages(n: int, seed: int = 3) -> list[tuple[str, str]]:
    texts = {"greeting": GREETINGS, "fact": questions(), "handoff": HANDOFFS, "out_of_scope": OUT_OF_SCOPE}
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        out.append((kind, rng.choice(texts[kind])))
    return out


async def measure(model: str, endpoints: str, n: int) -> dict:
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    agent = await load_agent(model_path=model, endpoints=AvailableEndpoints.read_endpoints(endpoints))
    for i, (_, text) in enumerate(messages(20, seed=1)):  # warm up lazy loading
        await agent.handle_text(text, sender_id=f"warm-{i // 3}")
    store = agent.tracker_store

    async def one_pass(profile: cProfile.Profile | None) -> tuple[dict, dict]:
        by_kind: dict[str, list[float]] = {}
        events: list[int] = []
        sender = ""
        for i, (kind, text) in enumerate(messages(n)):
            if i % 3 == 0:
                sender = f"cost-{uuid.uuid4().hex[:10]}"
            before = len((await store.retrieve(sender)).events) if i % 3 else 0
            start = time.process_time()
            if profile:
                profile.enable()
            await agent.handle_text(text, sender_id=sender)
            if profile:
                profile.disable()
            by_kind.setdefault(kind, []).append(time.process_time() - start)
            events.append(len((await store.retrieve(sender)).events) - before)
        return by_kind, {"events_per_message": round(sum(events) / len(events), 1)}

    by_kind, extra = await one_pass(None)
    profile = cProfile.Profile()
    await one_pass(profile)
    stats = pstats.Stats(profile)
    total = sum(v for v in (stats.stats[k][3] for k in stats.stats if k[2] == "handle_message"
                            and k[0].endswith("rasa/core/processor.py")))
    stages = {}
    for label, (fragment, function) in STAGES.items():
        cum = sum(stats.stats[k][3] for k in stats.stats if k[2] == function and k[0].endswith(fragment))
        stages[label] = round(cum / total, 3) if total else None
    all_times = [t for v in by_kind.values() for t in v]
    return {"cpu_ms_per_message": round(sum(all_times) / len(all_times) * 1000, 1),
            "cpu_ms_by_kind": {k: round(sum(v) / len(v) * 1000, 1) for k, v in by_kind.items()},
            "share_of_profiled_time": stages, **extra}


def run_bot(name: str, n: int, env: dict[str, str]) -> dict:
    """Measure one bot in a fresh process (each model gets its own TensorFlow state)."""
    out = subprocess.run([str(RASA_PYTHON), "-m", "bench.rasa_cost", "--one", name, "--n", str(n)],
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=3600, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1][:300]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150, help="messages per pass")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    if args.one:
        if args.one == "starter":
            from bench.starter import endpoints, prepare

            project = prepare(progress=lambda _: None)
            tmp = Path(tempfile.mkdtemp(prefix="rasa-cost-"))
            (tmp / "endpoints.yml").write_text(endpoints(tmp / "tracker.db"), encoding="utf-8")
            model = str(project / "models" / "starter.tar.gz")
            result = asyncio.run(measure(model, str(tmp / "endpoints.yml"), args.n))
        else:
            result = asyncio.run(measure(str(ROOT / "models" / "rasa"), str(ROOT / "endpoints.yml"), args.n))
        print(json.dumps(result))
        return 0

    from bench.common import machine, write_json
    from bench.servers import running_stack

    print(f"rasa_cost: Rasa's CPU per message in-process, {args.n} messages per bot", flush=True)
    results: dict = {"machine": machine(), "n": args.n}
    results["starter"] = run_bot("starter", args.n, {})
    print(f"  starter: {results['starter']}", flush=True)
    with running_stack(["actions"], progress=lambda _: None) as stack:
        env = {"KOMMUNEBOT_ACTION_URL": stack.config.action_url, "PYTHONPATH": str(ROOT),
               "KOMMUNEBOT_VAR_DIR": str(stack.config.var_dir),
               "KOMMUNEBOT_TRACKER_URL": f"sqlite:///{stack.config.var_dir / 'rasa-cost-tracker.db'}",
               "KOMMUNEBOT_DATABASE_URL": stack.env["KOMMUNEBOT_DATABASE_URL"]}
        results["kommunebot"] = run_bot("kommunebot", args.n, env)
        print(f"  kommunebot: {results['kommunebot']}", flush=True)
        results["kommunebot, rasa_speed off"] = run_bot("kommunebot", args.n, {**env, "KOMMUNEBOT_RASA_SPEED": "off"})
        print(f"  kommunebot, rasa_speed off: {results['kommunebot, rasa_speed off']}", flush=True)
    print(f"rasa_cost: wrote {write_json('rasa_cost', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cold start: time from `bin/kommunebot run` (already installed and trained) to the first
answered message, and the time and peak memory of `rasa train` from scratch.

Run: python -m bench.coldstart [--skip-train]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil

from bench.common import machine, write_json
from bench.servers import free_port, model_path
from bot.config import ROOT

RUN_TIMEOUT_S = 420
TRAIN_TIMEOUT_S = 1200


def tree_rss_mb(proc: psutil.Process) -> float:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def first_answer(tmp: Path) -> dict:
    """Start `bin/kommunebot run` on free ports; time until REST answers a greeting."""
    ports = {"rasa": free_port(), "action": free_port(), "staff": free_port()}
    env = dict(os.environ, KOMMUNEBOT_VAR_DIR=str(tmp / "var"),
               KOMMUNEBOT_DATABASE_URL=f"sqlite:///{tmp / 'var' / 'kommunebot.db'}",
               KOMMUNEBOT_TRACKER_URL=f"sqlite:///{tmp / 'var' / 'rasa-tracker.db'}")
    command = [str(ROOT / "bin" / "kommunebot"), "run", "--rasa-port", str(ports["rasa"]),
               "--action-port", str(ports["action"]), "--staff-port", str(ports["staff"]),
               "--model", str(model_path())]
    log = open(tmp / "run.log", "wb")
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{ports['rasa']}/webhooks/rest/webhook"
    answered_s = None
    peak = 0.0
    try:
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() - start < RUN_TIMEOUT_S and proc.poll() is None:
                peak = max(peak, tree_rss_mb(psutil.Process(proc.pid)))
                try:
                    reply = client.post(url, json={"sender": f"cold-{uuid.uuid4().hex[:8]}", "message": "Hei"})
                    if reply.status_code == 200 and reply.json():
                        answered_s = time.perf_counter() - start
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        steady = tree_rss_mb(psutil.Process(proc.pid)) if proc.poll() is None else None
    finally:
        stop_run(proc)
        log.close()
    if answered_s is None:
        tail = (tmp / "run.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        return {"first_answer_s": None, "error": f"no answer within {RUN_TIMEOUT_S} s", "log_tail": tail}
    return {"first_answer_s": round(answered_s, 1), "rss_all_servers_mb": round(steady or peak, 0)}


def stop_run(proc: subprocess.Popen) -> None:
    """Ctrl-C for `kommunebot run` (it stops its servers); then end any server left over.

    A process started from a non-interactive shell may ignore SIGINT, and the servers run
    in their own sessions, so each one is ended by its own pid.
    """
    try:
        servers = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        servers = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=20)
    for server in servers:
        try:
            server.terminate()
            server.wait(timeout=20)
        except psutil.TimeoutExpired:
            server.kill()
        except psutil.Error:
            pass


def train_from_scratch(tmp: Path) -> dict:
    """`rasa train --force` into a temp dir (the project's data and config)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    command = [str(ROOT / ".venv" / "rasa" / "bin" / "rasa"), "train", "--force", "--quiet",
               "--fixed-model-name", "bench", "--out", str(tmp / "models")]
    log = open(tmp / "train.log", "wb")
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak = 0.0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None and time.perf_counter() - start < TRAIN_TIMEOUT_S:
        peak = max(peak, tree_rss_mb(ps))
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    log.close()
    seconds = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    model = tmp / "models" / "bench.tar.gz"
    if proc.returncode != 0 or not model.exists():
        tail = (tmp / "train.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        return {"seconds": round(seconds, 1), "error": f"rasa train failed ({proc.returncode})", "log_tail": tail}
    # CPU seconds tell the cost apart from waiting for a busy machine (wall time).
    return {"seconds": round(seconds, 1), "cpu_s": round(cpu_s, 1), "peak_rss_mb": round(peak, 0),
            "model_mb": round(model.stat().st_size / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-train", action="store_true", help="only time the start-up")
    args = parser.parse_args(argv)
    result: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="kommunebot-cold-") as tmp:
        print("coldstart: bin/kommunebot run -> first answered message", flush=True)
        result["run"] = first_answer(Path(tmp))
        print(f"  first answer after {result['run'].get('first_answer_s')} s "
              f"{result['run'].get('error', '')}", flush=True)
        if not args.skip_train:
            print("coldstart: rasa train --force from scratch", flush=True)
            result["train"] = train_from_scratch(Path(tmp))
            print(f"  trained in {result['train']['seconds']} s, peak RSS {result['train'].get('peak_rss_mb')} MiB "
                  f"{result['train'].get('error', '')}", flush=True)
    print(f"coldstart: wrote {write_json('coldstart', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

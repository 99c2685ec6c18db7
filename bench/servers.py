"""The real servers for the speed benchmarks, started with bot.stack (the same code as
`kommunebot run` and the tests' `servers` fixture) on free loopback ports in a temp dir,
and the questions the benchmarks send."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import yaml

from bot.config import ROOT
from bot.stack import Stack, StackConfig

GREETINGS = ["Hei", "Hallo!", "God morgon", "God dag", "hei hei", "Heisann", "takk", "Tusen takk!",
             "Takk for hjelpa", "Takk for hjelpen"]


def knowledge_questions() -> list[str]:
    """Answerable citizen questions of the retrieval dev set (both standards)."""
    data = yaml.safe_load((ROOT / "tests" / "data" / "search_dev.yml").read_text(encoding="utf-8"))
    return [q["text"] for q in data["questions"] if q.get("pages")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def model_path() -> Path:
    return Path(os.environ.get("KOMMUNEBOT_TEST_RASA_MODEL", ROOT / "models" / "rasa"))


@contextlib.contextmanager
def running_stack(names: list[str] | None = None, progress=print, **env: str) -> Iterator[Stack]:
    """Start the servers (default: all) on free ports with their own SQLite databases; stop them after."""
    with tempfile.TemporaryDirectory(prefix="kommunebot-bench-") as tmp:
        var_dir = Path(tmp) / "var"
        config = StackConfig(
            rasa_port=free_port(), action_port=free_port(), staff_port=free_port(), model=model_path(),
            var_dir=var_dir, token=f"bench-{uuid.uuid4().hex}",
            env={"KOMMUNEBOT_DATABASE_URL": f"sqlite:///{var_dir / 'kommunebot.db'}",
                 "KOMMUNEBOT_TRACKER_URL": f"sqlite:///{var_dir / 'rasa-tracker.db'}",
                 "SANIC_NO_UVLOOP": "true",
                 # The benchmark client is many citizens on one address, faster than any
                 # citizen types: the abuse limits (bot.channels.guard) do not apply to it.
                 "KOMMUNEBOT_LIMIT_EXEMPT": "127.0.0.1/32 ::1/128", "KOMMUNEBOT_LIMIT_MESSAGES_PER_MINUTE": "1000000",
                 **env},
        )
        stack = Stack(config, progress=progress)
        stack.start(names)
        try:
            yield stack
        finally:
            stack.stop()


def server_pids(stack: Stack) -> dict[str, int]:
    """Process id of each running server (the process group leader Stack started)."""
    return {name: proc.pid for name, proc in stack.procs.items() if proc.poll() is None}

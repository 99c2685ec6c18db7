"""Rasa's own starter bot (`rasa init`), trained and served by the same Rasa install, as
the yardstick the speed benchmarks compare Kommunebot with.

The project is Rasa's `rasa init` template copied unchanged (its data, domain, config
with Rasa's default pipeline and policies, REST credentials); only endpoints.yml differs:
its conversations go to a SQLite tracker store (Rasa's own SQLTrackerStore), like
Kommunebot's. It is trained once into models/starter/<rasa version>/ (about two minutes)
and reused while the template and the Rasa version stay the same.

    with running_starter() as bot:   # bot.url, bot.pids
        ...

Run: python -m bench.starter [--force]   (prepare the trained starter bot and print where)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.error import URLError
from urllib.request import urlopen

from bot.config import ROOT

RASA_VENV = ROOT / ".venv" / "rasa"
RASA = RASA_VENV / "bin" / "rasa"
STARTER_DIR = ROOT / "models" / "starter"
TEMPLATE_FILES = ("config.yml", "domain.yml", "credentials.yml", "data/nlu.yml", "data/rules.yml",
                  "data/stories.yml")
START_TIMEOUT_S = 300.0


def _template_dir() -> Path:
    found = sorted((RASA_VENV / "lib").glob("python3*/site-packages/rasa/cli/initial_project"))
    if not found:
        raise SystemExit(f"starter: Rasa's project template (rasa/cli/initial_project) is not in {RASA_VENV}; "
                         "run `make install`.")
    return found[0]


def rasa_version() -> str:
    found = sorted((RASA_VENV / "lib").glob("python3*/site-packages/rasa-*.dist-info"))
    return found[0].name[len("rasa-"):-len(".dist-info")] if found else "unknown"


def _template_key(template: Path) -> str:
    digest = hashlib.sha256(rasa_version().encode())
    for name in TEMPLATE_FILES:
        digest.update(name.encode() + b"\0" + (template / name).read_bytes())
    return digest.hexdigest()[:16]


def project_dir() -> Path:
    return STARTER_DIR / rasa_version()


def _rasa_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


def prepare(force: bool = False, progress=print) -> Path:
    """The trained starter bot's project folder (trained now if missing or outdated)."""
    template = _template_dir()
    key = _template_key(template)
    project = project_dir()
    stamp = project / "trained.key"
    model = project / "models" / "starter.tar.gz"
    if not force and model.is_file() and stamp.is_file() and stamp.read_text().strip() == key:
        return project
    progress(f"starter: training Rasa's starter bot (rasa init template, Rasa {rasa_version()}) in {project} "
             "(about two minutes, once)")
    if project.exists():
        shutil.rmtree(project)
    for name in TEMPLATE_FILES:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(template / name, project / name)
    started = time.monotonic()
    subprocess.run([str(RASA), "train", "--quiet", "--fixed-model-name", "starter", "--out", "models"],
                   cwd=project, env=_rasa_env(), check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(key + "\n")
    progress(f"starter: trained in {time.monotonic() - started:.0f} s")
    return project


def endpoints(tracker_db: Path) -> str:
    """The starter bot's endpoints: only a SQLite tracker store (Rasa's SQLTrackerStore)."""
    return f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tracker_db}\n"


@dataclass
class RunningBot:
    url: str
    pids: dict[str, int]
    log: Path


def _healthy(url: str) -> bool:
    try:
        with urlopen(url, timeout=3) as response:
            return response.status == 200
    except (URLError, OSError):
        return False


@contextlib.contextmanager
def running_starter(port: int, env: dict[str, str] | None = None, progress=print) -> Iterator[RunningBot]:
    """`rasa run` of the trained starter bot on 127.0.0.1:`port`, SQLite tracker store in a temp dir."""
    project = prepare(progress=progress)
    token = f"starter-{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="kommunebot-starter-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "endpoints.yml").write_text(endpoints(tmp_path / "tracker.db"), encoding="utf-8")
        log_path = tmp_path / "rasa.log"
        command = [str(RASA), "run", "--enable-api", "--auth-token", token, "-i", "127.0.0.1", "--port", str(port),
                   "--credentials", str(project / "credentials.yml"), "--endpoints",
                   str(tmp_path / "endpoints.yml"), "-m", str(project / "models" / "starter.tar.gz")]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, cwd=project, env={**_rasa_env(), **(env or {})}, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            status = f"http://127.0.0.1:{port}/status?token={token}"
            while not _healthy(status):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace").splitlines()[-20:]
                    raise RuntimeError("the starter bot did not start:\n" + "\n".join(tail))
                time.sleep(0.5)
            yield RunningBot(url=f"http://127.0.0.1:{port}", pids={"rasa": proc.pid}, log=log_path)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="train again even when a trained starter bot exists")
    args = parser.parse_args(argv)
    print(f"starter: {prepare(force=args.force)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

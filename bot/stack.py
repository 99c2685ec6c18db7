"""Command `run`: start the action server, the Rasa server and the staff portal, wait until
each answers its health check, print the addresses, and stop them all on Ctrl-C.

    bin/kommunebot run                      # make run
    bin/kommunebot run --shell              # make shell: action server + `rasa shell`
    bin/kommunebot run --shell --municipality ullensaker   # make shell MUNICIPALITY=ullensaker
    bin/kommunebot run --rasa-port 5105 --action-port 5155 --staff-port 8100

`Stack` is also what tests/conftest.py uses to start the real servers on test ports:

    stack = Stack(StackConfig(rasa_port=..., action_port=..., staff_port=..., var_dir=tmp))
    stack.start()      # raises StackError with the log tail if a server fails to come up
    ...
    stack.stop()

Logs go to <var_dir>/logs/<server>.log. Settings come from bot.config (KOMMUNEBOT_*); the
ports from the flags, else from KOMMUNEBOT_RASA_URL / KOMMUNEBOT_ACTION_URL /
KOMMUNEBOT_STAFF_URL, else 5005 / 5055 / 8000.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

from bot.config import ROOT, settings

RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"
ACTIONS_PYTHON = ROOT / ".venv" / "actions" / "bin" / "python"
START_TIMEOUT = {"actions": 180.0, "rasa": 300.0, "staff": 60.0}
LABEL = {"actions": "action server", "rasa": "Rasa server", "staff": "staff portal"}


class StackError(RuntimeError):
    """A server could not be started; the message says which and what to do."""


def _port(url: str, default: int) -> int:
    return urlsplit(url).port or default


@dataclass
class StackConfig:
    """Where the three servers listen and what they load. Defaults follow bot.config."""

    host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    staff_port: int = 8000
    model: Path = ROOT / "models" / "rasa"
    endpoints: Path = ROOT / "endpoints.yml"
    credentials: Path = ROOT / "credentials.yml"
    var_dir: Path = ROOT / "var"
    cors: str = ""            # origins that may embed the widget (KOMMUNEBOT_CORS); "" = the staff portal's
    token: str = ""
    staff: bool = True
    env: dict[str, str] = field(default_factory=dict)  # extra environment for all servers
    # Rasa server processes (Sanic workers sharing the port); 0: KOMMUNEBOT_RASA_WORKERS, else 1.
    rasa_workers: int = 0

    @classmethod
    def from_settings(cls) -> StackConfig:
        s = settings()
        return cls(rasa_port=_port(s.rasa_url, 5005), action_port=_port(s.action_url, 5055),
                   staff_port=_port(s.staff_url, 8000), model=s.models_dir / "rasa", var_dir=s.var_dir,
                   cors=os.environ.get("KOMMUNEBOT_CORS", ""), token=s.rasa_token)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://{self.host}:{self.action_port}/webhook"

    @property
    def staff_url(self) -> str:
        return f"http://{self.host}:{self.staff_port}"

    def cors_origins(self) -> list[str]:
        """Web sites whose pages may use the widget: `cors` (spaces or commas between
        origins), else the staff portal, which serves the demo page."""
        origins = self.cors.replace(",", " ").split()
        if origins:
            return origins
        hosts = [self.host] + (["localhost"] if self.host == "127.0.0.1" else [])
        return [f"http://{h}:{self.staff_port}" for h in hosts]


def rasa_token(config: StackConfig) -> str:
    """The Rasa HTTP API token: configured, else generated once into <var>/rasa-token."""
    if config.token:
        return config.token
    path = config.var_dir / "rasa-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _secret(config: StackConfig, setting: str, filename: str) -> str:
    """A shared secret: the setting (the caller's environment), else made once into <var>/filename."""
    from bot.privacy.keys import read_or_create

    return config.env.get(setting) or os.environ.get(setting, "").strip() or read_or_create(config.var_dir / filename)


def staff_portal_available() -> bool:
    """True when the handoff engineer's staff portal (bot.staff) is installed in this tree."""
    return importlib.util.find_spec("bot.staff.app") is not None


def _healthy(url: str) -> bool:
    try:
        with urlopen(url, timeout=3) as response:
            return 200 <= response.status < 300
    except (HTTPError, URLError, OSError):
        return False


# Per-server defaults. One torch thread per query: on a small machine two threads for a
# tiny query mostly spin, doubling CPU per question (bench/REPORT.md: p95 2.0 s -> 0.26 s
# at 10 concurrent citizens on 2 cores). Set OMP_NUM_THREADS to override.
PROCESS_ENV: dict[str, dict[str, str]] = {"actions": {"OMP_NUM_THREADS": "1"}}


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise StackError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


def _stop_on_sigterm() -> None:
    """Treat SIGTERM (systemd, docker stop) like Ctrl-C, so the servers are stopped too."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)


class Stack:
    """The running servers of one Kommunebot installation."""

    def __init__(self, config: StackConfig, progress=print) -> None:
        self.config = config
        self.progress = progress
        config.var_dir.mkdir(parents=True, exist_ok=True)
        config.var_dir.chmod(0o700)  # databases, logs and secrets: the service account only
        self.token = rasa_token(config)
        self.log_dir = config.var_dir / "logs"
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ)
        self.env.update({
            "PYTHONPATH": str(ROOT), "KOMMUNEBOT_HOME": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
            "KOMMUNEBOT_VAR_DIR": str(config.var_dir),
            "KOMMUNEBOT_RASA_URL": config.rasa_url, "KOMMUNEBOT_ACTION_URL": config.action_url,
            "KOMMUNEBOT_STAFF_URL": config.staff_url, "KOMMUNEBOT_RASA_TOKEN": self.token,
            # Rasa sends the action token (endpoints.yml); every server signs with the same key.
            "KOMMUNEBOT_ACTION_TOKEN": _secret(config, "KOMMUNEBOT_ACTION_TOKEN", "action-token"),
            "KOMMUNEBOT_SECRET_KEY": _secret(config, "KOMMUNEBOT_SECRET_KEY", "secret-key"),
            "KOMMUNEBOT_CORS": " ".join(config.cors_origins()),
            # A reverse proxy on this machine (nginx, docs/DEPLOYMENT.md) may tell the
            # client's address and scheme; nobody else can (bot.privacy.proxy).
            "KOMMUNEBOT_TRUSTED_PROXIES": os.environ.get("KOMMUNEBOT_TRUSTED_PROXIES", "127.0.0.1 ::1"),
            "SANIC_HOST": config.host,  # where the action server binds
        })
        self.env.update(config.env)
        self.endpoints = config.endpoints
        self.workers = config.rasa_workers or int(self.env.get("KOMMUNEBOT_RASA_WORKERS", "1") or "1")
        if self.workers < 1:
            raise StackError(f"KOMMUNEBOT_RASA_WORKERS={self.workers}: give a number of Rasa processes >= 1.")

    # -- several Rasa processes ------------------------------------------------------------
    def _prepare_workers(self) -> None:
        """Several Rasa processes on one machine (Sanic workers sharing the port) need a
        lock store all of them see, so that one conversation is handled by one process at
        a time: Redis at KOMMUNEBOT_LOCK_STORE_URL, else a private redis-server started
        here (loopback, no persistence: it only holds locks)."""
        url = self.env.get("KOMMUNEBOT_LOCK_STORE_URL", "").strip()
        if not url:
            if not shutil.which("redis-server"):
                raise StackError(f"KOMMUNEBOT_RASA_WORKERS={self.workers} needs a Redis lock store: install "
                                 "redis-server (Debian: redis-server) or set KOMMUNEBOT_LOCK_STORE_URL=redis://host:port/db.")
            port = _free_port(self.config.host)
            folder = self.config.var_dir / "redis"
            folder.mkdir(parents=True, exist_ok=True)
            self.spawn("redis", ["redis-server", "--bind", self.config.host, "--port", str(port), "--save", "",
                                 "--appendonly", "no", "--dir", str(folder)])
            _wait_for_port(self.config.host, port, 20.0, "redis-server")
            url = f"redis://{self.config.host}:{port}/0"
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise StackError(f"KOMMUNEBOT_LOCK_STORE_URL={url!r}: use redis://host:port/db")
        text = self.config.endpoints.read_text(encoding="utf-8")
        if "\nlock_store:" not in "\n" + text:
            text += (f"\n# Added by kommunebot run for {self.workers} Rasa processes.\nlock_store:\n  type: redis\n"
                     f"  url: {parts.hostname}\n  port: {parts.port or 6379}\n"
                     f"  db: {(parts.path or '/0').strip('/') or 0}\n"
                     + (f"  password: {parts.password}\n" if parts.password else "")
                     + ("  use_ssl: true\n" if parts.scheme == "rediss" else ""))
        self.endpoints = self.config.var_dir / "endpoints.generated.yml"
        self.endpoints.write_text(text, encoding="utf-8")
        self.endpoints.chmod(0o600)

    # -- commands ------------------------------------------------------------------------
    def commands(self) -> dict[str, list[str]]:
        c = self.config
        return {
            "actions": [str(ACTIONS_PYTHON), "-m", "bot.action_server", "--actions", "actions",
                        "--port", str(c.action_port)],
            "rasa": [str(RASA), "run", "--enable-api", "--auth-token", self.token, "-i", c.host,
                     "--port", str(c.rasa_port), "--cors", *self.env["KOMMUNEBOT_CORS"].split(),
                     "--credentials", str(c.credentials), "--endpoints", str(self.endpoints), "-m", str(c.model)],
            "staff": [str(ACTIONS_PYTHON), "-m", "bot.staff", "--host", c.host, "--port", str(c.staff_port)],
        }

    def health_url(self, name: str) -> str:
        c = self.config
        return {
            "actions": f"http://{c.host}:{c.action_port}/health",
            # /status needs the token and answers only once the model is loaded
            "rasa": f"{c.rasa_url}/status?token={self.token}",
            "staff": f"{c.staff_url}/healthz",
        }[name]

    def names(self) -> list[str]:
        return ["actions", "rasa"] + (["staff"] if self.config.staff and staff_portal_available() else [])

    # -- life cycle ----------------------------------------------------------------------
    def check(self, names: list[str]) -> None:
        """Fail early, with what to do, when something the servers need is missing."""
        needed = {"actions": ACTIONS_PYTHON, "rasa": RASA, "staff": ACTIONS_PYTHON, "shell": RASA}
        for name in names:
            if not needed[name].exists():
                raise StackError(f"{needed[name]} is missing: run `make install` first.")
        if "rasa" in names or "shell" in names:
            model = self.config.model
            if not (model.is_file() or any(model.glob("*.tar.gz"))):
                raise StackError(f"No trained Rasa model in {model}: run `make train` first.")

    def start(self, names: list[str] | None = None) -> None:
        """Start `names` (default: all available), then wait until each is healthy."""
        names = names or self.names()
        self.check(names)
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in names:
            if _healthy(self.health_url(name)):
                raise StackError(f"Something already answers at {self.health_url(name).split('?')[0]}: "
                                 f"stop it or choose another port (see `kommunebot run --help`).")
        try:
            if "rasa" in names and self.workers > 1:
                self._prepare_workers()
        except BaseException:
            self.stop()
            raise
        for name in names:
            self.spawn(name, self.commands()[name])
        try:
            for name in names:
                self.wait(name)
        except BaseException:
            self.stop()
            raise

    def spawn(self, name: str, command: list[str]) -> None:
        path = self.log_dir / f"{name}.log"
        log = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        path.chmod(0o600)
        env = {**PROCESS_ENV.get(name, {}), **self.env}  # the caller's environment wins
        if name == "rasa" and self.workers > 1:
            env["SANIC_WORKERS"] = str(self.workers)
        # umask 077: the databases (SQLite), their WAL files and whatever else a server
        # writes are readable by the service account only.
        self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, umask=0o077)
        log.close()

    def wait(self, name: str) -> None:
        url, started = self.health_url(name), time.monotonic()
        timeout, last_report = START_TIMEOUT[name], 0.0
        while not _healthy(url):
            elapsed = time.monotonic() - started
            if self.procs[name].poll() is not None:
                raise StackError(f"The {LABEL[name]} stopped while starting (exit code "
                                 f"{self.procs[name].returncode}). End of {self.log(name)}:\n{self.log_tail(name)}")
            if elapsed > timeout:
                raise StackError(f"The {LABEL[name]} did not answer {url.split('?')[0]} within {timeout:.0f} s. "
                                 f"End of {self.log(name)}:\n{self.log_tail(name)}")
            if elapsed - last_report >= 5:
                self.progress(f"  waiting for the {LABEL[name]} ... {elapsed:.0f} s")
                last_report = elapsed
            time.sleep(0.5)
        self.progress(f"  {LABEL[name]} is up ({time.monotonic() - started:.0f} s)")

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log(name).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, names: list[str] | None = None) -> None:
        """Stop the servers this Stack started (their whole process groups)."""
        for name in names or list(reversed(list(self.procs))):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass

    def exited(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def shell(self) -> int:
        """`rasa shell` in the foreground, talking to this stack's action server."""
        c = self.config
        # `rasa shell` starts a Rasa server too; it binds 0.0.0.0 unless told otherwise, and
        # a staff member's test shell must not be reachable from the network (issue 14).
        command = [str(RASA), "shell", "--endpoints", str(c.endpoints), "-m", str(c.model),
                   "-i", c.host, "--port", str(c.rasa_port)]
        return subprocess.call(command, cwd=ROOT, env=self.env)


def _urls(stack: Stack) -> str:
    c = stack.config
    rows = [f"  Rasa server      {c.rasa_url}  (REST: {c.rasa_url}/webhooks/rest/webhook, socket.io)",
            f"  Action server    http://{c.host}:{c.action_port}"]
    if "staff" in stack.procs:
        rows += [f"  Demo page        {c.staff_url}/  (chat widget)",
                 f"  Staff portal     {c.staff_url}/staff"]
    rows.append(f"  Logs             {stack.log_dir}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    config = StackConfig.from_settings()
    for key in ("host", "rasa_port", "action_port", "staff_port", "model", "cors"):
        value = getattr(args, key)
        if value is not None:
            setattr(config, key, Path(value) if key == "model" else value)
    config.staff = not args.no_staff
    if args.municipality:
        from bot.service.municipalities import UnknownMunicipality, registry
        from bot.service.profile import ProfileError

        try:
            slug = registry().get(args.municipality).slug
        except (UnknownMunicipality, ProfileError) as error:
            print(f"kommunebot run: --municipality: {error}", file=sys.stderr)
            return 2
        # The default municipality of every server: what `rasa shell` (which sends no
        # metadata) and channels without a municipality talk to.
        config.env["KOMMUNEBOT_DEFAULT_MUNICIPALITY"] = slug
    stack = Stack(config)
    _stop_on_sigterm()
    try:
        if args.shell:
            stack.check(["actions", "shell"])
            print("Starting the action server ...", flush=True)
            stack.start(["actions"])
            print("Starting `rasa shell` (about 30 s; type /stop to end) ...", flush=True)
            return stack.shell()
        print("Starting Kommunebot (the Rasa server needs about 30 s to load) ...", flush=True)
        stack.start()
        print("Kommunebot is running:\n" + _urls(stack) + "\nPress Ctrl-C to stop.", flush=True)
        while not stack.exited():
            time.sleep(1)
        name = stack.exited()[0]
        print(f"The {LABEL[name]} stopped unexpectedly. End of {stack.log(name)}:\n{stack.log_tail(name)}",
              file=sys.stderr)
        return 1
    except StackError as error:
        print(f"kommunebot run: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        stack.stop()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="start the action server, Rasa server and staff portal",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("--shell", action="store_true", help="start the action server and talk in `rasa shell`")
    parser.add_argument("--host", help="address all servers listen on (default 127.0.0.1)")
    parser.add_argument("--rasa-port", type=int, help="Rasa server port (default 5005)")
    parser.add_argument("--action-port", type=int, help="action server port (default 5055)")
    parser.add_argument("--staff-port", type=int, help="staff portal port (default 8000)")
    parser.add_argument("--model", help="trained Rasa model file or folder (default models/rasa)")
    parser.add_argument("--cors", help="web sites (origins, space-separated) whose pages may use the widget "
                                       "(default KOMMUNEBOT_CORS, else the staff portal's demo page; \"*\" = any)")
    parser.add_argument("--no-staff", action="store_true", help="do not start the staff portal")
    parser.add_argument("--municipality", metavar="SLUG",
                        help="the default municipality (the one `--shell` talks to; default: the only or first)")
    parser.set_defaults(func=run)

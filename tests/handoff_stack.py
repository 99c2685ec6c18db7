"""Real Rasa server, action server and staff portal on free ports for the handoff tests,
with their own SQLite databases, a clock file (KOMMUNEBOT_NOW=file:...) and restart."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import socketio

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"
PYTHON = ROOT / ".venv" / "actions" / "bin" / "python"
MODEL = Path(os.environ.get("KOMMUNEBOT_TEST_RASA_MODEL", ROOT / "models" / "rasa" / "kommunebot.tar.gz"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HandoffStack:
    """Starts, stops and restarts the three servers; logs go to `tmp`."""

    def __init__(self, tmp: Path, clock_moment: str) -> None:
        self.tmp = tmp
        self.clock_file = tmp / "now.txt"
        self.set_clock(clock_moment)
        self.db_url = f"sqlite:///{tmp / 'kommunebot.db'}"
        self.token = "handoff-test-token"
        self.rasa_port, self.action_port, self.portal_port = free_port(), free_port(), free_port()
        self.rasa_url = f"http://127.0.0.1:{self.rasa_port}"
        self.portal_url = f"http://127.0.0.1:{self.portal_port}"
        (tmp / "endpoints.yml").write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{self.action_port}/webhook\n"
            f"tracker_store:\n  type: bot.privacy.tracker_store.RedactingSQLTrackerStore\n"
            f"  dialect: sqlite\n  db: {tmp / 'tracker.db'}\n", encoding="utf-8")
        (tmp / "credentials.yml").write_text(
            "rest:\nbot.channels.socketio.HardenedSocketIOInput:\n  user_message_evt: user_uttered\n"
            "  bot_message_evt: bot_uttered\n  session_persistence: true\n", encoding="utf-8")
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_HOME=str(ROOT), RASA_TELEMETRY_ENABLED="false",
                        KOMMUNEBOT_DATABASE_URL=self.db_url, KOMMUNEBOT_NOW=f"file:{self.clock_file}",
                        KOMMUNEBOT_RASA_URL=self.rasa_url, KOMMUNEBOT_RASA_TOKEN=self.token,
                        KOMMUNEBOT_ACTION_URL=f"http://127.0.0.1:{self.action_port}/webhook",
                        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", SANIC_NO_UVLOOP="true")
        self.procs: dict[str, subprocess.Popen] = {}

    def set_clock(self, moment: str) -> None:
        self.clock_file.write_text(moment, encoding="utf-8")

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def _wait(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.tmp / (name + '.log')}:\n" + self.log(name)[-3000:])
            try:
                httpx.get(url, timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError(f"{name} did not answer at {url} within {timeout:.0f} s; see {self.tmp}")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def start(self, names: tuple[str, ...] = ("actions", "rasa", "portal")) -> None:
        if "actions" in names:
            self._spawn("actions", [str(PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port",
                                    str(self.action_port)])
        if "rasa" in names:
            self._spawn("rasa", [str(RASA), "run", "--model", str(MODEL), "--endpoints", str(self.tmp / "endpoints.yml"),
                                 "--credentials", str(self.tmp / "credentials.yml"), "--enable-api",
                                 "--auth-token", self.token, "-i", "127.0.0.1", "--port", str(self.rasa_port)])
        if "portal" in names:
            self._spawn("portal", [str(PYTHON), "-m", "bot.staff", "--port", str(self.portal_port)])
        if "actions" in names:
            self._wait("actions", f"http://127.0.0.1:{self.action_port}/health", 180)
        if "rasa" in names:
            self._wait("rasa", f"{self.rasa_url}/", 240)
        if "portal" in names:
            self._wait("portal", f"{self.portal_url}/healthz", 60)

    def stop(self, names: tuple[str, ...] = ("portal", "rasa", "actions")) -> None:
        for name in names:
            proc = self.procs.pop(name, None)
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def add_staff(self, username: str, password: str) -> None:
        subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "add", username, "--password-stdin"],
                       input=password + "\n", text=True, env=self.env, check=True, capture_output=True)


class Citizen:
    """The widget's side of the conversation: a socket.io client with session persistence."""

    def __init__(self, url: str, session_id: str | None = None) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.messages: queue.Queue = queue.Queue()
        confirms: queue.Queue = queue.Queue()
        self.sio.on("bot_uttered", lambda data: self.messages.put(data))
        self.sio.on("session_confirm", lambda data: confirms.put(data))
        self.sio.connect(url, transports=["websocket"], wait_timeout=20)
        self.sio.emit("session_request", {"session_id": session_id} if session_id else None)
        confirmed = confirms.get(timeout=20)
        self.session_id = confirmed["session_id"] if isinstance(confirmed, dict) else confirmed

    def say(self, text: str) -> None:
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    def next(self, timeout: float = 30) -> dict:
        return self.messages.get(timeout=timeout)

    def until_handoff(self, state: str, timeout: float = 30) -> dict:
        """Messages until a handoff payload in `state`; returns its data."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(message)
            if message.get("type") == "handoff" and message.get("state") == state:
                return message
        raise AssertionError(f"no handoff '{state}' within {timeout} s; got {seen}")

    def silent_for(self, seconds: float) -> list[dict]:
        time.sleep(seconds)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out

    def close(self) -> None:
        self.sio.disconnect()


class Staff:
    """A logged-in staff member using the portal's forms over HTTP."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        page = self.client.get("/staff/login")
        resp = self.client.post("/staff/login", data={"username": username, "password": password,
                                                      "csrf_token": self._csrf(page.text), "next": "/staff/"})
        assert resp.status_code == 303 and resp.headers["location"] == "/staff/", resp.text

    @staticmethod
    def _csrf(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def queue(self) -> str:
        return self.client.get("/staff/").text

    def case(self, reference: str) -> str:
        resp = self.client.get(f"/staff/cases/{reference}")
        assert resp.status_code == 200
        return resp.text

    def post(self, reference: str, what: str, **data: str) -> str:
        token = self._csrf(self.case(reference))
        resp = self.client.post(f"/staff/cases/{reference}/{what}", data={"csrf_token": token, **data})
        assert resp.status_code == 303, resp.text
        return resp.headers["location"]

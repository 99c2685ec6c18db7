"""The two people in a handoff test: a citizen on the widget's socket.io channel and a
staff member using the staff portal's forms over HTTP."""

from __future__ import annotations

import queue
import re
import subprocess
import time

import httpx
import socketio

from bot.config import ROOT


def add_staff(env: dict[str, str], username: str, password: str) -> None:
    """`kommunebot staff add` against the servers' database (env from the stack)."""
    subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "add", username, "--password-stdin"],
                   input=password + "\n", text=True, env=env, check=True, capture_output=True)


class Citizen:
    """The widget's side: a socket.io client with session persistence."""

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

    def next(self, timeout: float = 60) -> dict:
        return self.messages.get(timeout=timeout)

    def until_handoff(self, state: str, timeout: float = 60) -> dict:
        """Read messages until a handoff payload in `state`; returns its data."""
        deadline, seen = time.monotonic() + timeout, []
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
        """Whatever arrives within `seconds` (a paused bot sends nothing)."""
        time.sleep(seconds)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out

    def close(self) -> None:
        self.sio.disconnect()


class Staff:
    """A logged-in staff member using the portal's forms."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
        page = self.client.get("/staff/login")
        resp = self.client.post("/staff/login", data={"username": username, "password": password,
                                                      "csrf_token": self.csrf(page.text), "next": "/staff/"})
        assert resp.status_code == 303 and resp.headers["location"] == "/staff/", resp.text

    @staticmethod
    def csrf(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def queue(self) -> str:
        return self.client.get("/staff/").text

    def case(self, reference: str) -> str:
        resp = self.client.get(f"/staff/cases/{reference}")
        assert resp.status_code == 200
        return resp.text

    def post(self, reference: str, what: str, **data: str) -> str:
        """Submit the claim/reply/close form; returns where the portal redirects to."""
        token = self.csrf(self.case(reference))
        resp = self.client.post(f"/staff/cases/{reference}/{what}", data={"csrf_token": token, **data})
        assert resp.status_code == 303, resp.text
        return resp.headers["location"]

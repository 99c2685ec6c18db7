"""The people in a handoff test: a citizen on the widget's socket.io channel (confirming
what it shows, like the widget), and staff using the portal's forms or its JSON API."""

from __future__ import annotations

import queue
import re
import subprocess
import time

import httpx
import socketio

from bot.config import ROOT


def add_staff(env: dict[str, str], username: str, password: str, role: str = "staff",
              municipality: str = "alver") -> None:
    """`kommunebot staff add` against the servers' database (env from the stack); with
    several municipalities an account must name its own."""
    subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "add", username, "--password-stdin", "--role", role,
                    "--municipality", municipality],
                   input=password + "\n", text=True, env=env, check=True, capture_output=True)


def staff_token(env: dict[str, str], username: str) -> str:
    """`kommunebot staff token NAME`: a new API token on stdout."""
    done = subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "token", username], text=True, env=env,
                          check=True, capture_output=True)
    return done.stdout.strip()


class Citizen:
    """The widget's side: a socket.io client with session persistence. Like the widget,
    it confirms every staff message it receives (`ack=False` to act like a lost one)."""

    def __init__(self, url: str, session_token: str | None = None, ack: bool = True,
                 headers: dict[str, str] | None = None) -> None:
        """A new session, or (`session_token` from an earlier Citizen) the same one again,
        as the widget does after a reload. `headers`: e.g. the X-Forwarded-For of a proxy."""
        self.url, self.ack, self.headers = url, ack, headers or {}
        self.messages: queue.Queue = queue.Queue()
        self.statuses: queue.Queue = queue.Queue()
        self.received_ids: list[int] = []
        self._connect(session_token)

    def _connect(self, session_token: str | None) -> None:
        self.sio = socketio.Client(reconnection=False)
        confirms: queue.Queue = queue.Queue()
        self.sio.on("bot_uttered", self._received)
        self.sio.on("kb_status", lambda data: self.statuses.put(data))
        self.sio.on("session_confirm", lambda data: confirms.put(data))
        self.sio.connect(self.url, transports=["websocket"], wait_timeout=20, headers=self.headers)
        self.sio.emit("session_request", {"session_token": session_token} if session_token else None)
        confirmed = confirms.get(timeout=20)
        self.session_id = confirmed["session_id"]
        self.session_token = confirmed["session_token"]  # what the widget keeps to come back

    def _received(self, data: dict) -> None:
        message_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(message_id, int):
            if self.ack:
                self.sio.emit("kb_ack", {"session_id": self.session_id, "ids": [message_id], "seen": True})
            if message_id in self.received_ids:
                return  # sent again after a reconnect: the widget drops it
            self.received_ids.append(message_id)
        self.messages.put(data)

    def reconnect(self) -> None:
        """Come back with the same conversation (a reload, or the network back): the
        widget keeps the session's token, the server's proof that the session is its."""
        self._connect(self.session_token)

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
        self.username = username
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
        """Submit the claim/reply/close/transfer/answer form; returns where the portal redirects to."""
        token = self.csrf(self.case(reference))
        if what == "close":
            data.setdefault("confirm", "yes")
        resp = self.client.post(f"/staff/cases/{reference}/{what}", data={"csrf_token": token, **data})
        assert resp.status_code == 303, resp.text
        return resp.headers["location"]

    def api(self) -> StaffAPI:
        """The JSON API with this portal session (CSRF token in the header, as the pages do)."""
        token = re.search(r'data-csrf="([^"]+)"', self.queue()).group(1)
        return StaffAPI(self.client.base_url, client=self.client, csrf=token)


class StaffAPI:
    """The JSON API, with a session (and its CSRF token) or an API token."""

    def __init__(self, base, token: str | None = None, client: httpx.Client | None = None, csrf: str = "") -> None:
        self.client = client or httpx.Client(base_url=base, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {"X-CSRF-Token": csrf}

    def get(self, path: str) -> httpx.Response:
        return self.client.get(f"/staff/api{path}", headers=self.headers)

    def post(self, path: str, body: dict | None = None) -> httpx.Response:
        return self.client.post(f"/staff/api{path}", json=body, headers=self.headers)

    def messages(self, reference: str) -> list[dict]:
        return self.get(f"/chats/{reference}").json()["messages"]

    def wait_for_state(self, reference: str, message_id: int, states: tuple[str, ...], timeout: float = 20) -> str:
        deadline, state = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            state = next((m["status"] for m in self.messages(reference) if m["id"] == message_id), None)
            if state in states:
                return state
            time.sleep(0.2)
        raise AssertionError(f"message {message_id} of {reference} is {state!r}, not one of {states}")

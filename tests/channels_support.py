"""Helpers for the channel tests: free ports, the widget's static site, the fake Graph API
and the channel test server (tests/channels_app.py) in the Rasa virtualenv."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDGET = ROOT / "widget"
RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"
ARTIFACTS = ROOT / "tests" / "artifacts"
DEMO_SERVER_ATTR = 'data-server="http://127.0.0.1:5005"'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait until `url` answers (any HTTP status), or fail with what to check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Wait until something listens on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def chromium_path() -> str:
    """Debian's chromium (never a Playwright download)."""
    path = shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium not found: apt-get install --no-install-recommends chromium fonts-liberation")
    return path


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # browsers drop connections
        pass


class StaticSite:
    """Serves widget/demo.html at / and widget/ at /widget/, with the demo's data-server
    pointed at `rasa_url` (what the staff portal does in production); `/?lang=nb` serves
    it as a Bokmål page."""

    def __init__(self, rasa_url: str) -> None:
        site = self
        ws_url = rasa_url.replace("http", "ws", 1)
        self.csp = (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                    f"connect-src 'self' {rasa_url} {ws_url}; base-uri 'self'")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path, _, query = self.path.partition("?")
                if path in ("/", "/index.html"):
                    body = (WIDGET / "demo.html").read_text(encoding="utf-8")
                    body = body.replace(DEMO_SERVER_ATTR, f'data-server="{rasa_url}"')
                    if query == "lang=nb":  # a Bokmål municipality's page
                        body = body.replace('data-lang="nn"', 'data-lang="nb"').replace('lang="nn"', 'lang="nb"')
                    self._send(200, body.encode(), "text/html; charset=utf-8", csp=True)
                    return
                if path.startswith("/widget/"):
                    file = (WIDGET / path[len("/widget/"):]).resolve()
                    if file.is_file() and WIDGET.resolve() in file.parents:
                        types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
                        self._send(200, file.read_bytes(), types.get(file.suffix, "application/octet-stream"))
                        return
                self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str, csp: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                if csp:  # as strict as the staff portal's: the widget must work under it
                    self.send_header("Content-Security-Policy", site.csp)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeGraphAPI:
    """A local stand-in for Facebook's Send API that records every call it receives."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[dict] = []
        self.delay = delay
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                time.sleep(fake.delay)
                fake.calls.append({"path": self.path, "body": json.loads(body or b"null")})
                reply = json.dumps({"recipient_id": "1", "message_id": f"m{len(fake.calls)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = _Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v19.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages_to(self, recipient: str) -> list[dict]:
        return [c["body"]["message"] for c in self.calls if c["body"]["recipient"]["id"] == recipient]

    def wait_for(self, recipient: str, count: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages_to(recipient)) < count:
            time.sleep(0.05)
        return self.messages_to(recipient)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


CHANNEL_TEST_SECRET = "channel-test-secret-key"

FACEBOOK_ENV = {
    "KOMMUNEBOT_FACEBOOK_VERIFY_TOKEN": "test-verify-token",
    "KOMMUNEBOT_FACEBOOK_APP_SECRET": "test-app-secret",
    "KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKEN": "test-page-token",
}


class ChannelApp:
    """tests/channels_app.py running in the Rasa virtualenv on a free port."""

    def __init__(self, graph_url: str, log_path: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        # Pages of any test site may use the widget (tests/test_widget.py serves them from
        # random ports); tests of the origin check set KOMMUNEBOT_CORS themselves.
        env = {**os.environ, **FACEBOOK_ENV, "KOMMUNEBOT_FACEBOOK_GRAPH_URL": graph_url,
               "KOMMUNEBOT_FACEBOOK_TIMEOUT": "3", "PYTHONPATH": str(ROOT),
               "RASA_TELEMETRY_ENABLED": "false", "KOMMUNEBOT_CORS": "*",
               "KOMMUNEBOT_SECRET_KEY": CHANNEL_TEST_SECRET, "KOMMUNEBOT_VAR_DIR": str(log_path.parent),
               **extra_env}
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [str(RASA_PYTHON), str(ROOT / "tests" / "channels_app.py"), "--port", str(self.port)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        wait_for_http(self.url + "/webhooks/facebook/", timeout=90, process=self.process)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def received(self) -> list[dict]:
        with urllib.request.urlopen(self.url + "/_received", timeout=5) as reply:
            return json.load(reply)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@contextmanager
def channel_app_with_fake_graph(log_dir: Path):
    """A ChannelApp whose Graph API is a local fake that the test does not inspect."""
    graph = FakeGraphAPI()
    app = ChannelApp(graph.url, log_dir / "channels_app.log")
    try:
        yield app
    finally:
        app.close()
        graph.close()

"""The staff portal's logins and cookies as issue 14 asks, over real HTTP (portal processes).

- Failed logins are counted in the shared database (bot.privacy.login_limits): per account
  whatever portal process or address they hit, and per client address whatever names it
  tries (failures on other names never reset a target's count: tests/test_privacy_login_limits.py).
  Wrong API tokens count against the address too.
- Behind a trusted proxy (KOMMUNEBOT_TRUSTED_PROXIES) that says X-Forwarded-Proto: https,
  the portal's cookies are Secure; from anybody else the header is ignored. (HSTS is set
  by the proxy: docs/DEPLOYMENT.md.)
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest

from bot.config import ROOT
from bot.handoff.db import Database
from bot.staff.accounts import Accounts

PASSWORD = "rett-passord-123"
START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Portal:
    """One portal process on a free port."""

    def __init__(self, url: str, **env: str) -> None:
        self.port = _free_port()
        full = dict(os.environ, KOMMUNEBOT_DATABASE_URL=url, KOMMUNEBOT_RASA_URL=f"http://127.0.0.1:{_free_port()}",
                    KOMMUNEBOT_RASA_TOKEN="test-token", PYTHONPATH=str(ROOT), **env)
        full.pop("KOMMUNEBOT_NOW", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.staff", "--port", str(self.port)], env=full,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(150):
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("the staff portal did not start: " + self.proc.stdout.read().decode(errors="replace"))

    def login(self, username: str, password: str, forwarded_for: str | None = None) -> httpx.Response:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        client = httpx.Client(base_url=self.base, follow_redirects=False, timeout=10, headers=headers)
        page = client.get("/staff/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return client.post("/staff/login", data={"username": username, "password": password, "csrf_token": csrf})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def logged_in(resp: httpx.Response) -> bool:
    return resp.status_code == 303 and "kb_staff_session" in resp.cookies


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('portal') / 'portal.db'}"
    db = Database(url)
    for name in ("kari", "per", "ola"):
        Accounts(db).add(name, PASSWORD, now=START)
    db.dispose()
    return url


@pytest.fixture(scope="module")
def two_portals(url):
    """Two portal processes on one database, behind a proxy on this machine (each test
    uses its own client addresses and accounts)."""
    portals = [Portal(url, KOMMUNEBOT_TRUSTED_PROXIES="127.0.0.1"),
               Portal(url, KOMMUNEBOT_TRUSTED_PROXIES="127.0.0.1")]
    yield portals
    for portal in portals:
        portal.stop()


def test_an_account_is_locked_across_portal_processes_and_addresses(two_portals):
    a, b = two_portals
    for i in range(5):  # five wrong passwords, spread over two processes and five addresses
        portal = (a, b)[i % 2]
        assert not logged_in(portal.login("kari", "feil-passord", forwarded_for=f"203.0.113.{i + 1}"))
    for portal in (a, b):
        resp = portal.login("kari", PASSWORD, forwarded_for="198.51.100.7")
        assert "error=locked" in resp.headers["location"] and not logged_in(resp)
    assert logged_in(a.login("per", PASSWORD, forwarded_for="198.51.100.7"))  # other accounts work


def test_one_address_trying_many_names_is_refused(two_portals):
    a, b = two_portals
    for i in range(20):
        assert not logged_in((a, b)[i % 2].login(f"namn{i}", "feil-passord", forwarded_for="203.0.113.9"))
    refused = a.login("ola", PASSWORD, forwarded_for="203.0.113.9")  # the right password, but from there
    assert "error=locked" in refused.headers["location"] and not logged_in(refused)
    assert logged_in(b.login("ola", PASSWORD, forwarded_for="198.51.100.8"))  # from elsewhere: fine


def test_wrong_api_tokens_count_against_the_address(two_portals):
    a, b = two_portals
    for i in range(20):
        resp = httpx.get((a, b)[i % 2].base + "/staff/api/queue",
                         headers={"Authorization": f"Bearer gjett-{i}", "X-Forwarded-For": "203.0.113.20"})
        assert resp.status_code == 401
    resp = httpx.get(a.base + "/staff/api/queue",
                     headers={"Authorization": "Bearer gjett-igjen", "X-Forwarded-For": "203.0.113.20"})
    assert resp.status_code == 429 and resp.json()["code"] == "too_many_failures"
    assert "Retry-After" in resp.headers
    other = httpx.get(b.base + "/staff/api/queue",
                      headers={"Authorization": "Bearer gjett-igjen", "X-Forwarded-For": "203.0.113.21"})
    assert other.status_code == 401  # another address is not affected


def test_cookies_are_secure_behind_a_trusted_tls_proxy_only(two_portals, url):
    trusting, stranger = two_portals[0], Portal(url)
    try:
        https = {"X-Forwarded-Proto": "https"}
        resp = httpx.get(trusting.base + "/staff/login", headers=https)
        assert "secure" in resp.headers["set-cookie"].lower()
        plain = httpx.get(trusting.base + "/staff/login")
        assert "secure" not in plain.headers["set-cookie"].lower()
        # a client that is no trusted proxy cannot claim HTTPS
        forged = httpx.get(stranger.base + "/staff/login", headers=https)
        assert "secure" not in forged.headers["set-cookie"].lower()
    finally:
        stranger.stop()

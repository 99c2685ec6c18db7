"""Privacy with the real servers: Rasa's HTTP API is closed without the token and listens
on loopback only; `kommunebot forget CONVERSATION_ID` deletes what is kept about a
conversation (tracker events, cases and queue entries) with the servers' own settings."""

from __future__ import annotations

import subprocess

import httpx
import psutil
import pytest
from reliability_support import create_case

from bot.config import ROOT
from bot.handoff.db import Database
from bot.handoff.store import HandoffStore

pytestmark = pytest.mark.servers


@pytest.mark.parametrize("method,path", [
    ("GET", "/conversations/{sid}/tracker"),
    ("POST", "/conversations/{sid}/tracker/events"),
    ("POST", "/conversations/{sid}/execute"),
    ("POST", "/conversations/{sid}/messages"),
    ("PUT", "/model"),
    ("GET", "/status"),
    ("POST", "/model/parse"),
])
def test_rasa_http_api_refuses_requests_without_or_with_a_wrong_token(servers, method, path):
    sid = servers.new_sender()
    servers.send("Hei", sender=sid)
    url = servers.rasa_url + path.format(sid=sid)
    for params in ({}, {"token": "wrong"}, {"token": ""}):
        response = httpx.request(method, url, params=params, json={"text": "hei", "name": "action_listen"},
                                 timeout=30)
        assert response.status_code in (401, 403), (params, response.status_code, response.text[:200])
        assert "events" not in response.text
    assert httpx.get(servers.rasa_url + f"/conversations/{sid}/tracker", params={"token": servers.token},
                     timeout=30).status_code == 200


def listening_addresses(pid: int) -> set[str]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    found = set()
    for proc in procs:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                found.add(conn.laddr.ip)
    return found


@pytest.mark.parametrize("name", ["rasa", "actions", "staff"])
def test_servers_listen_on_loopback_only(servers, name):
    proc = servers.stack.procs.get(name)
    if proc is None:
        pytest.fail(f"the {name} server is not running in the servers fixture")
    addresses = listening_addresses(proc.pid)
    assert addresses, f"{name} listens nowhere?"
    assert addresses <= {"127.0.0.1", "::1"}, f"{name} listens on {addresses}"


def test_forget_deletes_the_conversation_and_its_case(servers):
    sender = servers.new_sender()
    reference = create_case(servers, sender, "Kvifor har eg fått to fakturaer for vatn?", "ola.nordmann@example.no")
    store = HandoffStore(Database(servers.env["KOMMUNEBOT_DATABASE_URL"]))
    assert store.get(reference) is not None
    assert any(e.get("event") == "user" for e in servers.tracker(sender)["events"])
    other = servers.new_sender()
    servers.send("Hei", sender=other)

    result = subprocess.run([str(ROOT / "bin" / "kommunebot"), "forget", sender], env=servers.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    assert store.get(reference) is None
    # Rasa would rebuild a tracker from its store: nothing of the citizen's messages is left.
    events = servers.tracker(sender)["events"]
    assert not [e for e in events if e.get("event") == "user"], events[:5]
    assert any(e.get("event") == "user" for e in servers.tracker(other)["events"]), "another conversation was deleted"


def test_forget_without_an_id_says_what_to_give(servers):
    result = subprocess.run([str(ROOT / "bin" / "kommunebot"), "forget"], env=servers.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "conversation id" in result.stderr

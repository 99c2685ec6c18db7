"""Two Rasa processes on one machine (KOMMUNEBOT_RASA_WORKERS=2, as `kommunebot run` starts
them): Sanic workers sharing the port, a private Redis lock store, one SQLite tracker
store. Concurrent conversations are all answered, and a conversation spread over both
processes keeps its state."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psutil
import pytest
from conftest import run_coroutine, start_stack

from bot.channels.guard import SESSION_HEADER

pytestmark = pytest.mark.scaleout


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    stack, _ = start_stack(tmp_path_factory.mktemp("workers"), ["actions", "rasa"], KOMMUNEBOT_RASA_WORKERS="2")
    try:
        yield stack
    finally:
        stack.stop()


def test_two_rasa_processes_and_a_lock_store_run(two_workers):
    names = set(two_workers.procs)
    assert {"redis", "rasa", "actions"} <= names
    workers = [p for p in psutil.Process(two_workers.procs["rasa"].pid).children(recursive=True)
               if "rasa" in " ".join(p.cmdline())]
    assert len(workers) >= 2


def test_concurrent_conversations_are_all_answered_and_keep_their_state(two_workers):
    url = f"{two_workers.config.rasa_url}/webhooks/rest/webhook"

    async def conversation(client: httpx.AsyncClient) -> tuple[str, list[list]]:
        sender = f"w-{uuid.uuid4().hex[:8]}"
        replies, headers = [], {}
        for text in ("Hei", "kan jeg bygge garasje uten å søke?", "takk"):
            response = await client.post(url, json={"sender": sender, "message": text}, headers=headers)
            assert response.status_code == 200
            # A REST conversation continues only with the token of its first reply (docs/PRIVACY.md),
            # whichever Rasa process answers: the processes share the signing key.
            headers.setdefault(SESSION_HEADER, response.headers[SESSION_HEADER])
            replies.append(response.json())
        return sender, replies

    async def run() -> list[tuple[str, list[list]]]:
        async with httpx.AsyncClient(timeout=120) as client:
            return await asyncio.gather(*(conversation(client) for _ in range(12)))

    results = run_coroutine(run())
    assert all(all(replies) for _, replies in results), "an empty reply"
    with httpx.Client(timeout=60) as client:
        for sender, _ in results:
            tracker = client.get(f"{two_workers.config.rasa_url}/conversations/{sender}/tracker",
                                 params={"token": two_workers.token}).json()
            users = [e["text"] for e in tracker["events"] if e["event"] == "user"]
            assert users == ["Hei", "kan jeg bygge garasje uten å søke?", "takk"]
            assert tracker["slots"]["language"] == "nb"  # set by the Bokmål question, kept for "takk"

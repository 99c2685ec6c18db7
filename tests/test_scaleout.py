"""Scale-out: two Rasa server processes behind nginx share one conversation correctly.

Started by the test from Debian's packages, all on loopback ports in temp folders:
PostgreSQL (Rasa's tracker store and the cases), Redis (Rasa's lock store, so two
processes never handle the same conversation at once), nginx (round-robin load
balancer), one action server and two Rasa servers (bot.stack, the same code as
`kommunebot run`). One citizen's conversation through the load balancer alternates
between the two Rasa processes and still runs a multi-turn form to a stored case.
"""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest
from conftest import MODEL
from reliability_support import AFTER_HOURS, case_of
from scaleout_services import Nginx, Postgres, Redis, free_port, missing_tools

from bot.config import ROOT
from bot.handoff.db import Database
from bot.handoff.store import HandoffStore
from bot.stack import Stack, StackConfig, StackError

pytestmark = pytest.mark.scaleout


def endpoints_with_lock_store(tmp, redis_port: int):
    """The project's endpoints.yml plus a Redis lock store."""
    text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "lock_store" not in text, "endpoints.yml now has a lock store: update this test to reuse it"
    path = tmp / "endpoints.yml"
    path.write_text(text + f"\nlock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {redis_port}\n  db: 0\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_tools()
    if missing:
        pytest.fail(f"scale-out test needs {', '.join(missing)} (Debian: postgresql redis-server nginx-light)")
    tmp = tmp_path_factory.mktemp("scaleout")
    pg = Postgres().start()
    redis = Redis(tmp).start()
    stacks: list[Stack] = []
    nginx = None
    try:
        pg.create_database("kommunebot")
        url = pg.url("kommunebot")
        # Every process of a deployment shares the signing key and the action server token.
        env = {"KOMMUNEBOT_TRACKER_URL": url, "KOMMUNEBOT_DATABASE_URL": url, "KOMMUNEBOT_NOW": AFTER_HOURS,
               "SANIC_NO_UVLOOP": "true", "KOMMUNEBOT_SECRET_KEY": f"scaleout-key-{uuid.uuid4().hex}",
               "KOMMUNEBOT_ACTION_TOKEN": f"scaleout-actions-{uuid.uuid4().hex}"}
        endpoints = endpoints_with_lock_store(tmp, redis.port)
        token = f"scaleout-{uuid.uuid4().hex}"
        action_port = free_port()
        for name in ("a", "b"):
            config = StackConfig(rasa_port=free_port(), action_port=action_port, staff_port=free_port(), model=MODEL,
                                 endpoints=endpoints, var_dir=tmp / name, token=token, env=env)
            stacks.append(Stack(config, progress=lambda line: None))
        first, second = stacks
        # Start both Rasa processes at once (model loading dominates), then wait for each.
        second.check(["rasa"])
        second.log_dir.mkdir(parents=True, exist_ok=True)
        second.spawn("rasa", second.commands()["rasa"])
        first.start(["actions", "rasa"])
        second.wait("rasa")
        nginx = Nginx(tmp, [s.config.rasa_port for s in stacks]).start()
        yield {"pg": pg, "redis": redis, "nginx": nginx, "stacks": stacks, "db_url": url}
    except StackError as error:
        pytest.fail(f"could not start the scale-out servers: {error}", pytrace=False)
    finally:
        if nginx:
            nginx.stop()
        for stack in reversed(stacks):
            stack.stop()
        redis.stop()
        pg.stop()


REST_TOKENS: dict[str, str] = {}  # sender -> its conversation token (X-Kommunebot-Session)


def say(client: httpx.Client, base: str, sender: str, text: str) -> list[dict]:
    token = REST_TOKENS.get(sender)
    response = client.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                           headers={"X-Kommunebot-Session": token} if token else {})
    assert response.status_code == 200, response.text[:300]
    REST_TOKENS[sender] = response.headers["X-Kommunebot-Session"]
    return response.json()


def text_of(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def redis_commands(port: int) -> int:
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "stats"], capture_output=True, text=True, check=True)
    line = next(row for row in out.stdout.splitlines() if row.startswith("total_commands_processed:"))
    return int(line.split(":")[1])


def test_one_conversation_alternating_between_two_rasa_processes(cluster):
    nginx, pg = cluster["nginx"], cluster["pg"]
    base = f"http://127.0.0.1:{nginx.port}"
    sender = f"scaleout-{uuid.uuid4().hex[:10]}"
    commands_before = redis_commands(cluster["redis"].port)
    question = "Kva tid blir det henta papir hos meg på Frekhaug?"
    with httpx.Client(timeout=120) as client:
        asked = text_of(say(client, base, sender, "/request_human"))
        assert "Skriv kort kva du lurer på" in asked, asked
        contact = text_of(say(client, base, sender, question))
        assert "e-postadressa eller telefonnummeret" in contact, contact
        created = text_of(say(client, base, sender, "ola.nordmann@example.no"))
        case = case_of(cluster["db_url"], sender)
        assert case and case.reference in created, (created, nginx.upstreams_used("/webhooks/rest/webhook"), pg.query(
            "kommunebot", f"select type_name, action_name from events where sender_id = '{sender}' order by id"))
        after = text_of(say(client, base, sender, "Takk for hjelpa"))
        assert after

    used = nginx.upstreams_used("/webhooks/rest/webhook")[-4:]
    ports = {s.config.rasa_port for s in cluster["stacks"]}
    assert {u.rsplit(":", 1)[1] for u in used} == {str(p) for p in ports}, f"turns went to {used}"
    assert all(a != b for a, b in zip(used, used[1:])), f"turns did not alternate: {used}"

    # The case and the conversation are in PostgreSQL, shared by both processes.
    stored = HandoffStore(Database(cluster["db_url"])).get(case.reference)
    assert stored.question == question and stored.contact.value == "ola.nordmann@example.no"
    assert stored.conversation_id == sender
    events = pg.query("kommunebot", f"select count(*) from events where sender_id = '{sender}' and type_name = 'user'")
    assert int(events[0]) == 4
    # Each message took and released a conversation lock in Redis.
    assert redis_commands(cluster["redis"].port) - commands_before >= 4 * 2


def test_both_processes_see_the_same_tracker(cluster):
    first, second = cluster["stacks"]
    sender = f"scaleout-{uuid.uuid4().hex[:10]}"
    with httpx.Client(timeout=120) as client:
        say(client, first.config.rasa_url, sender, "Hei")
        say(client, second.config.rasa_url, sender, "Kva er telefonnummeret til kommunen?")
        trackers = [client.get(f"{s.config.rasa_url}/conversations/{sender}/tracker",
                               params={"token": s.token}).json() for s in (first, second)]
    texts = [[e.get("text") for e in t["events"] if e.get("event") == "user"] for t in trackers]
    assert texts[0] == texts[1] == ["Hei", "Kva er telefonnummeret til kommunen?"]

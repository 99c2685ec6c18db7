"""Staff of one municipality see and touch only their municipality's chats and cases, in
the portal's pages and in its JSON API alike: another municipality's reference is 404,
exactly like a reference that does not exist (never 403, which would confirm it).

A real portal process (bot.staff) over HTTP, on a deployment of Alver and Ullensaker
(municipalities/). The isolation lives in the store (HandoffStore.scoped), so the store
is tested on its own too."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bot.config import ROOT
from bot.handoff.contact import Contact
from bot.handoff.db import Database
from bot.handoff.store import HandoffError, HandoffStore
from bot.service.municipalities import registry
from bot.staff.accounts import Accounts

START = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
PASSWORD = "rett-passord-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stores(db: Database) -> dict[str, HandoffStore]:
    reg = registry()
    return {slug: HandoffStore(db, prefix=reg.get(slug).reference_prefix, municipality=slug)
            for slug in ("alver", "ullensaker")}


def _items(stores: dict[str, HandoffStore]) -> dict[str, dict[str, str]]:
    made: dict[str, dict[str, str]] = {}
    for slug, store in stores.items():
        live = store.open_live_chat(f"conv-live-{slug}", channel="socketio", lang="nn", question="Er det nokon der?",
                                    now=START, promised_by=START + timedelta(minutes=5))
        case = store.create_case(f"conv-case-{slug}", channel="rest", lang="nb", question=f"Faktura frå {slug}",
                                 contact=Contact("email", f"{slug}@example.no"), now=START,
                                 promised_by=START + timedelta(days=3))
        made[slug] = {"live": live.reference, "case": case.reference}
    return made


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    if {"alver", "ullensaker"} - set(registry().slugs):
        pytest.fail("the demo municipalities alver and ullensaker must be in municipalities/")
    tmp = tmp_path_factory.mktemp("tenancy-portal")
    url = f"sqlite:///{tmp / 'portal.db'}"
    clock_file = tmp / "now.txt"
    clock_file.write_text(START.isoformat())
    db = Database(url)
    accounts = Accounts(db)
    accounts.add("kari", PASSWORD, now=START, municipality="alver")
    accounts.add("ola", PASSWORD, now=START, municipality="ullensaker")
    accounts.add("lena", PASSWORD, now=START, municipality="ullensaker", role="lead")
    accounts.add("per", PASSWORD, now=START)  # an account from before municipalities: the default's
    stores = _stores(db)
    items = _items(stores)
    legacy = HandoffStore(db, prefix="ALV").create_case(  # a row from before municipalities
        "conv-old", channel="rest", lang="nn", question="Gammal sak", contact=Contact("phone", "+4791234567"),
        now=START, promised_by=START + timedelta(days=3))
    port = _free_port()
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=url, KOMMUNEBOT_NOW=f"file:{clock_file}",
               KOMMUNEBOT_RASA_URL=f"http://127.0.0.1:{_free_port()}", KOMMUNEBOT_RASA_TOKEN="test-token",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bot.staff", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the staff portal did not start: " + proc.stdout.read().decode(errors="replace"))
    yield {"base": base, "db": db, "stores": stores, "items": items, "legacy": legacy.reference, "url": url}
    proc.terminate()
    proc.wait(timeout=10)


def _login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=20)
    page = client.get("/staff/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = client.post("/staff/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf,
                                             "next": "/staff/"})
    assert done.status_code == 303 and "error" not in done.headers["location"], done.headers
    return client


def _api_headers(client: httpx.Client) -> dict[str, str]:
    page = client.get("/staff/").text
    return {"X-CSRF-Token": re.search(r'data-csrf="([^"]+)"', page).group(1)}


def test_references_carry_each_municipalitys_prefix(portal):
    for slug, refs in portal["items"].items():
        prefix = registry().get(slug).reference_prefix
        assert all(re.fullmatch(rf"{prefix}-2026-\d{{6}}", ref) for ref in refs.values()), refs


@pytest.mark.parametrize("user,own,other", [("kari", "alver", "ullensaker"), ("ola", "ullensaker", "alver")])
def test_the_queue_page_and_the_api_list_only_the_own_municipality(portal, user, own, other):
    client = _login(portal["base"], user)
    page = client.get("/staff/").text
    api_cases = client.get("/staff/api/cases").json()["cases"]
    api_queue = client.get("/staff/api/queue").json()["chats"]
    listed = page + str(api_cases) + str(api_queue)
    for ref in portal["items"][own].values():
        assert ref in page
    assert portal["items"][own]["case"] in str(api_cases) and portal["items"][own]["live"] in str(api_queue)
    for ref in portal["items"][other].values():
        assert ref not in listed, f"{user} sees {ref}"


@pytest.mark.parametrize("user,other", [("kari", "ullensaker"), ("ola", "alver"), ("lena", "alver")])
def test_another_municipalitys_case_by_reference_is_404_like_one_that_does_not_exist(portal, user, other):
    client = _login(portal["base"], user)
    headers = _api_headers(client)
    missing = "ZZZ-2026-999999"
    for kind in ("case", "live"):
        ref = portal["items"][other][kind]
        for path in (f"/staff/cases/{ref}", f"/staff/chats/{ref}", f"/staff/cases/{ref}/live"):
            assert client.get(path).status_code == 404, path
        api = client.get(f"/staff/api/chats/{ref}")
        nothing = client.get(f"/staff/api/chats/{missing}")
        assert api.status_code == nothing.status_code == 404
        assert api.json()["code"] == nothing.json()["code"] == "unknown"
        assert api.json()["error"].replace(ref, "REF") == nothing.json()["error"].replace(missing, "REF")
        for action in ("claim", "close"):
            resp = client.post(f"/staff/api/cases/{ref}/{action}", headers=headers)
            assert resp.status_code == 404, (action, resp.text)
        assert client.post(f"/staff/api/chats/{ref}/messages", json={"text": "Hei"}, headers=headers).status_code == 404
        assert client.post(f"/staff/api/cases/{ref}/reply", json={"text": "Svar"}, headers=headers).status_code == 404
    for ref in portal["items"][other].values():  # nothing changed
        item = portal["stores"][other].get(ref)
        assert item.status == "open" and item.handled_by is None, item
        assert portal["stores"][other].messages(ref) == []


@pytest.mark.parametrize("user,own,other", [("kari", "alver", "ullensaker"), ("ola", "ullensaker", "alver")])
def test_staff_cannot_claim_reply_to_or_close_another_municipalitys_items_in_pages_or_api(portal, user, own, other):
    """Every action, through the portal's forms and through the JSON API's chat and case
    paths, on the other municipality's live chat and case: 404 and nothing changes. The
    same requests on a fresh item of the own municipality work (so the test can fail)."""
    client = _login(portal["base"], user)
    headers = _api_headers(client)
    form = {"csrf_token": headers["X-CSRF-Token"]}

    def attempts(ref: str) -> list[tuple[str, httpx.Response]]:
        return [
            ("page claim", client.post(f"/staff/cases/{ref}/claim", data=form)),
            ("page reply", client.post(f"/staff/cases/{ref}/reply", data={**form, "text": "Hei"})),
            ("page answer", client.post(f"/staff/cases/{ref}/answer", data={**form, "text": "Svar", "by": "phone"})),
            ("page transfer", client.post(f"/staff/cases/{ref}/transfer", data={**form, "to": user})),
            ("page close", client.post(f"/staff/cases/{ref}/close", data={**form, "confirm": "yes"})),
            ("page live", client.get(f"/staff/cases/{ref}/live")),
            ("api chat claim", client.post(f"/staff/api/chats/{ref}/claim", headers=headers)),
            ("api case claim", client.post(f"/staff/api/cases/{ref}/claim", headers=headers)),
            ("api message", client.post(f"/staff/api/chats/{ref}/messages", json={"text": "Hei"}, headers=headers)),
            ("api transfer", client.post(f"/staff/api/chats/{ref}/transfer", json={"to": user}, headers=headers)),
            ("api reply", client.post(f"/staff/api/cases/{ref}/reply", json={"text": "Svar"}, headers=headers)),
            ("api chat close", client.post(f"/staff/api/chats/{ref}/close", headers=headers)),
            ("api case close", client.post(f"/staff/api/cases/{ref}/close", headers=headers)),
        ]

    for kind in ("live", "case"):
        ref = portal["items"][other][kind]
        for what, resp in attempts(ref):
            assert resp.status_code == 404, (what, ref, resp.status_code, resp.text[:200])
            assert ref not in resp.text or "Fann ingen" in resp.text, (what, resp.text[:200])
        item = portal["stores"][other].get(ref)
        assert item.status == "open" and item.handled_by is None, item
        assert portal["stores"][other].messages(ref) == []

    # The control: the same forms act on the own municipality's items.
    store = portal["stores"][own]
    case = store.create_case(f"conv-control-{user}", channel="rest", lang="nn", question="Kontroll",
                             contact=Contact("phone", "+4791234567"), now=START, promised_by=START + timedelta(days=3))
    taken = client.post(f"/staff/cases/{case.reference}/claim", data=form)
    assert taken.status_code == 303 and "done=claimed" in taken.headers["location"], taken.headers
    noted = client.post(f"/staff/cases/{case.reference}/answer", data={**form, "text": "Ringde", "by": "phone"})
    assert noted.status_code == 303 and "done=noted" in noted.headers["location"], noted.headers
    assert store.get(case.reference).status == "closed"
    live = store.open_live_chat(f"conv-control-live-{user}", channel="socketio", lang="nn", question="Hallo",
                                now=START, promised_by=START + timedelta(minutes=5))
    assert client.post(f"/staff/api/chats/{live.reference}/claim", headers=headers).json()["handler"] == user
    assert client.post(f"/staff/api/chats/{live.reference}/close", headers=headers).status_code == 200
    assert store.get(live.reference).status == "closed"


def test_an_api_token_sees_only_its_accounts_municipality(portal):
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=portal["url"], PYTHONPATH=str(ROOT))
    made = subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "token", "ola"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    cases = httpx.get(portal["base"] + "/staff/api/cases", headers=headers).json()["cases"]
    assert portal["items"]["ullensaker"]["case"] in str(cases) and portal["items"]["alver"]["case"] not in str(cases)
    alver = portal["items"]["alver"]["case"]
    assert httpx.get(f"{portal['base']}/staff/api/chats/{alver}", headers=headers).status_code == 404


def test_a_chat_cannot_be_handed_to_another_municipalitys_staff(portal):
    client = _login(portal["base"], "kari")
    headers = _api_headers(client)
    ref = portal["items"]["alver"]["live"]
    assert client.post(f"/staff/api/chats/{ref}/claim", headers=headers).status_code == 200
    moved = client.post(f"/staff/api/chats/{ref}/transfer", json={"to": "ola"}, headers=headers)
    assert moved.status_code == 404 and moved.json()["code"] == "no_user"
    assert portal["stores"]["alver"].get(ref).handled_by == "kari"
    page = client.get(f"/staff/cases/{ref}").text
    assert "ola" not in re.sub(r"<script.*?</script>", "", page, flags=re.S)  # not offered as a colleague


def test_an_account_from_before_municipalities_works_for_the_default_one(portal):
    assert registry().default_slug == "alver"
    client = _login(portal["base"], "per")
    page = client.get("/staff/").text
    assert portal["legacy"] in page and portal["items"]["alver"]["case"] in page
    assert portal["items"]["ullensaker"]["case"] not in page
    assert client.get(f"/staff/cases/{portal['legacy']}").status_code == 200


def test_the_store_itself_keeps_municipalities_apart(portal):
    """What the portal and the API both read through (HandoffStore.scoped)."""
    alver_only = portal["stores"]["alver"].scoped("alver")
    ull = portal["items"]["ullensaker"]["case"]
    assert alver_only.get(ull) is None and alver_only.messages(ull) == []
    with pytest.raises(HandoffError) as refused:
        alver_only.close(ull, "kari", now=START)
    assert refused.value.reason == "unknown"
    assert alver_only.cases("ullensaker") == []                       # a filter cannot widen the scope
    assert {c.reference for c in alver_only.cases()} >= {portal["items"]["alver"]["case"], portal["legacy"]}
    assert portal["stores"]["alver"].get(ull) is not None              # the unscoped store (actions) sees all


def test_staff_accounts_must_name_a_municipality_when_there_are_several(portal, tmp_path):
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", PYTHONPATH=str(ROOT))

    def staff(*args: str, password: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", *args], env=env, capture_output=True,
                              text=True, timeout=120, input=PASSWORD + "\n" if password else None)

    missing = staff("add", "siri", "--password-stdin")
    assert missing.returncode == 1
    assert "several municipalities (alver, ullensaker)" in missing.stderr and "--municipality" in missing.stderr
    unknown = staff("add", "siri", "--password-stdin", "--municipality", "atlantis")
    assert unknown.returncode == 1 and "unknown municipality 'atlantis'" in unknown.stderr
    assert staff("add", "siri", "--password-stdin", "--municipality", "ullensaker").returncode == 0
    assert staff("municipality", "siri", "alver", password=False).returncode == 0
    listed = staff("list", password=False).stdout
    assert re.search(r"^siri\tstaff\talver\t", listed, re.M), listed

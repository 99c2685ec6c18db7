"""Staff portal security over real HTTP: a real Sanic server process on a free port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from bot.config import ROOT, Settings
from bot.handoff.contact import Contact
from bot.handoff.db import Database
from bot.handoff.models import StaffUser
from bot.handoff.store import HandoffStore
from bot.staff.accounts import Accounts
from bot.staff.app import create_app

START = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
PASSWORD = "rett-passord-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A running portal with one staff user, one live chat and one case; the clock in a file."""
    tmp = tmp_path_factory.mktemp("portal")
    url = f"sqlite:///{tmp / 'portal.db'}"
    clock_file = tmp / "now.txt"
    clock_file.write_text(START.isoformat())
    db = Database(url)
    Accounts(db).add("kari", PASSWORD, now=START)
    store = HandoffStore(db, prefix="ALV")
    live = store.open_live_chat("conv-live", channel="socketio", lang="nn", question="Kan eg snakke med nokon?",
                                now=START, promised_by=START + timedelta(minutes=5))
    case = store.create_case("conv-case", channel="rest", lang="nb", question="<script>alert('x')</script> faktura",
                             contact=Contact("email", "ola@example.no"), now=START,
                             promised_by=START + timedelta(days=3))
    port = _free_port()
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=url, KOMMUNEBOT_NOW=f"file:{clock_file}",
               KOMMUNEBOT_RASA_URL=f"http://127.0.0.1:{_free_port()}", KOMMUNEBOT_RASA_TOKEN="test-token",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bot.staff", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the staff portal did not start: " + proc.stdout.read().decode(errors="replace"))
    yield {"base": base, "db": db, "store": store, "live": live, "case": case, "clock": clock_file, "url": url}
    proc.terminate()
    proc.wait(timeout=10)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _login(base: str, username: str = "kari", password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=10)
    page = client.get("/staff/login")
    client.post("/staff/login", data={"username": username, "password": password, "csrf_token": _csrf(page.text),
                                      "next": "/staff/"})
    return client


def _staff_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the app under /staff/ with sample values for parameters."""
    app = create_app(Settings.from_env(), db=Database("sqlite://"))
    routes = []
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        if not path.startswith("/staff") or path.startswith(("/staff/login", "/staff/static")):
            continue
        path = re.sub(r"<(reference|ref)(:str)?>", "REF", path)
        for method in route.methods:
            if method != "OPTIONS":
                routes.append((method, path))
    assert len(routes) >= 6, routes
    return routes


def test_every_staff_route_refuses_without_login(portal):
    live = portal["live"].reference
    for method, path in _staff_routes():
        path = path.replace("REF", live)
        resp = httpx.request(method, portal["base"] + path, follow_redirects=False, timeout=10)
        if path.startswith("/staff/api/"):  # the JSON API: 401 with JSON that says what to do
            assert resp.status_code == 401 and "staff token" in resp.json()["error"], (method, path)
        elif method in ("GET", "HEAD"):
            assert resp.status_code == 303 and resp.headers["location"].startswith("/staff/login"), (method, path)
        else:
            assert resp.status_code == 403, (method, path)
        assert "conv-live" not in resp.text and "Kan eg snakke" not in resp.text
    assert portal["store"].get(live).status == "open"  # nothing changed


def test_a_forged_session_cookie_is_refused(portal):
    resp = httpx.get(portal["base"] + "/staff/", cookies={"kb_staff_session": "forged"}, follow_redirects=False)
    assert resp.status_code == 303


def test_wrong_password_and_unknown_user_get_no_session(portal):
    for user, password in (("kari", "feil-passord-123"), ("nobody", PASSWORD), ("kari", "")):
        client = _login(portal["base"], user, password)
        assert "kb_staff_session" not in client.cookies
        assert client.get("/staff/").status_code == 303


def test_login_without_csrf_token_is_refused(portal):
    client = httpx.Client(base_url=portal["base"], follow_redirects=False)
    resp = client.post("/staff/login", data={"username": "kari", "password": PASSWORD})
    assert resp.status_code == 303 and "error=csrf" in resp.headers["location"]
    assert "kb_staff_session" not in client.cookies


def test_login_sets_a_safe_cookie_and_shows_the_queue_overdue_first(portal):
    client = httpx.Client(base_url=portal["base"], follow_redirects=False)
    page = client.get("/staff/login")
    resp = client.post("/staff/login", data={"username": "Kari", "password": PASSWORD,
                                             "csrf_token": _csrf(page.text), "next": "//evil.example/"})
    assert resp.status_code == 303 and resp.headers["location"] == "/staff/"  # no open redirect
    cookie = [h for h in resp.headers.get_list("set-cookie") if h.startswith("kb_staff_session=")][0].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    queue = client.get("/staff/")
    assert queue.status_code == 200
    assert portal["live"].reference in queue.text and portal["case"].reference in queue.text
    assert queue.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in queue.headers["content-security-policy"]
    assert queue.headers["x-frame-options"] == "DENY"


def test_output_is_escaped(portal):
    client = _login(portal["base"])
    page = client.get(f"/staff/cases/{portal['case'].reference}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert" in page.text
    assert "ola@example.no" in page.text  # the contact is shown to staff


def test_post_without_or_with_wrong_csrf_is_refused(portal):
    client = _login(portal["base"])
    ref = portal["live"].reference
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": "", "text": "hei"}):
        resp = client.post(f"/staff/cases/{ref}/reply", data={"text": "hei", **data})
        assert resp.status_code == 403
        assert client.post(f"/staff/cases/{ref}/close", data=data).status_code == 403
    assert portal["store"].get(ref).status == "open"
    assert portal["store"].messages(ref) == []


def test_claim_and_reply_with_csrf_are_stored_even_when_rasa_is_down(portal):
    client = _login(portal["base"])
    ref = portal["live"].reference
    page = client.get(f"/staff/cases/{ref}")
    assert "Fekk ikkje tak i samtalen" in page.text  # Rasa is not running: said, not a crash
    token = _csrf(page.text)
    assert client.post(f"/staff/cases/{ref}/claim", data={"csrf_token": token}).status_code == 303
    resp = client.post(f"/staff/cases/{ref}/reply", data={"csrf_token": token, "text": "Hei, eg heiter Kari."})
    assert resp.status_code == 303 and "done=stored" in resp.headers["location"]
    item = portal["store"].get(ref)
    assert item.status == "claimed" and item.handled_by == "kari"
    assert [m.kind for m in portal["store"].pending_messages("conv-live")] == ["joined", "message"]


def test_logout_ends_the_session_on_the_server(portal):
    client = _login(portal["base"])
    token = client.cookies["kb_staff_session"]
    page = client.get("/staff/")
    assert client.post("/staff/logout", data={"csrf_token": _csrf(page.text)}).status_code == 303
    resp = httpx.get(portal["base"] + "/staff/", cookies={"kb_staff_session": token}, follow_redirects=False)
    assert resp.status_code == 303


def test_session_expires(portal):
    client = _login(portal["base"])
    assert client.get("/staff/").status_code == 200
    portal["clock"].write_text((START + timedelta(hours=8, minutes=1)).isoformat())
    try:
        resp = client.get("/staff/")
        assert resp.status_code == 303 and "error=expired" in resp.headers["location"]
    finally:
        portal["clock"].write_text(START.isoformat())
    assert client.get("/staff/").status_code == 303  # an expired session does not come back


def test_passwords_are_stored_as_argon2_hashes(portal):
    with portal["db"].session() as s:
        users = s.scalars(select(StaffUser)).all()
    assert users and all(u.password_hash.startswith("$argon2id$") for u in users)
    assert all(PASSWORD not in u.password_hash for u in users)
    raw = Path(portal["url"].removeprefix("sqlite:///")).read_bytes()
    assert PASSWORD.encode() not in raw


def test_public_pages_need_no_login_and_carry_headers(portal):
    for path in ("/", "/widget/kommunebot.js", "/healthz"):
        resp = httpx.get(portal["base"] + path)
        if path != "/" or (ROOT / "widget" / "demo.html").exists():
            assert resp.status_code == 200, path
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in resp.headers
    assert httpx.get(portal["base"] + "/widget/../bot/config.py").status_code in (400, 403, 404)


def test_portal_refuses_to_start_without_its_database():
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL="postgresql://kb:pw@127.0.0.1:1/kb", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "bot.staff", "--port", str(_free_port())], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "KOMMUNEBOT_DATABASE_URL" in result.stderr and "pw" not in result.stderr


def test_too_many_wrong_passwords_lock_the_username(portal):
    Accounts(portal["db"]).add("per", PASSWORD, now=START)
    for _ in range(5):
        assert "kb_staff_session" not in _login(portal["base"], "per", "feil-passord-123").cookies
    client = httpx.Client(base_url=portal["base"], follow_redirects=False)
    page = client.get("/staff/login")
    resp = client.post("/staff/login", data={"username": "per", "password": PASSWORD, "csrf_token": _csrf(page.text)})
    assert "error=locked" in resp.headers["location"] and "kb_staff_session" not in client.cookies
    assert "kb_staff_session" in _login(portal["base"]).cookies  # other users are not affected


def test_cookies_are_secure_behind_a_tls_proxy(portal):
    port = _free_port()
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=portal["url"], PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bot.staff", "--port", str(port), "--secure-cookies"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/staff/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        cookie = resp.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_refused_actions_are_explained_in_norwegian(portal):
    client = _login(portal["base"])
    case_ref = portal["case"].reference
    token = _csrf(client.get(f"/staff/cases/{case_ref}").text)
    resp = client.post(f"/staff/cases/{case_ref}/reply", data={"csrf_token": token, "text": "Hei"})
    assert resp.headers["location"].endswith("?error=is_case")
    assert "Dette er ei sak, ikkje ein chat: svar på e-post eller telefon" in client.get(resp.headers["location"]).text
    live_ref = portal["live"].reference
    resp = client.post(f"/staff/cases/{live_ref}/reply", data={"csrf_token": token, "text": "   "})
    assert resp.headers["location"].endswith("?error=empty")
    assert "Skriv eit svar før du sender." in client.get(resp.headers["location"]).text
    page = client.get(f"/staff/cases/{live_ref}?error=%3Cscript%3E&done=%3Cscript%3E").text
    assert "<script>" not in page  # unknown codes show nothing, never the raw parameter


def test_no_meta_refresh_and_closing_needs_a_confirmation(portal):
    client = _login(portal["base"])
    queue = client.get("/staff/").text
    assert "http-equiv" not in queue and 'src="/staff/static/portal.js"' in queue
    live = portal["store"].open_live_chat("conv-confirm", channel="socketio", lang="nn", question="Hei",
                                          now=START, promised_by=None)
    page = client.get(f"/staff/cases/{live.reference}").text
    token = _csrf(page)
    client.post(f"/staff/cases/{live.reference}/claim", data={"csrf_token": token})
    asked = client.post(f"/staff/cases/{live.reference}/close", data={"csrf_token": token})
    assert asked.status_code == 200 and "Ja, avslutt chatten" in asked.text  # a question, not a closed chat
    assert portal["store"].get(live.reference).status == "claimed"
    done = client.post(f"/staff/cases/{live.reference}/close", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and portal["store"].get(live.reference).status == "closed"


def test_answering_by_email_without_a_mail_server_says_mail_is_not_set_up(portal):
    client = _login(portal["base"])
    case = portal["store"].create_case("conv-mail", channel="socketio", lang="nn", question="Kva kostar SFO?",
                                       contact=Contact("email", "per@example.no"), now=START, promised_by=None)
    page = client.get(f"/staff/cases/{case.reference}").text
    assert 'href="mailto:per@example.no"' in page
    headers = {"X-CSRF-Token": re.search(r'data-csrf="([^"]+)"', page).group(1)}
    resp = client.post(f"/staff/api/cases/{case.reference}/reply", json={"text": "Svaret"}, headers=headers)
    assert resp.status_code == 503 and resp.json()["code"] == "mail_not_configured"
    assert "E-post er ikkje sett opp" in resp.json()["error"] and "KOMMUNEBOT_SMTP_HOST" in resp.json()["error"]
    assert portal["store"].get(case.reference).status != "closed"  # nothing recorded as answered
    back = client.post(f"/staff/cases/{case.reference}/answer", data={"csrf_token": _csrf(page), "text": "Svaret"})
    assert "E-post er ikkje sett opp" in client.get(back.headers["location"]).text


def test_an_api_token_from_the_command_line_works_alone_and_can_be_revoked(portal):
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=portal["url"], PYTHONPATH=str(ROOT))
    made = subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "token", "kari"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0 and made.stdout.count("\n") == 1
    token = made.stdout.strip()
    resp = httpx.get(portal["base"] + "/staff/api/queue", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and "chats" in resp.json()
    # a token needs no CSRF token, but it is no portal session either
    assert httpx.get(portal["base"] + "/staff/", headers={"Authorization": f"Bearer {token}"},
                     follow_redirects=False).status_code == 303
    with portal["db"].session() as s:
        assert token not in str(s.execute(text("SELECT token_hash FROM staff_tokens")).all())
    missing = subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "token", "nobody"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no user" in missing.stderr and missing.stdout == ""
    subprocess.run([str(ROOT / "bin" / "kommunebot"), "staff", "token", "kari", "--revoke"], env=env, check=True,
                   capture_output=True, timeout=120)
    revoked = httpx.get(portal["base"] + "/staff/api/queue", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401

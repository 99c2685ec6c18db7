"""The staff portal (Sanic): log in, live queue and cases, transcript, claim, reply, close.

Also serves the chat widget's files at /widget/ and the demo page (widget/demo.html) at /.

    from bot.staff.app import create_app
    app = create_app(settings())          # python -m bot.staff runs it on 127.0.0.1:8000

Security: every /staff/ page needs a session (SQL, expiring, cookie HttpOnly and
SameSite=Strict, Secure over HTTPS); every form carries a CSRF token; output is escaped
by Jinja2's autoescape; responses carry a Content-Security-Policy and friends.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import re
import secrets
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from bot.config import ROOT, Settings
from bot.demo_page import demo_page as render_demo
from bot.handoff import clock
from bot.handoff.db import Database
from bot.handoff.store import HandoffError, HandoffStore
from bot.privacy import redact
from bot.service.municipalities import UnknownMunicipality, registry
from bot.staff.accounts import SESSION_TTL, Accounts
from bot.staff.rasa_client import RasaClient, RasaUnavailable, rasa_token, transcript_lines

log = logging.getLogger(__name__)

SESSION_COOKIE = "kb_staff_session"
LOGIN_CSRF_COOKIE = "kb_login_csrf"
PUBLIC_STAFF_PATHS = ("/staff/login", "/staff/static/")
RELAY_INTERVAL_S = 5.0
HERE = Path(__file__).resolve().parent
DATA_SERVER = re.compile(r'data-server="[^"]*"')
_app_names = itertools.count(1)

NOTICES = {
    "claimed": "Du har teke saka.",
    "sent": "Svaret er sendt.",
    "stored": "Svaret er lagra. Det blir sendt til innbyggjaren så snart chatten svarar igjen.",
    "closed": "Saka er lukka.",
    "closed_stored": "Saka er lukka. Innbyggjaren får beskjed så snart chatten svarar igjen.",
}
ERRORS = {
    "login": "Feil brukarnamn eller passord.",
    "expired": "Økta di er ute. Logg inn på nytt.",
    "csrf": "Skjemaet var for gammalt. Prøv igjen.",
    "locked": "For mange feil forsøk. Vent eit kvarter og prøv igjen.",
}
# Why the store refused a claim, reply or close (HandoffError.reason).
REFUSALS = {
    "unknown": "Fann ikkje saka.",
    "closed": "Saka er alt lukka.",
    "empty": "Svaret er tomt.",
    "too_long": "Svaret er for langt (høgst 4000 teikn).",
    "is_case": "Dette er ei sak, ikkje ein chat: svar innbyggjaren på e-post eller telefon.",
}


class LoginLimiter:
    """Refuses a username for a while after too many wrong passwords (per portal process)."""

    def __init__(self, attempts: int = 5, window_s: float = 900.0) -> None:
        self.attempts, self.window_s = attempts, window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, username: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(username, deque())
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def blocked(self, username: str, now: float) -> bool:
        return len(self._recent(username, now)) >= self.attempts

    def failed(self, username: str, now: float) -> None:
        self._recent(username, now).append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray of usernames
            self._failures.pop(next(iter(self._failures)))

    def reset(self, username: str) -> None:
        self._failures.pop(username, None)


def _security_headers(path: str, connect_src: str) -> dict[str, str]:
    if path.startswith("/staff"):
        csp = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
    else:  # the demo page and the widget talk to Rasa's socket.io
        csp = (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               f"connect-src 'self' {connect_src}; form-action 'self'; frame-ancestors 'none'; base-uri 'self'")
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if path.startswith("/staff") and not path.startswith("/staff/static/"):
        headers["Cache-Control"] = "no-store"
    return headers


def _socket_origins(rasa_url: str) -> str:
    parts = urlsplit(rasa_url)
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {ws}://{parts.netloc}"


def _local(moment: datetime | None) -> str:
    return moment.astimezone(clock.LOCAL).strftime("%d.%m.%Y kl. %H.%M") if moment else "–"


def _age(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} t {minutes % 60} min"
    return f"{minutes // (24 * 60)} d"


def create_app(settings: Settings, *, db: Database | None = None, secure_cookies: bool | None = None,
               session_ttl: timedelta = SESSION_TTL, widget_dir: Path | None = None) -> Sanic:
    """The portal app. `secure_cookies` None: Secure flag when the request came over HTTPS."""
    db = db or Database(settings.database_url)
    store = HandoffStore(db)
    accounts = Accounts(db)
    rasa = RasaClient(settings.rasa_url, rasa_token(settings))
    widget_dir = widget_dir or ROOT / "widget"
    connect_src = _socket_origins(settings.rasa_url)
    templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                            autoescape=select_autoescape(default=True, default_for_string=True))
    templates.filters["local"] = _local
    templates.filters["age"] = _age
    locks: dict[str, asyncio.Lock] = {}
    limiter = LoginLimiter()

    app = Sanic(f"kommunebot_staff_{next(_app_names)}")
    app.config.REQUEST_MAX_SIZE = 256 * 1024
    app.config.KEEP_ALIVE_TIMEOUT = 5
    app.ctx.store, app.ctx.accounts, app.ctx.rasa = store, accounts, rasa

    def render(name: str, status: int = 200, **values) -> response.HTTPResponse:
        return response.html(templates.get_template(name).render(**values), status=status)

    def secure(request: Request) -> bool:
        return request.scheme == "https" if secure_cookies is None else secure_cookies

    def redirect(to: str) -> response.HTTPResponse:
        return response.redirect(to, status=303)

    # --- delivery of staff messages to the citizen's chat -------------------------

    async def deliver(conversation_id: str) -> bool:
        """Run the relay action for a conversation's pending messages; False if Rasa failed."""
        lock = locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            pending = store.pending_messages(conversation_id)
            if not pending:
                return True
            action = "action_end_live_chat" if any(m.kind == "ended" for m in pending) else "action_relay_staff_message"
            try:
                await rasa.execute(conversation_id, action)
            except RasaUnavailable as exc:
                log.warning("relay to conversation %s waits: %s", redact(conversation_id), exc)
                return False
            return not store.pending_messages(conversation_id)

    async def relay_pending_forever() -> None:
        """Deliver what could not be delivered before (Rasa restarting, say)."""
        while True:
            await asyncio.sleep(RELAY_INTERVAL_S)
            try:
                for conversation_id in store.conversations_with_pending():
                    await deliver(conversation_id)
            except Exception:  # keep retrying; the database may be restarting
                log.exception("relay of pending staff messages failed; retrying")

    @app.after_server_start
    async def start_relay(app_: Sanic) -> None:
        app_.add_task(relay_pending_forever(), name="relay_pending")

    # --- security around every request ------------------------------------------

    @app.on_request
    async def authenticate(request: Request):
        request.ctx.staff = None
        path = request.path
        if not path.startswith("/staff") or path.startswith(PUBLIC_STAFF_PATHS):
            return None
        token = request.cookies.get(SESSION_COOKIE)
        request.ctx.staff = accounts.session(token, now=clock.now())
        if request.ctx.staff is None:
            if request.method in ("GET", "HEAD"):
                reason = "&error=expired" if token else ""
                return redirect(f"/staff/login?next={quote(path)}{reason}")
            return response.text("Du må logge inn.", status=403)
        if request.method not in ("GET", "HEAD"):
            sent = request.form.get("csrf_token", "") if request.form else ""
            if not hmac.compare_digest(str(sent), request.ctx.staff.csrf_token):
                return response.text("Ugyldig eller manglande CSRF-token. Last sida på nytt og prøv igjen.", status=403)
        return None

    @app.on_response
    async def add_headers(request: Request, resp) -> None:
        for name, value in _security_headers(request.path, connect_src).items():
            resp.headers.setdefault(name, value)

    @app.exception(SanicException)
    async def http_error(request: Request, exc: SanicException):
        return response.text(f"{exc.status_code}: {'Fann ikkje sida.' if exc.status_code == 404 else 'Ugyldig førespurnad.'}",
                             status=exc.status_code)

    @app.exception(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("staff portal error on %s", request.path)
        return response.text("Noko gjekk gale i portalen. Prøv igjen om litt.", status=500)

    # --- public: demo page, widget, health --------------------------------------

    @app.get("/")
    async def demo_page(request: Request):
        return municipality_demo(registry().default_slug)

    @app.get("/demo/<slug>")
    async def demo_page_of(request: Request, slug: str):
        return municipality_demo(slug)

    def municipality_demo(slug: str) -> response.HTTPResponse:
        """A municipality's demo page (bot/demo_page.py); the widget connects to the Rasa
        server this deployment runs (KOMMUNEBOT_RASA_URL)."""
        reg = registry()
        if slug not in reg:
            return response.text(f"No demo page: {UnknownMunicipality(slug, reg.slugs)}", status=404)
        return response.html(render_demo(reg.get(slug), settings.rasa_url, list(reg)))

    if widget_dir.is_dir():
        app.static("/widget/", widget_dir, name="widget")

    app.static("/staff/static/", HERE / "static", name="staff_static")

    @app.get("/healthz")
    async def health(request: Request):
        return response.json({"status": "ok"})

    # --- login and logout ----------------------------------------------------------

    def safe_next(target: str | None) -> str:
        target = target or "/staff/"
        return target if target.startswith("/staff/") and not target.startswith("//") else "/staff/"

    @app.get("/staff/login")
    async def login_form(request: Request):
        csrf = secrets.token_urlsafe(32)
        resp = render("login.html", next=safe_next(request.args.get("next")),
                      error=ERRORS.get(request.args.get("error", ""), ""), csrf_token=csrf)
        resp.add_cookie(LOGIN_CSRF_COOKIE, csrf, path="/staff/login", httponly=True, samesite="Strict",
                        secure=secure(request), max_age=3600)
        return resp

    @app.post("/staff/login")
    async def login(request: Request):
        form = request.form or {}
        sent, expected = str(form.get("csrf_token", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            return redirect("/staff/login?error=csrf")
        attempted = str(form.get("username", "")).strip().lower()[:64]
        if limiter.blocked(attempted, time.monotonic()):
            return redirect("/staff/login?error=locked")
        username = await asyncio.to_thread(accounts.verify, attempted, form.get("password", ""))
        if username is None:
            limiter.failed(attempted, time.monotonic())
            log.info("failed staff login for %s", redact(attempted))
            return redirect("/staff/login?error=login")
        limiter.reset(attempted)
        token, _ = accounts.start_session(username, now=clock.now(), ttl=session_ttl)
        resp = redirect(safe_next(form.get("next")))
        resp.add_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="Strict",
                        secure=secure(request), max_age=int(session_ttl.total_seconds()))
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
        return resp

    @app.post("/staff/logout")
    async def logout(request: Request):
        accounts.end_session(request.cookies.get(SESSION_COOKIE))
        resp = redirect("/staff/login")
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    # --- queue, case, actions ------------------------------------------------------

    @app.get("/staff/")
    async def queue(request: Request):
        now = clock.now()
        items = store.open_items(now)
        return render("queue.html", staff=request.ctx.staff, now=now, items=items,
                      live=[i for i in items if i.kind == "live"], cases=[i for i in items if i.kind == "case"])

    @app.get("/staff/cases/<reference:str>")
    async def case(request: Request, reference: str):
        item = store.get(reference)
        if item is None:
            return response.text("Fann ikkje saka.", status=404)
        lines, transcript_error = [], ""
        try:
            lines = transcript_lines(await rasa.tracker(item.conversation_id))
        except RasaUnavailable as exc:
            transcript_error = str(exc)
        return render("case.html", staff=request.ctx.staff, now=clock.now(), item=item, lines=lines,
                      transcript_error=transcript_error, messages=store.messages(reference),
                      notice=NOTICES.get(request.args.get("done", ""), ""),
                      error=REFUSALS.get(request.args.get("error", ""), ""))

    def back(reference: str, done: str = "", error: str = "") -> response.HTTPResponse:
        query = f"?done={done}" if done else f"?error={quote(error)}" if error else ""
        return redirect(f"/staff/cases/{quote(reference)}{query}")

    @app.post("/staff/cases/<reference:str>/claim")
    async def claim(request: Request, reference: str):
        try:
            item = store.claim(reference, request.ctx.staff.username, now=clock.now())
        except HandoffError as exc:
            return back(reference, error=exc.reason)
        if item.kind == "live":
            await deliver(item.conversation_id)
        return back(reference, "claimed")

    @app.post("/staff/cases/<reference:str>/reply")
    async def reply(request: Request, reference: str):
        try:
            message = store.add_staff_message(reference, request.ctx.staff.username,
                                              str(request.form.get("text", "")), now=clock.now())
        except HandoffError as exc:
            return back(reference, error=exc.reason)
        delivered = await deliver(message.conversation_id)
        return back(reference, "sent" if delivered else "stored")

    @app.post("/staff/cases/<reference:str>/close")
    async def close(request: Request, reference: str):
        try:
            item = store.close(reference, request.ctx.staff.username, now=clock.now())
        except HandoffError as exc:
            return back(reference, error=exc.reason)
        delivered = await deliver(item.conversation_id) if item.kind == "live" else True
        return back(reference, "closed" if delivered else "closed_stored")

    return app

"""The staff portal (Sanic), built from blueprints:

| blueprint | module | what |
|---|---|---|
| auth | bot/staff/routes/auth.py | log in and out |
| pages | bot/staff/routes/pages.py | the queue, a chat, a case (HTML; forms work without JavaScript) |
| api | bot/staff/routes/api.py | the JSON API the pages' script and integrations use, live updates (SSE) |
| public | bot/staff/routes/public.py | the demo page, the chat widget's files, /healthz, the portal's static files |

    from bot.staff.app import create_app
    app = create_app(settings())          # python -m bot.staff runs it on 127.0.0.1:8000

Another part of the portal (e.g. an "Innsikt" page) is one more blueprint:

    def blueprint(portal: Portal) -> Blueprint: ...   # routes under /staff/..., portal.render(...)
    create_app(settings, extensions=[Extension(blueprint, nav=("Innsikt", "/staff/innsikt/"))])

Every /staff/ route except login and static files needs a portal session (cookie) or, for
/staff/api/, `Authorization: Bearer <token>` (`kommunebot staff token NAME`). Security:
sessions in SQL (expiring, cookie HttpOnly and SameSite=Strict, Secure over HTTPS), a CSRF
token on every form and on the pages' own API calls, Jinja2 autoescape, a strict
Content-Security-Policy and friends.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from bot.config import ROOT, Settings
from bot.handoff import clock
from bot.handoff.db import Database
from bot.handoff.store import HandoffStore, municipality_slug, reference_prefix, wall_clock
from bot.privacy.login_limits import LoginLimiter
from bot.privacy.proxy import client_address, forwarded_https
from bot.service.municipalities import UnknownMunicipality, registry
from bot.staff import views
from bot.staff.accounts import SESSION_TTL, Accounts, SessionInfo
from bot.staff.delivery import ChangeHub, Delivery, Sweeper
from bot.staff.operations import Operations
from bot.staff.rasa_client import RasaClient, rasa_token

log = logging.getLogger(__name__)

SESSION_COOKIE = "kb_staff_session"
LOGIN_CSRF_COOKIE = "kb_login_csrf"
PUBLIC_STAFF_PATHS = ("/staff/login", "/staff/static/")
HERE = Path(__file__).resolve().parent
_app_names = itertools.count(1)


@dataclass(frozen=True)
class Extension:
    """A blueprint added to the portal, with an optional link in its navigation."""

    blueprint: Callable[[Portal], Blueprint]
    nav: tuple[str, str] | None = None


@dataclass
class Portal:
    """What every blueprint shares: settings, store, accounts, Rasa, templates, workers."""

    settings: Settings
    db: Database
    store: HandoffStore
    accounts: Accounts
    rasa: RasaClient
    templates: Environment
    deliver: Delivery
    operations: Operations
    hub: ChangeHub
    sweeper: Sweeper
    widget_dir: Path
    secure_cookies: bool | None
    session_ttl: timedelta
    login_limiter: LoginLimiter
    nav: list[tuple[str, str]] = field(default_factory=list)

    @staticmethod
    def profile_for(slug: str | None):
        """The profile of a municipality (the deployment's default for None or a removed one)."""
        reg = registry()
        try:
            return reg.get(slug) if slug else reg.default
        except UnknownMunicipality:
            return reg.default

    def render(self, name: str, status: int = 200, **values) -> response.HTTPResponse:
        return response.html(self.render_text(name, **values), status=status)

    def render_text(self, name: str, **values) -> str:
        return self.templates.get_template(name).render(nav=self.nav, **values)

    def secure(self, request: Request) -> bool:
        """Cookies get the Secure flag: forced (--secure-cookies), or the request came over
        HTTPS, directly or through a proxy in KOMMUNEBOT_TRUSTED_PROXIES that says so
        (X-Forwarded-Proto: https; from anybody else the header is ignored)."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return request.scheme == "https" or forwarded_https(request.ip, request.headers.get("x-forwarded-proto"))

    @staticmethod
    def client_address(request: Request) -> str:
        """The client's address: the peer, or behind a trusted proxy the one it forwards."""
        return client_address(request.ip, request.headers.get("x-forwarded-for"))

    @staticmethod
    def municipality_of(staff: SessionInfo | None) -> str:
        """The municipality whose queue, cases and statistics the staff member sees: the
        account's (an account made before municipalities existed: the default one)."""
        return (staff.municipality if staff else None) or registry().default_slug

    def store_for(self, staff: SessionInfo | None) -> HandoffStore:
        """The handoff store limited to the staff member's municipality (HandoffStore.scoped):
        what the portal's pages and its API read and change through."""
        return self.store.scoped(self.municipality_of(staff))


def _security_headers(path: str, connect_src: str) -> dict[str, str]:
    if path.startswith("/staff"):
        csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
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


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["local"] = views.local
    env.filters["clock"] = lambda moment: views.local(moment, with_date=False)
    env.filters["age"] = views.age
    env.filters["href"] = views.contact_href
    env.globals.update(LANG_NAMES=views.LANG_NAMES, STATUS_NAMES=views.STATUS_NAMES,
                       CASE_STATUS_NAMES=views.CASE_STATUS_NAMES, END_REASONS=views.END_REASONS)
    return env


def default_blueprints() -> list[Callable[[Portal], Blueprint]]:
    """The portal's own blueprints, in registration order."""
    from bot.staff.routes import api, auth, pages, public

    return [public.blueprint, auth.blueprint, pages.blueprint, api.blueprint]


def create_app(settings: Settings, *, db: Database | None = None, secure_cookies: bool | None = None,
               session_ttl: timedelta = SESSION_TTL, widget_dir: Path | None = None,
               extensions: Iterable[Extension] = (), background: bool = True) -> Sanic:
    """The portal app. `secure_cookies` None: Secure flag when the request came over HTTPS.
    `background`: run delivery retries, the sweeper and live-update polling."""
    db = db or Database(settings.database_url)
    profile = registry().default  # the portal creates no rows; the default names the store
    store = HandoffStore(db, prefix=profile.reference_prefix or reference_prefix(profile.name),
                         timezone=str(profile.timezone), municipality=profile.slug or municipality_slug(profile.name))
    accounts = Accounts(db)
    rasa = RasaClient(settings.rasa_url, rasa_token(settings))
    deliver = Delivery(store, rasa)
    portal = Portal(
        settings=settings, db=db, store=store, accounts=accounts, rasa=rasa, templates=_templates(),
        deliver=deliver, operations=Operations(store, accounts, deliver, Portal.profile_for, Portal.municipality_of),
        hub=ChangeHub(store),
        sweeper=Sweeper(store, deliver, Portal.profile_for), widget_dir=widget_dir or ROOT / "widget",
        secure_cookies=secure_cookies, session_ttl=session_ttl,
        login_limiter=LoginLimiter(db),  # failed logins and API tokens, shared by all portal processes
        nav=[("Kø og saker", "/staff/")],
    )
    connect_src = _socket_origins(settings.rasa_url)

    app = Sanic(f"kommunebot_staff_{next(_app_names)}")
    app.config.REQUEST_MAX_SIZE = 256 * 1024
    app.config.KEEP_ALIVE_TIMEOUT = 5
    app.config.RESPONSE_TIMEOUT = 120   # server-sent event streams end after about a minute
    app.ctx.portal = portal
    # The first release's names, still used by tests and scripts.
    app.ctx.store, app.ctx.accounts, app.ctx.rasa = store, accounts, rasa

    for make in default_blueprints():
        app.blueprint(make(portal))
    for extension in extensions:
        app.blueprint(extension.blueprint(portal))
        if extension.nav:
            portal.nav.append(extension.nav)

    if background:
        @app.after_server_start
        async def start_workers(app_: Sanic) -> None:
            app_.add_task(deliver.retry_forever(), name="relay_pending")
            app_.add_task(portal.sweeper.run_forever(), name="sweeper")
            app_.add_task(portal.hub.run_forever(), name="change_hub")

    # --- security around every request ------------------------------------------

    @app.on_request
    async def authenticate(request: Request):
        request.ctx.staff = None
        path = request.path
        if not path.startswith("/staff") or path.startswith(PUBLIC_STAFF_PATHS):
            return None
        api = path.startswith("/staff/api/")
        bearer = request.headers.get("authorization", "")
        if api and bearer.lower().startswith("bearer "):
            # Wrong tokens count against the client's address like wrong passwords (issue 14).
            address, wall_now = portal.client_address(request), wall_clock()
            if await asyncio.to_thread(portal.login_limiter.blocked, None, address, wall_now):
                return response.json({"error": "For mange ugyldige API-token frå denne adressa. Vent eit kvarter "
                                               "og prøv igjen.", "code": "too_many_failures"},
                                     status=429, headers={"Retry-After": "900"})
            request.ctx.staff = accounts.token_user(bearer[7:].strip(), now=clock.now())
            if request.ctx.staff is None:
                await asyncio.to_thread(portal.login_limiter.failed, None, address, wall_now)
                return response.json({"error": "API-tokenet er ukjent eller trekt tilbake. Lag eit nytt med "
                                               "«bin/kommunebot staff token BRUKARNAMN».", "code": "bad_token"},
                                     status=401, headers={"WWW-Authenticate": 'Bearer realm="kommunebot"'})
            return None
        token = request.cookies.get(SESSION_COOKIE)
        request.ctx.staff = accounts.session(token, now=clock.now())
        if request.ctx.staff is None:
            if api:
                return response.json(
                    {"error": "Du er ikkje logga inn. Logg inn i portalen, eller send «Authorization: Bearer "
                              "<token>» (lag eit token med «bin/kommunebot staff token BRUKARNAMN»).",
                     "code": "unauthenticated"},
                    status=401, headers={"WWW-Authenticate": 'Bearer realm="kommunebot"'})
            if request.method in ("GET", "HEAD"):
                reason = "&error=expired" if token else ""
                return response.redirect(f"/staff/login?next={quote(path)}{reason}", status=303)
            return response.text("Du må logge inn.", status=403)
        if request.method not in ("GET", "HEAD"):
            sent = request.headers.get("x-csrf-token", "")
            if not sent and not api and request.form:
                sent = request.form.get("csrf_token", "")
            if not hmac.compare_digest(str(sent), request.ctx.staff.csrf_token):
                message = "Ugyldig eller manglande CSRF-token. Last sida på nytt og prøv igjen."
                if api:
                    return response.json({"error": message, "code": "csrf"}, status=403)
                return response.text(message, status=403)
        return None

    @app.on_response
    async def add_headers(request: Request, resp) -> None:
        if resp is None:
            return
        for name, value in _security_headers(request.path, connect_src).items():
            resp.headers.setdefault(name, value)

    @app.exception(SanicException)
    async def http_error(request: Request, exc: SanicException):
        if request.path.startswith("/staff/api/"):
            return response.json({"error": "Fann ikkje denne adressa i API-et." if exc.status_code == 404
                                  else "Ugyldig førespurnad.", "code": str(exc.status_code)}, status=exc.status_code)
        text = "Fann ikkje sida." if exc.status_code == 404 else "Ugyldig førespurnad."
        return response.text(f"{exc.status_code}: {text}", status=exc.status_code)

    @app.exception(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("staff portal error on %s", request.path)
        if request.path.startswith("/staff/api/"):
            return response.json({"error": "Noko gjekk gale i portalen. Prøv igjen om litt.", "code": "server"},
                                 status=500)
        return response.text("Noko gjekk gale i portalen. Prøv igjen om litt.", status=500)

    return app

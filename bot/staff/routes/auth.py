"""Logging in and out of the portal (sessions in SQL, CSRF-protected forms, lock-out).

Failed logins are counted in the shared database per account and per client address
(bot.privacy.login_limits, issue 14): every portal process sees the same counts, a restart
forgets nothing, and failures on other names never reset an account's count."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets

from sanic import Blueprint, response
from sanic.request import Request

from bot.handoff import clock
from bot.handoff.store import wall_clock
from bot.privacy import redact
from bot.staff.app import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Portal

log = logging.getLogger(__name__)

ERRORS = {
    "login": "Feil brukarnamn eller passord.",
    "expired": "Økta di er ute. Logg inn på nytt.",
    "csrf": "Skjemaet var for gammalt. Prøv igjen.",
    "locked": "For mange feil forsøk. Vent eit kvarter og prøv igjen.",
}


def safe_next(target: str | None) -> str:
    target = target or "/staff/"
    return target if target.startswith("/staff/") and not target.startswith("//") else "/staff/"


def blueprint(portal: Portal) -> Blueprint:
    bp = Blueprint("auth", url_prefix="/staff")
    limiter = portal.login_limiter
    accounts = portal.accounts

    @bp.get("/login")
    async def login_form(request: Request):
        csrf = secrets.token_urlsafe(32)
        resp = portal.render("login.html", next=safe_next(request.args.get("next")),
                             error=ERRORS.get(request.args.get("error", ""), ""), csrf_token=csrf, staff=None)
        resp.add_cookie(LOGIN_CSRF_COOKIE, csrf, path="/staff/login", httponly=True, samesite="Strict",
                        secure=portal.secure(request), max_age=3600)
        return resp

    @bp.post("/login")
    async def login(request: Request):
        form = request.form or {}
        sent, expected = str(form.get("csrf_token", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            return response.redirect("/staff/login?error=csrf", status=303)
        attempted = str(form.get("username", "")).strip().lower()[:64]
        address, now = portal.client_address(request), wall_clock()
        blocked = await asyncio.to_thread(limiter.blocked, attempted, address, now)
        if blocked:
            log.warning("staff login refused: too many failures for this %s", blocked)
            return response.redirect("/staff/login?error=locked", status=303)
        username = await asyncio.to_thread(accounts.verify, attempted, form.get("password", ""))
        if username is None:
            await asyncio.to_thread(limiter.failed, attempted, address, now)
            log.info("failed staff login for %s", redact(attempted))
            return response.redirect("/staff/login?error=login", status=303)
        await asyncio.to_thread(limiter.succeeded, attempted)
        token, _ = accounts.start_session(username, now=clock.now(), ttl=portal.session_ttl)
        resp = response.redirect(safe_next(form.get("next")), status=303)
        resp.add_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="Strict",
                        secure=portal.secure(request), max_age=int(portal.session_ttl.total_seconds()))
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
        return resp

    @bp.post("/logout")
    async def logout(request: Request):
        accounts.end_session(request.cookies.get(SESSION_COOKIE))
        resp = response.redirect("/staff/login", status=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    return bp

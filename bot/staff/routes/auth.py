"""Logging in and out of the portal (sessions in SQL, CSRF-protected forms, lock-out)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections import deque

from sanic import Blueprint, response
from sanic.request import Request

from bot.handoff import clock
from bot.privacy import redact
from bot.staff.app import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Portal

log = logging.getLogger(__name__)

ERRORS = {
    "login": "Feil brukarnamn eller passord.",
    "expired": "Økta di er ute. Logg inn på nytt.",
    "csrf": "Skjemaet var for gammalt. Prøv igjen.",
    "locked": "For mange feil forsøk. Vent eit kvarter og prøv igjen.",
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


def safe_next(target: str | None) -> str:
    target = target or "/staff/"
    return target if target.startswith("/staff/") and not target.startswith("//") else "/staff/"


def blueprint(portal: Portal) -> Blueprint:
    bp = Blueprint("auth", url_prefix="/staff")
    limiter = LoginLimiter()
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
        if limiter.blocked(attempted, time.monotonic()):
            return response.redirect("/staff/login?error=locked", status=303)
        username = await asyncio.to_thread(accounts.verify, attempted, form.get("password", ""))
        if username is None:
            limiter.failed(attempted, time.monotonic())
            log.info("failed staff login for %s", redact(attempted))
            return response.redirect("/staff/login?error=login", status=303)
        limiter.reset(attempted)
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

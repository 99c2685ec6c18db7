"""Staff accounts (argon2 password hashes) and portal sessions (in SQL, with expiry)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from bot.handoff.db import Database
from bot.handoff.models import StaffSession, StaffUser

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_CHARS = 10
SESSION_TTL = timedelta(hours=8)


class AccountError(ValueError):
    """A refused account change; the message says why."""


@dataclass(frozen=True)
class SessionInfo:
    username: str
    csrf_token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Create, check and remove staff accounts; start, look up and end sessions."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # --- accounts -------------------------------------------------------------------

    def add(self, username: str, password: str, *, now: datetime) -> None:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError("the username must be 2-64 characters: a-z, 0-9, dot, hyphen or underscore")
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
        with self.db.session() as s:
            if s.scalar(select(StaffUser).where(StaffUser.username == username)):
                raise AccountError(f"the user {username!r} exists already")
            s.add(StaffUser(username=username, password_hash=self.hasher.hash(password), created_at=now))
            s.commit()

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                raise AccountError(f"no user {username!r}")
            user.password_hash = self.hasher.hash(password)
            s.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
            s.commit()

    def remove(self, username: str) -> bool:
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                return False
            s.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
            s.delete(user)
            s.commit()
            return True

    def list(self) -> list[tuple[str, datetime]]:
        with self.db.session() as s:
            return [(u.username, u.created_at) for u in s.scalars(select(StaffUser).order_by(StaffUser.username))]

    def verify(self, username: str, password: str) -> str | None:
        """The normalised username if the password is right, else None (same work either way)."""
        username = (username or "").strip().lower()
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username))
            try:
                self.hasher.verify(user.password_hash if user else self._dummy_hash, password or "")
            except (VerificationError, InvalidHashError):
                return None
            if user is None:
                return None
            if self.hasher.check_needs_rehash(user.password_hash):
                user.password_hash = self.hasher.hash(password)
                s.commit()
            return user.username

    # --- sessions -------------------------------------------------------------------

    def start_session(self, username: str, *, now: datetime, ttl: timedelta = SESSION_TTL) -> tuple[str, SessionInfo]:
        """A new session: the cookie token (only its hash is stored) and the session info."""
        token = secrets.token_urlsafe(32)
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username))
            if user is None:
                raise AccountError(f"no user {username!r}")
            s.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
            row = StaffSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                               created_at=now, expires_at=now + ttl)
            s.add(row)
            s.commit()
            return token, SessionInfo(username, row.csrf_token, row.expires_at)

    def session(self, token: str | None, *, now: datetime) -> SessionInfo | None:
        """The live session for a cookie token; None if unknown or expired (expired ones are deleted)."""
        if not token or len(token) > 200:
            return None
        with self.db.session() as s:
            row = s.scalar(select(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
            if row is None:
                return None
            if row.expires_at <= now:
                s.delete(row)
                s.commit()
                return None
            user = s.get(StaffUser, row.user_id)
            return SessionInfo(user.username, row.csrf_token, row.expires_at) if user else None

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        with self.db.session() as s:
            s.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
            s.commit()

"""Staff accounts (argon2 password hashes), portal sessions (in SQL, with expiry) and API
tokens for integrations (`Authorization: Bearer`, only a SHA-256 stored)."""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from bot.handoff.db import Database
from bot.handoff.models import StaffSession, StaffToken, StaffUser
from bot.handoff.store import staff_belongs_to

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_CHARS = 10
SESSION_TTL = timedelta(hours=8)
ROLES = ("staff", "lead")


class AccountError(ValueError):
    """A refused account change; the message says why."""


def _no_user(username: str) -> AccountError:
    return AccountError(f"no user {username!r}: see 'kommunebot staff list', "
                        f"or create it with 'kommunebot staff add {username}'")


@dataclass(frozen=True)
class SessionInfo:
    """Who is asking: from a portal session (with its CSRF token) or an API token."""

    username: str
    csrf_token: str
    expires_at: datetime | None
    role: str = "staff"
    municipality: str | None = None
    via: str = "session"   # session | token

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Create, check and remove staff accounts; start, look up and end sessions."""

    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # --- accounts -------------------------------------------------------------------

    def add(self, username: str, password: str, *, now: datetime, role: str = "staff",
            municipality: str | None = None) -> None:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError("the username must be 2-64 characters: a-z, 0-9, dot, hyphen or underscore")
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
        if role not in ROLES:
            raise AccountError(f"the role must be one of {', '.join(ROLES)}")
        with self.db.session() as s:
            if s.scalar(select(StaffUser).where(StaffUser.username == username)):
                raise AccountError(f"the user {username!r} exists already")
            s.add(StaffUser(username=username, password_hash=self.hasher.hash(password), created_at=now, role=role,
                            municipality=municipality))
            s.commit()

    def set_municipality(self, username: str, municipality: str) -> None:
        """Move an account to another municipality (its sessions end: what it may see changes)."""
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                raise _no_user(username)
            user.municipality = municipality
            s.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
            s.commit()

    def set_role(self, username: str, role: str) -> None:
        if role not in ROLES:
            raise AccountError(f"the role must be one of {', '.join(ROLES)}")
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                raise _no_user(username)
            user.role = role
            s.commit()

    def exists(self, username: str) -> bool:
        with self.db.session() as s:
            return s.scalar(select(StaffUser.id).where(StaffUser.username == username.strip().lower())) is not None

    def colleagues(self, municipality: str | None = None) -> list[str]:
        """Usernames a chat can be transferred to (the same municipality, or any)."""
        with self.db.session() as s:
            query = select(StaffUser.username).order_by(StaffUser.username)
            if municipality is not None:
                query = query.where(staff_belongs_to(municipality))
            return list(s.scalars(query).all())

    def seen(self, username: str, wall_now: datetime) -> None:
        """The user has a portal page open now (who is on duty, for queue estimates)."""
        with self.db.session() as s:
            s.execute(update(StaffUser).where(StaffUser.username == username).values(last_seen_at=wall_now))
            s.commit()

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                raise _no_user(username)
            user.password_hash = self.hasher.hash(password)
            s.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
            s.commit()

    def remove(self, username: str) -> bool:
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                return False
            s.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
            s.execute(delete(StaffToken).where(StaffToken.user_id == user.id))
            s.delete(user)
            s.commit()
            return True

    def list(self) -> list[tuple[str, datetime]]:
        with self.db.session() as s:
            return [(u.username, u.created_at) for u in s.scalars(select(StaffUser).order_by(StaffUser.username))]

    def describe(self) -> builtins.list[tuple[str, str, str | None, datetime]]:
        """(username, role, municipality, created) of every account."""
        with self.db.session() as s:
            return [(u.username, u.role or "staff", u.municipality, u.created_at)
                    for u in s.scalars(select(StaffUser).order_by(StaffUser.username))]

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
                raise _no_user(username)
            s.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
            row = StaffSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                               created_at=now, expires_at=now + ttl)
            s.add(row)
            s.commit()
            return token, SessionInfo(username, row.csrf_token, row.expires_at, user.role or "staff", user.municipality)

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
            return SessionInfo(user.username, row.csrf_token, row.expires_at, user.role or "staff",
                               user.municipality) if user else None

    def end_session(self, token: str | None) -> None:
        if not token:
            return
        with self.db.session() as s:
            s.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
            s.commit()

    # --- API tokens -----------------------------------------------------------------

    def create_token(self, username: str, *, now: datetime) -> str:
        """A new API token for the user (shown once; only its hash is stored)."""
        token = "kb_" + secrets.token_urlsafe(32)
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                raise _no_user(username)
            s.add(StaffToken(token_hash=_token_hash(token), user_id=user.id, created_at=now))
            s.commit()
        return token

    def revoke_tokens(self, username: str) -> int:
        with self.db.session() as s:
            user = s.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
            if user is None:
                raise _no_user(username)
            count = s.execute(delete(StaffToken).where(StaffToken.user_id == user.id)).rowcount
            s.commit()
            return count

    def token_user(self, token: str | None, *, now: datetime) -> SessionInfo | None:
        """The user an API token belongs to, or None."""
        if not token or len(token) > 200:
            return None
        with self.db.session() as s:
            row = s.scalar(select(StaffToken).where(StaffToken.token_hash == _token_hash(token)))
            if row is None:
                return None
            user = s.get(StaffUser, row.user_id)
            if user is None:
                return None
            row.last_used_at = now
            s.commit()
            return SessionInfo(user.username, "", None, user.role or "staff", user.municipality, via="token")

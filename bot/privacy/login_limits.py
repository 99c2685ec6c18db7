"""Failed staff logins, counted in the shared database per account and per address (issue 14).

The portal's old limiter counted per username, in memory, per process: a restart or a
second portal process forgot it, 10,001 failures on other names pushed a target's count
out, and one address could try any number of names. This one keeps every failure in the
cases database (table `login_failures`, shared by all portal processes, surviving
restarts) and refuses a login when, in the last WINDOW:

- the account had ACCOUNT_ATTEMPTS failures (default 5), whatever address they came from;
- the client address had ADDRESS_ATTEMPTS failures (default 20), whatever names it tried.

Names and addresses are stored only as keyed hashes (bot.privacy.keys): a password typed
into the name field by mistake is not kept. A successful login clears the account's
count. Rows older than the window are deleted as new failures come.

    limiter = LoginLimiter(db)
    if limiter.blocked(name, address, now): ...   # "account" | "address" | None
    limiter.failed(name, address, now) / limiter.succeeded(name)
    limiter.blocked(None, address, now) / limiter.failed(None, address, now)   # API tokens: per address

Settings: KOMMUNEBOT_LOGIN_ATTEMPTS_PER_ACCOUNT, KOMMUNEBOT_LOGIN_ATTEMPTS_PER_ADDRESS,
KOMMUNEBOT_LOGIN_WINDOW_MINUTES (15). Locking an account is itself something an
attacker can do (five wrong passwords for a known name): the lock lasts the window only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, func, insert, select

from bot.handoff.db import Database
from bot.privacy import keys

metadata = MetaData()
failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("account", String(32), nullable=False, index=True),   # keyed hash of the name tried
    Column("address", String(32), nullable=False, index=True),   # keyed hash of the client address
    Column("at", DateTime, nullable=False, index=True),          # UTC, naive
)


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        number = int(value) if value else default
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None
    if number < 1:
        raise ValueError(f"{name}={value!r} must be 1 or more")
    return number


@dataclass(frozen=True)
class LoginLimits:
    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_env(cls) -> LoginLimits:
        return cls(_setting("KOMMUNEBOT_LOGIN_ATTEMPTS_PER_ACCOUNT", 5),
                   _setting("KOMMUNEBOT_LOGIN_ATTEMPTS_PER_ADDRESS", 20),
                   timedelta(minutes=_setting("KOMMUNEBOT_LOGIN_WINDOW_MINUTES", 15)))


def _at(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    return now.astimezone(timezone.utc).replace(tzinfo=None)


def _account(name: str | None) -> str:
    if name is None:  # a wrong API token: no account, only the address counts
        return keys.client_key("api-token")
    return keys.client_key("account:" + name.strip().lower())


def _address(address: str) -> str:
    return keys.client_key("address:" + (address or "unknown"))


class LoginLimiter:
    """Failed logins in SQL; `blocked` says whether a login may be tried now."""

    def __init__(self, db: Database, limits: LoginLimits | None = None) -> None:
        self.db = db
        self.limits = limits or LoginLimits.from_env()
        metadata.create_all(db.engine)

    def blocked(self, name: str | None, address: str, now: datetime) -> str | None:
        """"account" or "address" when that has too many recent failures, else None.
        `name` None (an API token): the address alone."""
        since = _at(now) - self.limits.window
        count = select(func.count()).select_from(failures).where(failures.c.at >= since)
        with self.db.engine.connect() as conn:
            if name is not None and conn.execute(count.where(failures.c.account == _account(name))).scalar_one() >= \
                    self.limits.per_account:
                return "account"
            if conn.execute(count.where(failures.c.address == _address(address))).scalar_one() >= \
                    self.limits.per_address:
                return "address"
        return None

    def failed(self, name: str | None, address: str, now: datetime) -> None:
        """Count a wrong password for `name` (None: a wrong API token) from `address`."""
        at = _at(now)
        with self.db.engine.begin() as conn:
            conn.execute(delete(failures).where(failures.c.at < at - self.limits.window))
            conn.execute(insert(failures).values(account=_account(name), address=_address(address), at=at))

    def succeeded(self, name: str) -> None:
        """The right password: the account's count starts again (the address's does not)."""
        with self.db.engine.begin() as conn:
            conn.execute(delete(failures).where(failures.c.account == _account(name)))

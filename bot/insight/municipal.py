"""The municipalities insight counts for: their slugs, profiles and time zones.

Uses `bot.service.municipalities.registry()` (one deployment, many municipalities); a
checkout that still has the single `municipality.yml` gets it as the only municipality.
Stdlib and PyYAML only (through bot.service): the Rasa process imports this module.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

DEFAULT_TZ = ZoneInfo("Europe/Oslo")
_SLUG_FROM_NAME = re.compile(r"[^a-z0-9]+")


class UnknownMunicipalityError(LookupError):
    """Stats asked for a municipality no profile has; the message lists the known ones."""


def _registry():
    try:
        from bot.service.municipalities import registry
    except ImportError:
        return None
    return registry()


@lru_cache(maxsize=1)
def _single_profile():
    from bot.service.profile import load_profile

    return load_profile()


def _slug_of(profile) -> str:
    slug = getattr(profile, "slug", "") or ""
    if slug:
        return slug
    first = (profile.name.split() or ["kommune"])[0].lower()
    for old, new in (("æ", "ae"), ("ø", "o"), ("å", "a")):
        first = first.replace(old, new)
    return _SLUG_FROM_NAME.sub("-", first).strip("-") or "kommune"


def slugs() -> list[str]:
    reg = _registry()
    return list(reg.slugs) if reg is not None else [_slug_of(_single_profile())]


def default_slug() -> str:
    reg = _registry()
    return reg.default.slug if reg is not None else _slug_of(_single_profile())


def profile(slug: str | None = None):
    """The profile of `slug` (default: the deployment's default municipality)."""
    reg = _registry()
    if reg is not None:
        if slug is None:
            return reg.default
        if slug not in reg.slugs:
            raise UnknownMunicipalityError(
                f"unknown municipality {slug!r}; known municipalities: {', '.join(reg.slugs)}")
        return reg.get(slug)
    single = _single_profile()
    if slug is not None and slug != _slug_of(single):
        raise UnknownMunicipalityError(f"unknown municipality {slug!r}; known municipalities: {_slug_of(single)}")
    return single


def resolve(slug: str | None) -> str:
    """A known slug: `slug` itself, or the default for None and for unknown slugs (logged)."""
    if not slug:
        return default_slug()
    try:
        profile(slug)
    except UnknownMunicipalityError as exc:
        log.warning("insight: %s; counting for %s", exc, default_slug())
        return default_slug()
    except Exception:  # a broken profile must not stop the counting
        return str(slug)
    return str(slug)


def timezone(slug: str | None) -> ZoneInfo:
    """The municipality's time zone (Europe/Oslo when its profile cannot be read)."""
    try:
        return profile(slug).timezone
    except Exception:
        return DEFAULT_TZ


def retention_days(slug: str | None) -> int:
    try:
        return int(profile(slug).retention.conversations_days)
    except Exception:
        return 30

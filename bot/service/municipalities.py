"""The municipalities one deployment serves: one profile per `municipalities/<slug>.yml`.

    from bot.service.municipalities import registry, UnknownMunicipality
    reg = registry()                      # loaded once, reloaded when a profile file changes
    reg.slugs                             # ["alver", "ullensaker"]
    reg.default                           # the only one, the first, or KOMMUNEBOT_DEFAULT_MUNICIPALITY
    reg.get("alver")                      # Profile; UnknownMunicipality lists the known slugs
    reg.resolve(None)                     # the default; resolve("alver") == get("alver")
    reg.for_messenger_page("1234")        # the Profile whose messenger_page_ids has it, or None
    reg.knowledge_dirs("alver")           # [knowledge/common, knowledge/alver] (those that exist)
    reg.index_dir("alver")                # models/knowledge/alver
    template_values(profile, "nb")        # {municipality_name, phone, phone_hours, service_name, ...}

Two layouts (bot/config.py):
- many municipalities (default): every `<slug>.yml` in KOMMUNEBOT_MUNICIPALITIES_DIR
  (`municipalities`), pages in `<KOMMUNEBOT_KNOWLEDGE_DIR>/<slug>/` plus the shared
  `<KOMMUNEBOT_KNOWLEDGE_DIR>/common/`, index in `<KOMMUNEBOT_INDEX_DIR>/<slug>/`;
- one municipality from one file: KOMMUNEBOT_MUNICIPALITY_FILE; then
  KOMMUNEBOT_KNOWLEDGE_DIR is its own pages and KOMMUNEBOT_INDEX_DIR its index as they
  are (both may live outside the checkout).

Stdlib and PyYAML only: the Rasa server process imports this module.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bot.service.profile import SLUG, Profile, ProfileError, load_profile

PROFILE_SUFFIXES = (".yml", ".yaml")
COMMON = "common"  # knowledge/common/: national pages every municipality gets


class UnknownMunicipality(LookupError):
    """A slug no profile has; the message lists the known ones."""

    def __init__(self, slug: object, known: list[str]) -> None:
        self.slug = slug
        self.known = list(known)
        super().__init__(f"unknown municipality {slug!r}; known municipalities: {', '.join(known) or '(none)'}")


@dataclass
class Registry:
    """The loaded profiles by slug, in slug order, and where each one's content lives."""

    profiles: dict[str, Profile]
    default_slug: str
    knowledge_root: Path
    index_root: Path
    common_dir: Path | None
    single: bool = False  # one municipality from KOMMUNEBOT_MUNICIPALITY_FILE
    _pages: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._pages = {page: slug for slug, p in self.profiles.items() for page in p.messenger_page_ids}

    @property
    def slugs(self) -> list[str]:
        return list(self.profiles)

    @property
    def default(self) -> Profile:
        return self.profiles[self.default_slug]

    def __contains__(self, slug: object) -> bool:
        return isinstance(slug, str) and slug in self.profiles

    def __iter__(self):
        return iter(self.profiles.values())

    def __len__(self) -> int:
        return len(self.profiles)

    def get(self, slug: object) -> Profile:
        """The profile of `slug`; UnknownMunicipality (naming the known slugs) otherwise."""
        if isinstance(slug, str) and slug in self.profiles:
            return self.profiles[slug]
        raise UnknownMunicipality(slug, self.slugs)

    def resolve(self, slug: object = None) -> Profile:
        """`get(slug)`, or the default municipality when `slug` is empty or None."""
        return self.default if slug in (None, "") else self.get(slug)

    def for_messenger_page(self, page_id: object) -> Profile | None:
        """The municipality a Facebook page belongs to (profile `messenger_page_ids`)."""
        slug = self._pages.get(str(page_id)) if page_id is not None else None
        return self.profiles[slug] if slug else None

    @property
    def uses_messenger_pages(self) -> bool:
        return bool(self._pages)

    # -- content --------------------------------------------------------------------------
    def local_dir(self, slug: str) -> Path:
        """The municipality's own pages (may not exist yet)."""
        self.get(slug)
        return self.knowledge_root if self.single else self.knowledge_root / slug

    def knowledge_dirs(self, slug: str) -> list[Path]:
        """Folders to index for `slug`, common first (a local page overrides a common one)."""
        dirs = [self.common_dir] if self.common_dir is not None and self.common_dir.is_dir() else []
        local = self.local_dir(slug)
        return dirs + ([local] if local.is_dir() else [])

    def index_dir(self, slug: str) -> Path:
        """Where the municipality's search index lives."""
        self.get(slug)
        return self.index_root if self.single else self.index_root / slug


def _profile_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in PROFILE_SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


def load_registry(settings=None) -> Registry:
    """Read every profile (ProfileError lists what is wrong, file by file)."""
    if settings is None:
        from bot.config import settings as current

        settings = current()
    profiles: dict[str, Profile] = {}
    problems: list[str] = []
    if settings.municipality_file is not None:
        profile = load_profile(settings.municipality_file)
        profiles[profile.slug] = profile
    else:
        folder = settings.municipalities_dir
        if not folder.is_dir():
            raise ProfileError(f"{folder}: no municipalities folder; create it with one profile per municipality "
                               "(`bin/kommunebot municipality add SLUG` writes municipalities/SLUG.yml), or set "
                               "KOMMUNEBOT_MUNICIPALITIES_DIR (or KOMMUNEBOT_MUNICIPALITY_FILE for one file)")
        for path in _profile_files(folder):
            if not SLUG.match(path.stem):
                problems.append(f"{path}: the file name is the municipality's slug: use lower-case letters, digits "
                                f"and hyphens, e.g. {path.stem.lower().replace('_', '-').replace(' ', '-')}.yml")
                continue
            try:
                profiles[path.stem] = load_profile(path, slug=path.stem)
            except ProfileError as exc:
                problems.append(str(exc))
        if not profiles and not problems:
            problems.append(f"{folder}: no municipality profiles; add one with `bin/kommunebot municipality add SLUG`")
    seen: dict[str, str] = {}
    for slug, profile in profiles.items():
        if profile.reference_prefix in seen:
            problems.append(f"{profile.source}: reference_prefix {profile.reference_prefix!r} is already used by "
                            f"{seen[profile.reference_prefix]}; case references must tell municipalities apart, "
                            "choose other letters")
        seen.setdefault(profile.reference_prefix, slug)
    pages: dict[str, str] = {}
    for slug, profile in profiles.items():
        for page in profile.messenger_page_ids:
            if page in pages:
                problems.append(f"{profile.source}: messenger_page_ids: page {page} is also listed by "
                                f"{pages[page]}; a Facebook page belongs to one municipality")
            pages.setdefault(page, slug)
    if problems:
        raise ProfileError("\n".join(problems))
    default = settings.default_municipality or next(iter(profiles))
    if default not in profiles:
        raise ProfileError(f"KOMMUNEBOT_DEFAULT_MUNICIPALITY={default!r} is not a municipality here; "
                           f"use one of: {', '.join(profiles)}")
    return Registry(profiles=dict(sorted(profiles.items())), default_slug=default,
                    knowledge_root=settings.knowledge_dir, index_root=settings.index_dir,
                    common_dir=settings.common_knowledge_dir, single=settings.municipality_file is not None)


_cache: dict[tuple, Registry] = {}
_lock = threading.Lock()


def _fingerprint(settings) -> tuple:
    """What the registry depends on: the settings and each profile file's modification."""
    files = [settings.municipality_file] if settings.municipality_file is not None else (
        _profile_files(settings.municipalities_dir) if settings.municipalities_dir.is_dir() else [])
    stamps: list[tuple[str, int | None, int | None]] = []
    for path in files:
        try:
            stat = os.stat(path)
            stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            stamps.append((str(path), None, None))
    return (settings.municipalities_dir, settings.municipality_file, settings.default_municipality,
            settings.knowledge_dir, settings.index_dir, settings.common_knowledge_dir, tuple(stamps))


def registry() -> Registry:
    """The current registry: read once, read again when the settings or a profile change."""
    from bot.config import settings as current

    cfg = current()
    key = _fingerprint(cfg)
    with _lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = load_registry(cfg)
        return _cache[key]


def template_values(profile: Profile, lang: str) -> dict[str, str]:
    """The municipality's words that responses in domain.yml use as {placeholders}."""
    from bot.service.texts import schedule_text  # stdlib only (answers.py needs `holidays`)

    lang = lang if lang in ("nn", "nb") else profile.default_language
    phone_hours = profile.opening_hours.get("phone")
    return {
        "municipality_name": profile.name,
        "phone": profile.contact.phone,
        "phone_hours": schedule_text(phone_hours).get(lang) if phone_hours else "",
        "email": profile.contact.email,
        "website": profile.contact.website,
        "contact_form": profile.contact.contact_form,
        "service_name": profile.service_name.get(lang) or profile.service_name.get(profile.default_language, ""),
    }

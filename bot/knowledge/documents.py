"""Loading pages from a source folder: Markdown (with or without YAML front matter) and
saved HTML pages. Every file either becomes a `Page` or is reported as skipped with why.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.knowledge.html_extract import extract

MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
STANDARDS = ("nn", "nb")
_LANG_CODES = {"nn": "nn", "nno": "nn", "nn-no": "nn", "nb": "nb", "nob": "nb", "nb-no": "nb"}


@dataclass
class Page:
    """One web page in one written standard."""

    page_id: str
    title: str
    url: str
    lang: str | None
    markdown: str  # body with `#` headings
    source: str  # path relative to the source folder
    checksum: str
    meta: dict = field(default_factory=dict)
    machine_converted: bool = False


@dataclass
class Skipped:
    source: str
    reason: str


def normalise_lang(value: object) -> str | None:
    """'nn', 'nb' or None for an HTML lang attribute or front-matter value ("nn-NO", "nob")."""
    if not isinstance(value, str):
        return None
    return _LANG_CODES.get(value.strip().lower().replace("_", "-"))


def detect_lang(text: str) -> str | None:
    """The written standard by `bot.language.detect`, or None when it is unavailable/unsure."""
    try:
        from bot.language import detect
    except ImportError:
        return None
    try:
        return detect(text).lang
    except Exception:  # a broken detector must not stop indexing
        return None


def slug(text: str) -> str:
    value = re.sub(r"[^\w]+", "-", text.lower()).strip("-")
    return value or "page"


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("not text in UTF-8 or Windows-1252")


def _split_front_matter(text: str) -> tuple[dict, str]:
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", text, re.DOTALL)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a YAML mapping")
    return meta, text[match.end():]


def _lang_from_path(rel: Path) -> str | None:
    for part in rel.parts[:-1]:
        if normalise_lang(part):
            return normalise_lang(part)
    return None


def _first_heading(markdown: str) -> str | None:
    match = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", markdown, re.MULTILINE)
    return match.group(1).strip() if match else None


def _visible_text(markdown: str) -> str:
    return re.sub(r"[#*_>`|\-\s]+", " ", markdown).strip()


def load_page(path: Path, root: Path) -> Page:
    """Read one file; raises ValueError with the reason when it cannot be a page."""
    rel = path.relative_to(root)
    data = path.read_bytes()
    if not data.strip():
        raise ValueError("empty file")
    text = _decode(data)
    checksum = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        meta, body = _split_front_matter(text)
        title = str(meta.get("title") or _first_heading(body) or path.stem.replace("-", " ").capitalize())
        url = str(meta.get("url") or rel.as_posix())
        lang = normalise_lang(meta.get("lang")) or _lang_from_path(rel)
        page_id = str(meta.get("id") or path.stem)
    elif suffix in HTML_SUFFIXES:
        html = extract(text)
        body, meta = html.markdown, {}
        title = html.title or _first_heading(body) or path.stem.replace("-", " ").capitalize()
        url = html.canonical or rel.as_posix()
        lang = normalise_lang(html.lang) or _lang_from_path(rel)
        page_id = path.stem
    else:
        raise ValueError(f"unsupported file type '{suffix or path.name}' (use .md or .html)")
    if not _visible_text(body):
        raise ValueError("no text on the page")
    if lang is None:
        lang = detect_lang(_visible_text(body)[:2000])
    return Page(page_id=slug(page_id), title=title.strip(), url=url, lang=lang, markdown=body.strip(),
                source=rel.as_posix(), checksum=checksum, meta=meta)


def load_folder(root: Path) -> tuple[list[Page], list[Skipped]]:
    """All pages under `root` (sorted by path) and the files that were skipped, with reasons."""
    if not root.is_dir():
        raise FileNotFoundError(f"source folder {root} does not exist")
    pages: list[Page] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # hidden files and folders (.git, editor swap files)
        if path.stem.lower() == "readme":
            skipped.append(Skipped(rel, "a README documents the folder; it is not a page"))
            continue
        try:
            pages.append(load_page(path, root))
        except PermissionError:
            skipped.append(Skipped(rel, "cannot be read (permission denied)"))
        except (OSError, ValueError) as exc:
            skipped.append(Skipped(rel, str(exc)))
    return pages, skipped

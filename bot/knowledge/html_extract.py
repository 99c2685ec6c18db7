"""Main-text extraction from a saved web page (stdlib HTML parser).

Keeps the article text as Markdown-like lines (`#` headings, `- ` list items) and drops
menus, headers, footers, cookie banners, forms and scripts. When the page marks its
main content (`<main>`, `role="main"`, `<article>`), only that is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

SKIP_TAGS = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button",
             "svg", "iframe", "template", "select", "option", "dialog", "object", "canvas"}
SKIP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog",
              "menu", "menubar"}
SKIP_MARKERS = re.compile(
    r"cookie|consent|gdpr|breadcrumb|navbar|\bnav\b|menu|skip-?link|share|social|sidebar|"
    r"site-?header|site-?footer|newsletter|popup|modal|print-?only|visually-?hidden|sr-only",
    re.IGNORECASE)
VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
             "track", "wbr", "param"}
BLOCK_TAGS = {"p", "div", "section", "li", "dt", "dd", "td", "th", "tr", "table", "ul", "ol", "dl",
              "blockquote", "pre", "figcaption", "address", "details", "summary", "main", "article",
              "br", "hr", "caption"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
MAIN_TAGS = {"main", "article"}


@dataclass
class HtmlPage:
    """What a saved page says about itself."""

    title: str | None
    canonical: str | None
    lang: str | None
    markdown: str
    blocks: list[str] = field(default_factory=list)


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, skips?, main?)
        self.blocks: list[tuple[str, bool]] = []  # (markdown line, inside main?)
        self.buffer: list[str] = []
        self.prefix = ""
        self.title_parts: list[str] | None = None
        self.title: str | None = None
        self.h1: str | None = None
        self.canonical: str | None = None
        self.lang: str | None = None

    @property
    def skipping(self) -> bool:
        return any(s for _, s, _ in self.stack)

    @property
    def in_main(self) -> bool:
        return any(m for _, _, m in self.stack)

    def flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.buffer)).strip()
        self.buffer = []
        if text:
            self.blocks.append((self.prefix + text, self.in_main))
        self.prefix = ""

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "html" and a.get("lang"):
            self.lang = a["lang"]
        if tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.canonical = a["href"].strip()
        if tag == "title":
            self.title_parts = []
        if tag in VOID_TAGS:
            if tag in BLOCK_TAGS and not self.skipping:
                self.buffer.append(" ")
            return
        marker = " ".join((a.get("id", ""), a.get("class", ""), a.get("aria-label", "")))
        skips = (tag in SKIP_TAGS or a.get("role", "").lower() in SKIP_ROLES or "hidden" in a
                 or a.get("aria-hidden") == "true" or bool(SKIP_MARKERS.search(marker)))
        if tag == "header" and self.in_main and not SKIP_MARKERS.search(marker):
            skips = False  # an article's own <header> holds its <h1>
        main = (tag in MAIN_TAGS or a.get("role", "").lower() == "main"
                or a.get("id", "").lower() in ("main", "content", "main-content"))
        if tag in BLOCK_TAGS or tag in HEADINGS:
            self.flush()
        if tag in HEADINGS and not self.skipping:
            self.prefix = "#" * HEADINGS[tag] + " "
        elif tag == "li":
            self.prefix = "- "
        self.stack.append((tag, skips, main))

    def handle_endtag(self, tag):
        if tag == "title" and self.title_parts is not None:
            self.title = re.sub(r"\s+", " ", "".join(self.title_parts)).strip() or None
            self.title_parts = None
        if tag in VOID_TAGS or not any(t == tag for t, _, _ in self.stack):
            return
        if tag in BLOCK_TAGS or tag in HEADINGS:
            if tag == "h1" and self.h1 is None and not self.skipping:
                self.h1 = re.sub(r"\s+", " ", "".join(self.buffer)).strip() or None
            self.flush()
        while self.stack:
            open_tag = self.stack.pop()[0]
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.title_parts is not None:
            self.title_parts.append(data)
            return
        if not self.skipping:
            self.buffer.append(data)


def extract(html: str) -> HtmlPage:
    """Parse a saved page; `markdown` holds its main text with headings."""
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    parser.flush()
    blocks = parser.blocks
    if any(in_main for _, in_main in blocks):
        blocks = [b for b in blocks if b[1]]
    lines = [line for line, _ in blocks]
    title = parser.h1 or (re.split(r"\s+[|–—-]\s+", parser.title)[0] if parser.title else None)
    return HtmlPage(title=title, canonical=parser.canonical, lang=parser.lang,
                    markdown="\n\n".join(lines), blocks=lines)

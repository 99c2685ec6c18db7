"""Fetching the pages a sitemap lists into a folder that `index` reads (command `crawl`).

Polite by default: obeys robots.txt (including Crawl-delay), waits between requests,
sends an identifying User-Agent, and times out. Pages are saved as HTML files named
after their URL path; a JSON log lists what was fetched or skipped and why.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib import robotparser
from urllib.parse import urljoin, urlsplit

USER_AGENT = "Kommunebot-crawler/1.0 (+https://github.com/kommunebot; municipal FAQ index)"
DEFAULT_DELAY = 1.0
TIMEOUT = 15.0
MAX_BYTES = 5_000_000


def _client(timeout: float):
    import httpx

    return httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=True)


def read_sitemap(source: str, client) -> list[str]:
    """Page URLs from a sitemap URL or file; sitemap indexes are followed one level down."""
    if re.match(r"https?://", source):
        response = client.get(source)
        response.raise_for_status()
        data = response.content
    else:
        data = Path(source).read_bytes()
    root = ET.fromstring(data)
    locs = [el.text.strip() for el in root.iter() if el.tag.endswith("loc") and el.text]
    if root.tag.endswith("sitemapindex"):
        urls: list[str] = []
        for loc in locs:
            urls.extend(read_sitemap(loc, client))
        return urls
    return locs


def filename_for(url: str) -> str:
    """A stable file name for a page URL: its path, slashes to dashes, `.html`."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    path = re.sub(r"\.(html?|php|aspx?)$", "", path)
    name = re.sub(r"[^\w.-]+", "-", path).strip("-") or "index"
    if parts.query:
        name += "-" + re.sub(r"[^\w]+", "-", parts.query).strip("-")
    return name + ".html"


class Robots:
    """robots.txt per host, fetched once."""

    def __init__(self, client):
        self.client = client
        self.parsers: dict[str, robotparser.RobotFileParser | None] = {}

    def parser(self, url: str) -> robotparser.RobotFileParser | None:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self.parsers:
            parser = robotparser.RobotFileParser()
            try:
                response = self.client.get(urljoin(host, "/robots.txt"))
                if response.status_code >= 400:
                    parser = None  # no robots.txt: everything allowed
                else:
                    parser.parse(response.text.splitlines())
            except Exception:
                parser = None
            self.parsers[host] = parser
        return self.parsers[host]

    def allowed(self, url: str) -> bool:
        parser = self.parser(url)
        return parser is None or parser.can_fetch(USER_AGENT, url)

    def delay(self, url: str) -> float | None:
        parser = self.parser(url)
        return parser.crawl_delay(USER_AGENT) if parser else None


def crawl(sitemap: str, out: Path, delay: float = DEFAULT_DELAY, timeout: float = TIMEOUT,
          limit: int | None = None, log=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    """Fetch every page of the sitemap into `out`; returns {"fetched": [...], "skipped": [...]}."""
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, list] = {"fetched": [], "skipped": []}
    with _client(timeout) as client:
        urls = read_sitemap(sitemap, client)
        if limit is not None:
            urls = urls[:limit]
        log(f"{len(urls)} page(s) in the sitemap.")
        robots = Robots(client)
        last_request = 0.0
        for number, url in enumerate(urls, 1):
            if not robots.allowed(url):
                result["skipped"].append({"url": url, "reason": "disallowed by robots.txt"})
                log(f"[{number}/{len(urls)}] skipped {url}: disallowed by robots.txt")
                continue
            wait = max(delay, robots.delay(url) or 0.0) - (time.monotonic() - last_request)
            if wait > 0:
                time.sleep(wait)
            last_request = time.monotonic()
            try:
                response = client.get(url)
            except Exception as exc:
                reason = f"request failed ({exc.__class__.__name__}: {exc})"
                result["skipped"].append({"url": url, "reason": reason})
                log(f"[{number}/{len(urls)}] skipped {url}: {reason}")
                continue
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200:
                reason = f"HTTP {response.status_code}"
            elif "html" not in content_type:
                reason = f"not an HTML page ({content_type or 'no content type'})"
            elif len(response.content) > MAX_BYTES:
                reason = f"larger than {MAX_BYTES // 1_000_000} MB"
            else:
                name = filename_for(url)
                html = response.text
                if "rel=\"canonical\"" not in html and "rel='canonical'" not in html:
                    # keep the page's address for `index` (url from <link rel="canonical">)
                    html = f'<link rel="canonical" href="{url}">\n' + html
                (out / name).write_text(html, encoding="utf-8")
                result["fetched"].append({"url": url, "file": name})
                log(f"[{number}/{len(urls)}] saved {url} -> {name}")
                continue
            result["skipped"].append({"url": url, "reason": reason})
            log(f"[{number}/{len(urls)}] skipped {url}: {reason}")
    (out / ".crawl-log.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result


def _run(args: argparse.Namespace) -> int:
    try:
        result = crawl(args.sitemap, Path(args.out), delay=args.delay, timeout=args.timeout, limit=args.limit)
    except (OSError, ET.ParseError) as exc:
        print(f"kommunebot crawl: cannot read the sitemap {args.sitemap}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # httpx errors on the sitemap itself
        print(f"kommunebot crawl: cannot fetch the sitemap {args.sitemap}: {exc}", file=sys.stderr)
        return 1
    print(f"Saved {len(result['fetched'])} page(s) to {args.out}; skipped {len(result['skipped'])} "
          f"(details in {Path(args.out) / '.crawl-log.json'}).")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("crawl", help="fetch the pages a sitemap lists into a folder")
    p.add_argument("--sitemap", required=True, help="sitemap.xml URL or file")
    p.add_argument("--out", required=True, help="folder to save the pages into (read by 'index')")
    p.add_argument("--delay", type=float, default=DEFAULT_DELAY, help="seconds between requests (default 1)")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per request (default 15)")
    p.add_argument("--limit", type=int, help="fetch at most this many pages")
    p.set_defaults(func=_run)

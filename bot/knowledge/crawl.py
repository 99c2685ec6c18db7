"""Fetching the pages a sitemap lists into a folder that `index` reads (command `crawl`).

Polite by default: obeys robots.txt (including Crawl-delay), waits between requests,
sends an identifying User-Agent, and times out. Pages are saved as HTML files named
after their URL path; a JSON log lists what was fetched or skipped and why.

Safe against a sitemap (or a redirect) that points somewhere else (issue 14):
- only allowed hosts are fetched: the sitemap's own host (for a sitemap file, the host of
  its first page), plus any given with --allow-host;
- every host is resolved first and refused when any of its addresses is loopback,
  private, link-local (cloud metadata at 169.254.169.254), multicast or reserved, unless
  an --allow-network names it (an intranet CMS); the request then goes to the address
  that was checked (no second DNS answer);
- redirects are followed by hand, at most MAX_REDIRECTS, each checked like the first URL;
- bodies are streamed and the download stops at MAX_BYTES (Content-Length is checked
  first).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import socket
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib import robotparser
from urllib.parse import urljoin, urlsplit, urlunsplit

USER_AGENT = "Kommunebot-crawler/1.0 (+https://github.com/kommunebot; municipal FAQ index)"
DEFAULT_DELAY = 1.0
TIMEOUT = 15.0
MAX_BYTES = 5_000_000
MAX_SITEMAP_BYTES = 50_000_000   # the sitemap protocol's own limit
MAX_REDIRECTS = 5

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """A URL the crawler will not fetch; the message says why (and what to do)."""


@dataclass
class Fetched:
    url: str          # after redirects
    status: int
    content_type: str
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def public_address(address: Address) -> bool:
    """An address on the public internet (not loopback, private, link-local, ...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass
class Policy:
    """Where the crawler may go: host names, and private networks allowed on purpose."""

    hosts: set[str] = field(default_factory=set)
    networks: list[Network] = field(default_factory=list)
    resolve: object = socket.getaddrinfo  # (host, port, ...) -> addrinfo list; tests may replace it

    @classmethod
    def create(cls, hosts: Sequence[str], networks: Sequence[str] = ()) -> Policy:
        try:
            nets = [ipaddress.ip_network(n, strict=False) for n in networks]
        except ValueError as exc:
            raise ValueError(f"--allow-network: {exc} (write e.g. 10.20.0.0/16)") from None
        return cls({h.lower().rstrip(".") for h in hosts if h}, nets)

    def allows_address(self, address: Address) -> bool:
        return public_address(address) or any(address in net for net in self.networks)

    def address_for(self, url: str) -> tuple[str, Address]:
        """The checked address to connect to for `url`, or Refused."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused(f"not an http(s) URL: {url[:200]}")
        host = parts.hostname.lower().rstrip(".")
        if host not in self.hosts:
            raise Refused(f"host {host} is not allowed (allowed: {', '.join(sorted(self.hosts)) or 'none'}; "
                          "add it with --allow-host)")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = self.resolve(host, port, type=socket.SOCK_STREAM)  # type: ignore[operator]
        except OSError as exc:
            raise Refused(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        bad = [a for a in addresses if not self.allows_address(a)]
        if not addresses or bad:
            raise Refused(f"{host} resolves to a loopback, private, link-local or reserved address "
                          f"({', '.join(map(str, bad)) or 'none'}); allow an intranet with --allow-network")
        return host, addresses[0]


def _pinned(url: str, address: Address) -> tuple[str, dict[str, str], dict[str, str]]:
    """`url` with the checked address in place of the host name, the Host header, and the
    TLS name to verify: the connection goes where the check said, whatever DNS says next."""
    parts = urlsplit(url)
    ip = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = ip + (f":{parts.port}" if parts.port else "")
    host = parts.hostname or ""
    host_header = host + (f":{parts.port}" if parts.port else "")
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return pinned, {"Host": host_header}, {"sni_hostname": host}


def fetch(client, url: str, policy: Policy, max_bytes: int = MAX_BYTES) -> Fetched:
    """GET `url` within the policy: every hop checked, the body streamed up to `max_bytes`."""
    for _ in range(MAX_REDIRECTS + 1):
        _, address = policy.address_for(url)
        pinned, headers, extensions = _pinned(url, address)
        with client.stream("GET", pinned, headers=headers, extensions=extensions) as response:
            if response.is_redirect and response.headers.get("location"):
                url = urljoin(url, response.headers["location"])
                continue
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise Refused(f"larger than {max_bytes // 1_000_000} MB")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise Refused(f"larger than {max_bytes // 1_000_000} MB")
            return Fetched(url, response.status_code, response.headers.get("content-type", ""), bytes(body))
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def _client(timeout: float):
    import httpx

    return httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout, follow_redirects=False)


def _locs(data: bytes) -> tuple[ET.Element, list[str]]:
    root = ET.fromstring(data)
    return root, [el.text.strip() for el in root.iter() if el.tag.endswith("loc") and el.text]


def read_sitemap(source: str, client, policy: Policy) -> list[str]:
    """Page URLs from a sitemap URL or file; sitemap indexes are followed one level down."""
    if re.match(r"https?://", source):
        fetched = fetch(client, source, policy, MAX_SITEMAP_BYTES)
        if fetched.status >= 400:
            raise Refused(f"HTTP {fetched.status}")
        data = fetched.content
    else:
        data = Path(source).read_bytes()
    root, locs = _locs(data)
    if root.tag.endswith("sitemapindex"):
        urls: list[str] = []
        for loc in locs:
            urls.extend(read_sitemap(loc, client, policy))
        return urls
    return locs


def default_hosts(sitemap: str) -> list[str]:
    """The sitemap's host; for a sitemap file, the host of its first page."""
    if re.match(r"https?://", sitemap):
        return [urlsplit(sitemap).hostname or ""]
    try:
        _, locs = _locs(Path(sitemap).read_bytes())
    except (OSError, ET.ParseError):
        return []
    return [urlsplit(locs[0]).hostname or ""] if locs else []


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

    def __init__(self, client, policy: Policy):
        self.client = client
        self.policy = policy
        self.parsers: dict[str, robotparser.RobotFileParser | None] = {}

    def parser(self, url: str) -> robotparser.RobotFileParser | None:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self.parsers:
            parser: robotparser.RobotFileParser | None = robotparser.RobotFileParser()
            try:
                fetched = fetch(self.client, urljoin(host, "/robots.txt"), self.policy, 500_000)
                if fetched.status >= 400:
                    parser = None  # no robots.txt: everything allowed
                else:
                    parser.parse(fetched.text.splitlines())  # type: ignore[union-attr]
            except Exception:
                parser = None
            self.parsers[host] = parser
        return self.parsers[host]

    def allowed(self, url: str) -> bool:
        parser = self.parser(url)
        return parser is None or parser.can_fetch(USER_AGENT, url)

    def delay(self, url: str) -> float | None:
        parser = self.parser(url)
        value = parser.crawl_delay(USER_AGENT) if parser else None
        return float(value) if value is not None else None


def crawl(sitemap: str, out: Path, delay: float = DEFAULT_DELAY, timeout: float = TIMEOUT,
          limit: int | None = None, log=lambda m: print(m, file=sys.stderr, flush=True),
          allow_hosts: Sequence[str] = (), allow_networks: Sequence[str] = (),
          policy: Policy | None = None) -> dict:
    """Fetch every page of the sitemap into `out`; returns {"fetched": [...], "skipped": [...]}.
    Only the sitemap's host and `allow_hosts` are fetched, never private addresses unless
    `allow_networks` names them (see the module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    policy = policy or Policy.create([*default_hosts(sitemap), *allow_hosts], list(allow_networks))
    result: dict[str, list] = {"fetched": [], "skipped": []}
    with _client(timeout) as client:
        urls = read_sitemap(sitemap, client, policy)
        if limit is not None:
            urls = urls[:limit]
        log(f"{len(urls)} page(s) in the sitemap.")
        robots = Robots(client, policy)
        last_request = 0.0
        for number, url in enumerate(urls, 1):
            try:
                policy.address_for(url)
            except Refused as refused:
                result["skipped"].append({"url": url, "reason": f"refused: {refused}"})
                log(f"[{number}/{len(urls)}] skipped {url}: refused: {refused}")
                continue
            if not robots.allowed(url):
                result["skipped"].append({"url": url, "reason": "disallowed by robots.txt"})
                log(f"[{number}/{len(urls)}] skipped {url}: disallowed by robots.txt")
                continue
            wait = max(delay, robots.delay(url) or 0.0) - (time.monotonic() - last_request)
            if wait > 0:
                time.sleep(wait)
            last_request = time.monotonic()
            try:
                response = fetch(client, url, policy)
            except Refused as refused:
                reason = f"refused: {refused}"
                result["skipped"].append({"url": url, "reason": reason})
                log(f"[{number}/{len(urls)}] skipped {url}: {reason}")
                continue
            except Exception as exc:
                reason = f"request failed ({exc.__class__.__name__}: {exc})"
                result["skipped"].append({"url": url, "reason": reason})
                log(f"[{number}/{len(urls)}] skipped {url}: {reason}")
                continue
            content_type = response.content_type
            if response.status != 200:
                reason = f"HTTP {response.status}"
            elif "html" not in content_type:
                reason = f"not an HTML page ({content_type or 'no content type'})"
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
        result = crawl(args.sitemap, Path(args.out), delay=args.delay, timeout=args.timeout, limit=args.limit,
                       allow_hosts=args.allow_host or [], allow_networks=args.allow_network or [])
    except (OSError, ET.ParseError) as exc:
        print(f"kommunebot crawl: cannot read the sitemap {args.sitemap}: {exc}", file=sys.stderr)
        return 1
    except (Refused, ValueError) as exc:
        print(f"kommunebot crawl: cannot fetch the sitemap {args.sitemap}: {exc}", file=sys.stderr)
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
    p.add_argument("--allow-host", action="append", metavar="HOST",
                   help="another host the sitemap's pages may be on (repeat; default: the sitemap's host only)")
    p.add_argument("--allow-network", action="append", metavar="CIDR",
                   help="a private network the pages may be in, e.g. an intranet CMS 10.20.0.0/16 (repeat; "
                        "default: public addresses only)")
    p.set_defaults(func=_run)

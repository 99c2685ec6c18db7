"""The sitemap crawler against a real local HTTP server serving fixture pages."""

from __future__ import annotations

import functools
import json
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.cli import main as cli_main
from bot.knowledge.crawl import USER_AGENT, crawl, filename_for
from bot.knowledge.documents import load_folder
from tests.knowledge_support import FIXTURES

SITE = FIXTURES / "crawl"
LOOPBACK = ["127.0.0.0/8"]  # the test site runs on loopback: allowed on purpose, like an intranet


class Handler(SimpleHTTPRequestHandler):
    log: list[tuple[float, str, str]] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        Handler.log.append((time.monotonic(), self.path, self.headers.get("User-Agent", "")))
        if self.path == "/sitemap.xml":
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = (SITE / "sitemap.xml").read_text().replace("{BASE}", base).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@pytest.fixture()
def server():
    Handler.log = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_crawl_fetches_allowed_pages_politely(server, tmp_path):
    out = tmp_path / "pages"
    result = crawl(f"{server}/sitemap.xml", out, delay=0.3, log=lambda m: None, allow_networks=LOOPBACK)
    assert sorted(f["file"] for f in result["fetched"]) == ["tenester-bibliotek.html", "tenester-legevakt.html"]
    reasons = {s["url"].removeprefix(server): s["reason"] for s in result["skipped"]}
    assert reasons == {"/private/internt.html": "disallowed by robots.txt",
                       "/finst-ikkje.html": "HTTP 404",
                       "/dokument.pdf": "not an HTML page (application/pdf)"}
    paths = [path for _, path, _ in Handler.log]
    assert "/private/internt.html" not in paths  # robots.txt is obeyed before fetching
    assert paths.count("/robots.txt") == 1
    assert all(agent == USER_AGENT for _, _, agent in Handler.log)
    page_times = [t for t, path, _ in Handler.log if path not in ("/sitemap.xml", "/robots.txt")]
    assert all(b - a >= 0.29 for a, b in zip(page_times, page_times[1:]))  # rate limit
    log = json.loads((out / ".crawl-log.json").read_text())
    assert log == result


def test_crawled_folder_is_indexable_with_page_urls(server, tmp_path):
    out = tmp_path / "pages"
    crawl(f"{server}/sitemap.xml", out, delay=0.0, log=lambda m: None, allow_networks=LOOPBACK)
    pages, skipped = load_folder(out)
    assert skipped == []
    by_id = {p.page_id: p for p in pages}
    assert by_id["tenester-legevakt"].url == f"{server}/tenester/legevakt.html"
    assert by_id["tenester-legevakt"].title == "Legevakt" and by_id["tenester-legevakt"].lang == "nn"
    assert by_id["tenester-bibliotek"].lang == "nb"
    assert "informasjonskapslar" not in by_id["tenester-legevakt"].markdown


def test_sitemap_from_a_file_and_bad_sitemaps(server, tmp_path, capsys):
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_text((SITE / "sitemap.xml").read_text().replace("{BASE}", server))
    assert cli_main(["crawl", "--sitemap", str(sitemap), "--out", str(tmp_path / "a"), "--delay", "0",
                     "--limit", "1", "--allow-network", "127.0.0.0/8"]) == 0
    assert "Saved 1 page(s)" in capsys.readouterr().out
    (tmp_path / "broken.xml").write_text("<urlset><url>")
    assert cli_main(["crawl", "--sitemap", str(tmp_path / "broken.xml"), "--out", str(tmp_path / "b")]) == 1
    assert "cannot read the sitemap" in capsys.readouterr().err
    assert cli_main(["crawl", "--sitemap", f"{server}/missing.xml", "--out", str(tmp_path / "c"),
                     "--allow-network", "127.0.0.0/8"]) == 1
    assert "cannot fetch the sitemap" in capsys.readouterr().err


def test_unreachable_pages_are_skipped_not_fatal(tmp_path):
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_text('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                       "<url><loc>http://127.0.0.1:9/side.html</loc></url></urlset>")
    result = crawl(str(sitemap), tmp_path / "out", delay=0, timeout=2, log=lambda m: None, allow_networks=LOOPBACK)
    assert result["fetched"] == [] and result["skipped"][0]["reason"].startswith("request failed")


def test_file_names_follow_url_paths():
    assert filename_for("https://x.no/") == "index.html"
    assert filename_for("https://x.no/helse/legevakt/") == "helse-legevakt.html"
    assert filename_for("https://x.no/a/b.aspx?id=3") == "a-b-id-3.html"


# -- where the crawler must not go (issue 14) ---------------------------------------------------

class Recorder(SimpleHTTPRequestHandler):
    """Serves a few special paths and records every request it gets."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.end_headers()
        elif self.path == "/huge.html":  # an endless page, chunk by chunk
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(10_000):  # up to 640 MB
                    self.wfile.write(b"<p>" + b"x" * 65_530 + b"</p>")
                    self.server.sent += 65_537
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/announced-huge.html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(500_000_000))
            self.end_headers()
        else:
            body = b"<html><head><title>Hemmeleg</title></head><body><p>Intern side.</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


def recorder(address: str):
    httpd = ThreadingHTTPServer((address, 0), Recorder)
    httpd.requests, httpd.sent = [], 0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture()
def site():
    """A 'public' site on 127.0.0.1 (allowed by network in these tests) and an 'internal'
    one on 127.0.0.2 (loopback, never allowed)."""
    public, internal = recorder("127.0.0.1"), recorder("127.0.0.2")
    yield public, internal
    for httpd in (public, internal):
        httpd.shutdown()
        httpd.server_close()


def sitemap_file(tmp_path, *urls: str):
    path = tmp_path / "sitemap.xml"
    path.write_text('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    + "".join(f"<url><loc>{u}</loc></url>" for u in urls) + "</urlset>")
    return str(path)


def test_sitemap_entries_for_internal_addresses_are_refused_after_dns(site, tmp_path):
    public, internal = site
    port = internal.server_address[1]
    urls = [f"http://127.0.0.2:{port}/admin.html",             # loopback
            f"http://localhost:{port}/admin.html",             # a name that resolves to loopback
            "http://169.254.169.254/latest/meta-data/",        # cloud metadata (link-local)
            "http://10.1.2.3/intranett.html", "http://[::1]:1/x.html", "http://0.0.0.0:1/x.html"]
    hosts = ["127.0.0.2", "localhost", "169.254.169.254", "10.1.2.3", "::1", "0.0.0.0"]
    started = time.monotonic()
    result = crawl(sitemap_file(tmp_path, *urls), tmp_path / "out", delay=0, timeout=2, log=lambda m: None,
                   allow_hosts=hosts)
    assert result["fetched"] == []
    reasons = [s["reason"] for s in result["skipped"]]
    assert len(reasons) == len(urls) and all(r.startswith("refused:") for r in reasons), reasons
    assert all("loopback, private, link-local" in r for r in reasons), reasons
    assert internal.requests == [] and public.requests == []
    assert time.monotonic() - started < 5  # refused before connecting, not after a timeout


def test_hosts_outside_the_allow_list_are_refused(site, tmp_path):
    public, _ = site
    base = f"http://127.0.0.1:{public.server_address[1]}"
    result = crawl(sitemap_file(tmp_path, f"{base}/side.html", f"http://localhost:{public.server_address[1]}/x.html",
                                "https://www.example.org/side.html"),
                   tmp_path / "out", delay=0, log=lambda m: None, allow_networks=["127.0.0.1/32"])
    assert [f["url"] for f in result["fetched"]] == [f"{base}/side.html"]
    assert [s["reason"].split(" (")[0] for s in result["skipped"]] == [
        "refused: host localhost is not allowed", "refused: host www.example.org is not allowed"]


def test_redirects_are_checked_at_every_hop(site, tmp_path):
    public, internal = site
    base = f"http://127.0.0.1:{public.server_address[1]}"
    inside = f"http://127.0.0.2:{internal.server_address[1]}/hemmeleg.html"
    urls = [f"{base}/redirect?to={inside}",                                       # to a loopback address
            f"{base}/redirect?to=http://169.254.169.254/latest/meta-data/",       # to cloud metadata
            f"{base}/redirect?to=http://www.example.org/",                        # to another host
            f"{base}/redirect?to=/redirect?to=/redirect?to=/redirect?to=/redirect?to=/redirect?to=/side.html",
            f"{base}/redirect?to=/side.html"]                                      # a normal redirect
    result = crawl(sitemap_file(tmp_path, *urls), tmp_path / "out", delay=0, timeout=2, log=lambda m: None,
                   allow_hosts=["127.0.0.2", "169.254.169.254"], allow_networks=["127.0.0.1/32"])
    assert internal.requests == [], "a redirect reached an internal address"
    reasons = [s["reason"] for s in result["skipped"]]
    assert "loopback, private, link-local" in reasons[0] and "loopback, private, link-local" in reasons[1]
    assert "host www.example.org is not allowed" in reasons[2]
    assert "more than 5 redirects" in reasons[3]
    assert [f["url"] for f in result["fetched"]] == [urls[4]]


def test_big_pages_are_cut_off_while_streaming(site, tmp_path):
    public, _ = site
    base = f"http://127.0.0.1:{public.server_address[1]}"
    started = time.monotonic()
    result = crawl(sitemap_file(tmp_path, f"{base}/huge.html", f"{base}/announced-huge.html"), tmp_path / "out",
                   delay=0, timeout=10, log=lambda m: None, allow_networks=["127.0.0.1/32"])
    assert [s["reason"] for s in result["skipped"]] == ["refused: larger than 5 MB"] * 2
    time.sleep(0.5)
    assert public.sent < 20_000_000, f"the crawler kept reading: {public.sent} bytes sent"
    assert time.monotonic() - started < 30


def test_private_networks_can_be_allowed_on_purpose(site, tmp_path):
    _, internal = site
    url = f"http://127.0.0.2:{internal.server_address[1]}/intranett.html"
    result = crawl(sitemap_file(tmp_path, url), tmp_path / "out", delay=0, log=lambda m: None,
                   allow_networks=["127.0.0.2/32"])
    assert [f["url"] for f in result["fetched"]] == [url]

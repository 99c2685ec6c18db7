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
    result = crawl(f"{server}/sitemap.xml", out, delay=0.3, log=lambda m: None)
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
    crawl(f"{server}/sitemap.xml", out, delay=0.0, log=lambda m: None)
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
                     "--limit", "1"]) == 0
    assert "Saved 1 page(s)" in capsys.readouterr().out
    (tmp_path / "broken.xml").write_text("<urlset><url>")
    assert cli_main(["crawl", "--sitemap", str(tmp_path / "broken.xml"), "--out", str(tmp_path / "b")]) == 1
    assert "cannot read the sitemap" in capsys.readouterr().err
    assert cli_main(["crawl", "--sitemap", f"{server}/missing.xml", "--out", str(tmp_path / "c")]) == 1
    assert "cannot fetch the sitemap" in capsys.readouterr().err


def test_unreachable_pages_are_skipped_not_fatal(tmp_path):
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_text('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                       "<url><loc>http://127.0.0.1:9/side.html</loc></url></urlset>")
    result = crawl(str(sitemap), tmp_path / "out", delay=0, timeout=2, log=lambda m: None)
    assert result["fetched"] == [] and result["skipped"][0]["reason"].startswith("request failed")


def test_file_names_follow_url_paths():
    assert filename_for("https://x.no/") == "index.html"
    assert filename_for("https://x.no/helse/legevakt/") == "helse-legevakt.html"
    assert filename_for("https://x.no/a/b.aspx?id=3") == "a-b-id-3.html"

"""Ingestion: Markdown with/without front matter, messy saved HTML, bad inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.knowledge.documents import load_folder, load_page
from bot.knowledge.html_extract import extract
from tests.knowledge_support import SITE


def test_markdown_with_front_matter():
    page = load_page(SITE / "nn" / "byggjeloyve.md", SITE)
    assert page.page_id == "byggjeloyve"
    assert page.title == "Søkje om byggjeløyve"
    assert page.url == "https://www.example-kommune.no/bygg/byggjeloyve/"
    assert page.lang == "nn"
    assert page.meta["topic"] == "byggjesak"
    assert not page.markdown.startswith("---")
    assert page.checksum == hashlib.sha256((SITE / "nn" / "byggjeloyve.md").read_bytes()).hexdigest()


def test_markdown_without_front_matter_takes_title_heading_and_folder_language():
    page = load_page(SITE / "nb" / "svommehall.md", SITE)
    assert page.title == "Svømmehallen"
    assert page.url == "nb/svommehall.md"
    assert page.lang == "nb"


def test_markdown_language_falls_back_to_detection(tmp_path):
    (tmp_path / "side.md").write_text("# Opningstider\n\nKva tid er kontoret ope? Me er opne kvar dag frå "
                                      "klokka ni. Du kan òg sende oss ein e-post, så svarar me innan tre dagar.\n")
    page = load_page(tmp_path / "side.md", tmp_path)
    assert page.lang in ("nn", None)  # None only when the detector is unsure


def test_messy_html_keeps_only_the_main_text():
    page = load_page(SITE / "legevakt.html", SITE)
    assert page.title == "Legevakt"
    assert page.url == "https://www.example-kommune.no/helse/legevakt/"
    assert page.lang == "nn"
    text = page.markdown
    assert "116 117" in text and "Ved fare for liv og helse" in text
    assert "## Kvar er legevakta?" in text
    assert "Legevakta hjelper deg når fastlegen er stengd." in text
    assert "inngang B. Det er gratis parkering" in text  # <br> keeps the words apart
    for noise in ("informasjonskapslar", "Godta alle", "Hovudmeny", "Skule og barnehage", "Søk på nettstaden",
                  "Heim", "Snarvegar", "Del på Facebook", "Organisasjonsnummer", "Sist oppdatert",
                  "JavaScript", "dataLayer", "color: red", "Hopp til"):
        assert noise not in text, noise


def test_html_without_main_canonical_or_h1():
    html = ("<html><head><title>Vatn og avløp – Example kommune</title></head><body>"
            "<nav><a href='/'>Heim</a></nav><div class='content'><p>Vatnet blir stengt tysdag.</p>"
            "<table><tr><th>Dag</th><td>Tysdag</td></tr></table></div><footer>Kontakt</footer></body></html>")
    page = extract(html)
    assert page.title == "Vatn og avløp"
    assert page.canonical is None and page.lang is None
    assert "Vatnet blir stengt tysdag." in page.markdown and "Tysdag" in page.markdown
    assert "Heim" not in page.markdown and "Kontakt" not in page.markdown


def test_bad_inputs_are_skipped_with_reasons(tmp_path, monkeypatch):
    (tmp_path / "ok.md").write_text("# Side\n\nTekst her.\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "bilde.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "tom.html").write_text("<html><body><nav>Meny</nav><script>x()</script></body></html>")
    (tmp_path / "bare-front-matter.md").write_text("---\ntitle: Tom\n---\n\n", encoding="utf-8")
    (tmp_path / "broken.md").write_text("---\ntitle: [unclosed\n---\nTekst\n", encoding="utf-8")
    (tmp_path / "locked.md").write_text("# Låst\n\nTekst.\n", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("# Skjult\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# Om mappa\n\nKorleis sidene er skrivne.\n", encoding="utf-8")
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.md":  # tests run as root, where chmod 000 does not stop reading
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    pages, skipped = load_folder(tmp_path)
    assert [p.source for p in pages] == ["ok.md"]
    reasons = {s.source: s.reason for s in skipped}
    assert reasons.pop("broken.md").startswith("front matter is not valid YAML")
    assert reasons == {
        "bare-front-matter.md": "no text on the page",
        "bilde.png": "unsupported file type '.png' (use .md or .html)",
        "binary.md": "binary file (contains NUL bytes)",
        "empty.md": "empty file",
        "locked.md": "cannot be read (permission denied)",
        "README.md": "a README documents the folder; it is not a page",
        "tom.html": "no text on the page",
    }


def test_windows_1252_text_is_read(tmp_path):
    (tmp_path / "gammal.md").write_bytes("# Gamal side\n\nSøknad om løyve.\n".encode("cp1252"))
    page = load_page(tmp_path / "gammal.md", tmp_path)
    assert "Søknad om løyve." in page.markdown


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_folder(tmp_path / "finst-ikkje")

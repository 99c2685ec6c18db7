"""Common pages every municipality gets, local pages that override them, and one index
per municipality (`bin/kommunebot index`, `Searcher.load(slug)`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.knowledge import store
from bot.knowledge.index_build import build_index, load_sources
from bot.knowledge.search import Searcher
from tests.knowledge_support import model_dir
from tests.test_municipalities import ALVER, bokmal_profile, write_profiles

LEGEVAKT_COMMON = """---
title: Legevakt – ring 116 117
url: https://www.helsenorge.no/legevakt/
lang: {lang}
---

# Legevakt

{text}
"""

LEGEVAKT_LOCAL = """---
title: Legevakta i Testby
url: https://www.testby.kommune.no/legevakt/
lang: nb
overrides: {overrides}
---

# Legevakta i Testby

Legevakta i Testby ligger på Storgata 5 og har åpent hele døgnet. Ring 116 117 før du kommer.
Ved livstruende sykdom eller skade ringer du 113.
"""

COMMON_TEXT = {
    "nn": "Legevakta hjelper deg når fastlegen er stengd. Ring 116 117, så kjem du til legevakta der du er.",
    "nb": "Legevakten hjelper deg når fastlegen er stengt. Ring 116 117, så kommer du til legevakten der du er.",
}


def page(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def content(tmp_path):
    """knowledge/common/ with a national page (nn + nb) and two municipalities' pages."""
    root = tmp_path / "knowledge"
    for lang in ("nn", "nb"):
        page(root / "common" / lang / "legevakt.md", LEGEVAKT_COMMON.format(lang=lang, text=COMMON_TEXT[lang]))
        page(root / "common" / lang / "nav.md", f"---\ntitle: NAV\nurl: https://www.nav.no/\nlang: {lang}\n---\n\n"
             "# NAV\n\nNAV tek seg av dagpengar og sjukepengar. Ring 55 55 33 33.\n")
    page(root / "testby" / "nb" / "legevakta-i-testby.md", LEGEVAKT_LOCAL.format(overrides="legevakt"))
    page(root / "alver" / "nn" / "kontakt.md", "---\ntitle: Kontakt\nurl: https://www.alver.kommune.no/kontakt/\n"
         "lang: nn\n---\n\n# Kontakt\n\nRing Alver kommune på 56 37 50 00.\n")
    return root


def test_a_local_page_overrides_the_common_page_it_names_in_every_standard(content):
    notes: list[str] = []
    pages, _ = load_sources([content / "common", content / "testby"], log=notes.append)
    ids = {(p.page_id, p.lang): p for p in pages}
    assert ("legevakt", "nn") not in ids and ("legevakt", "nb") not in ids
    local = ids[("legevakta-i-testby", "nb")]
    assert local.url == "https://www.testby.kommune.no/legevakt/"
    assert local.source == "testby/nb/legevakta-i-testby.md"        # answers show where a page came from
    assert ids[("nav", "nn")].source == "common/nn/nav.md"           # other common pages stay
    assert any("overridden by" in n and "legevakt" in n for n in notes)


def test_a_local_page_with_the_same_slug_replaces_the_common_one(content):
    page(content / "alver" / "nn" / "nav.md", "---\ntitle: NAV Alver\nurl: https://www.nav.no/alver\nlang: nn\n---\n\n"
         "# NAV Alver\n\nNAV Alver held til i Knarvik.\n")
    pages, _ = load_sources([content / "common", content / "alver"], log=lambda m: None)
    navs = [p for p in pages if p.page_id == "nav"]
    assert [(p.lang, p.url) for p in navs] == [("nn", "https://www.nav.no/alver")]


def test_an_override_of_a_page_nobody_has_is_reported(content):
    page(content / "testby" / "nb" / "legevakta-i-testby.md", LEGEVAKT_LOCAL.format(overrides="[legevakt, brann]"))
    notes: list[str] = []
    load_sources([content / "common", content / "testby"], log=notes.append)
    assert any("overrides 'brann', but no earlier folder has a page 'brann'" in n for n in notes)


def test_each_municipality_gets_its_own_index_and_answers_cite_its_page(content, tmp_path, monkeypatch):
    folder = write_profiles(tmp_path / "municipalities", alver=ALVER, testby=bokmal_profile())
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITIES_DIR", str(folder))
    monkeypatch.setenv("KOMMUNEBOT_KNOWLEDGE_DIR", str(content))
    monkeypatch.setenv("KOMMUNEBOT_INDEX_DIR", str(tmp_path / "indexes"))
    monkeypatch.setenv("KOMMUNEBOT_EMBEDDING_MODEL", str(model_dir()))
    monkeypatch.delenv("KOMMUNEBOT_MUNICIPALITY_FILE", raising=False)
    monkeypatch.delenv("KOMMUNEBOT_COMMON_KNOWLEDGE_DIR", raising=False)
    assert cli_main(["index", "--quiet"]) == 0
    for slug in ("alver", "testby"):
        assert (tmp_path / "indexes" / slug / store.MANIFEST).is_file()
    testby = Searcher.load("testby")
    hits = testby.search("Hvor er legevakten?", k=3, lang="nb")
    assert hits[0].url == "https://www.testby.kommune.no/legevakt/"
    assert all("helsenorge" not in p.url for p in testby.passages)      # the common page is overridden
    alver = Searcher.load("alver")
    assert {p.url for p in alver.passages} >= {"https://www.helsenorge.no/legevakt/",
                                               "https://www.alver.kommune.no/kontakt/"}
    assert all("testby" not in p.url for p in alver.passages)          # no other municipality's pages
    assert testby.embedder is alver.embedder                           # one embedding model per process


def test_one_folder_index_still_works(content, tmp_path):
    """`bin/kommunebot index --source DIR --out DIR` (a deployment outside the checkout)."""
    report = build_index(content / "alver", tmp_path / "one", str(model_dir()), log=lambda m: None, progress=False)
    assert report.manifest["counts"]["pages"] == 1

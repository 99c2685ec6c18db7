"""Alver's knowledge pages (knowledge/alver/) and the question sets that refer to them.

These checks keep content edits honest: every page has the front matter the index and
the answers rely on, human-written pages come in both written standards (or are listed
as Nynorsk-only and left to Apertium), and the test questions point at pages that exist
and hold the fact they expect.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from bot.language import detect

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
ALVER = KNOWLEDGE / "alver"  # the question sets in tests/data are about Alver
DATA = ROOT / "tests" / "data"
REQUIRED = ("title", "url", "lang", "topic", "checked", "source")


def _front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert match, f"{path.relative_to(ROOT)}: no YAML front matter between '---' lines"
    return yaml.safe_load(match.group(1)), match.group(2)


def _pages(lang: str) -> dict[str, Path]:
    return {p.stem: p for p in sorted((ALVER / lang).glob("*.md"))}


NN, NB = _pages("nn"), _pages("nb")


def test_there_are_at_least_40_pages_in_each_standard_once_converted():
    assert len(NN) >= 40
    assert len(set(NN) | set(NB)) >= 40


@pytest.mark.parametrize("path", list(NN.values()) + list(NB.values()), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_page_has_complete_front_matter_in_its_folder_language(path: Path):
    meta, body = _front_matter(path)
    missing = [key for key in REQUIRED if not meta.get(key)]
    assert not missing, f"{path.name}: front matter lacks {missing}"
    assert meta["lang"] == path.parent.name
    assert str(meta["url"]).startswith("https://")
    assert isinstance(meta["checked"], dt.date | str)
    assert len(body.split()) >= 40, f"{path.name}: the page has almost no text"


def test_bokmal_pages_are_translations_of_nynorsk_pages():
    assert set(NB) <= set(NN), f"Bokmål pages without a Nynorsk original: {sorted(set(NB) - set(NN))}"


def test_nynorsk_only_pages_are_listed_in_the_readme():
    readme = (KNOWLEDGE / "README.md").read_text(encoding="utf-8")
    for slug in set(NN) - set(NB):
        assert slug in readme, f"{slug} exists only in Nynorsk but knowledge/README.md does not say so"


@pytest.mark.parametrize("lang", ["nn", "nb"])
def test_pages_are_written_in_their_standard(lang: str):
    pages = NN if lang == "nn" else NB
    wrong = []
    for slug, path in pages.items():
        _, body = _front_matter(path)
        found = detect(body)
        if found.lang not in (lang, None):
            wrong.append(slug)
    assert not wrong, f"pages in knowledge/{lang} detected as the other standard: {wrong}"


@pytest.mark.parametrize("name", ["search_dev.yml", "search_holdout.yml"])
def test_retrieval_questions_point_at_existing_pages(name: str):
    questions = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["questions"]
    assert questions
    for q in questions:
        assert q["lang"] in ("nn", "nb")
        for slug in q["pages"]:
            assert slug in NN, f"{name}: {q['text']!r} points at unknown page {slug}"


def test_conversation_questions_expect_a_fact_that_their_page_holds():
    questions = yaml.safe_load((DATA / "conversation_questions.yml").read_text(encoding="utf-8"))["questions"]
    for lang in ("nn", "nb"):
        assert sum(q["lang"] == lang for q in questions) >= 40
    for q in questions:
        pages = NN if q["lang"] == "nn" else NB
        path = pages.get(q["page"]) or NN[q["page"]]
        _, body = _front_matter(path)
        assert re.search(q["expect"], body, re.I), f"{q['page']} does not contain {q['expect']!r}"

"""A long-passage retrieval set in news style, where BM25 matters (for bench.serving).

Built once, deterministically, from the Bokmål–Nynorsk parallel news and public-sector
sentences that the language detector is trained on (Språkbanken's translation memories
as published in ltgoslo/norbench, MIT-licensed repository), and committed as
tests/data/search_news.yml so the benchmark does not need that folder:

- 60 "articles" of 10 sentences each (about 200 words, far longer than the municipal
  passages), in Bokmål and, from the parallel sentences, in Nynorsk: one page each;
- one question per article: 5 to 8 consecutive words from the middle of one of its
  sentences (never the first), in the other standard for every second question, so
  names, numbers and rare words carry the search (what BM25 is good at), not the opening
  of the passage.

Run: python -m bench.news --build [--data ../shared/data/nb_nn]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import yaml

from bot.config import ROOT

OUT = ROOT / "tests" / "data" / "search_news.yml"
ARTICLES = 60
SENTENCES = 10
SEED = 13


def build(data: Path) -> dict:
    pairs = []
    for line in (data / "dev.tsv").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and 12 <= len(parts[0].split()) <= 40 and 10 <= len(parts[1].split()) <= 40:
            pairs.append((parts[0].strip(), parts[1].strip()))
    rng = random.Random(SEED)
    rng.shuffle(pairs)
    articles, questions = [], []
    for a in range(ARTICLES):
        chunk = pairs[a * SENTENCES:(a + 1) * SENTENCES]
        slug = f"nyhet-{a + 1:02d}"
        nb = [p[0] for p in chunk]
        nn = [p[1] for p in chunk]
        articles.append({"slug": slug, "nb": {"title": " ".join(nb[0].split()[:6]), "text": " ".join(nb)},
                         "nn": {"title": " ".join(nn[0].split()[:6]), "text": " ".join(nn)}})
        lang = "nn" if a % 2 else "nb"
        sentence = (nn if lang == "nn" else nb)[rng.randrange(1, SENTENCES)]
        words = sentence.rstrip(".!?»").split()
        size = min(len(words), rng.randint(5, 8))
        start = rng.randrange(0, max(1, len(words) - size))
        # the question asks in the other standard than the sentence it comes from every second time
        if a % 4 in (1, 2):
            other = (nb if lang == "nn" else nn)[(nn if lang == "nn" else nb).index(sentence)]
            words = other.rstrip(".!?»").split()
            start = min(start, max(0, len(words) - size))
            lang = "nb" if lang == "nn" else "nn"
        questions.append({"text": " ".join(words[start:start + size]).strip(" ,;:«»"), "lang": lang, "pages": [slug]})
    return {"articles": articles, "questions": questions}


def write_pages(data: dict, folder: Path) -> None:
    """The articles as Markdown pages (knowledge/<lang>/<slug>.md layout) under `folder`."""
    for article in data["articles"]:
        for lang in ("nb", "nn"):
            page = article[lang]
            path = folder / lang / f"{article['slug']}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"---\ntitle: {page['title']!r}\nurl: https://example.org/{lang}/{article['slug']}\n---\n\n"
                            f"{page['text']}\n", encoding="utf-8")


def load() -> dict:
    return yaml.safe_load(OUT.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="write tests/data/search_news.yml")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "nb_nn"))
    args = parser.parse_args(argv)
    if not args.build:
        parser.print_help()
        return 0
    data = build(Path(args.data))
    header = ("# Long-passage news-style retrieval set (bench/news.py builds it; bench.serving measures it).\n"
              "# Sentences: Språkbanken translation memories (Nynorsk pressekontor, Målfrid) as published in\n"
              "# ltgoslo/norbench (MIT-licensed repository). Each article is 10 unrelated news sentences.\n")
    OUT.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    print(f"news: wrote {OUT} ({len(data['articles'])} articles, {len(data['questions'])} questions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

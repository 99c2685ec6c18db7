"""Commands `index` (build the knowledge index) and `search` (query it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _index(args: argparse.Namespace) -> int:
    from bot.config import settings
    from bot.knowledge.index_build import BuildError, build_index

    model = args.model or settings().embedding_model
    try:
        report = build_index(Path(args.source), Path(args.out), model, progress=not args.quiet)
    except (BuildError, FileNotFoundError) as exc:
        print(f"kommunebot index: {exc}", file=sys.stderr)
        return 1
    counts = report.manifest["counts"]
    print(f"{counts['passages']} passages from {counts['pages']} pages "
          f"({counts['machine_converted_pages']} machine-converted), {counts['skipped_files']} file(s) skipped, "
          f"{report.embedded} embedded, {report.reused} reused -> {args.out}")
    return 0


def _questions(args: argparse.Namespace) -> list[str]:
    if args.batch:
        source = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")
        with source:
            return [line.strip() for line in source if line.strip()]
    return [" ".join(args.question)] if args.question else []


def _search(args: argparse.Namespace) -> int:
    from bot.knowledge.search import Searcher
    from bot.knowledge.store import IndexProblem

    try:
        questions = _questions(args)
    except OSError as exc:
        print(f"kommunebot search: cannot read {args.batch}: {exc.strerror}", file=sys.stderr)
        return 1
    if not questions:
        print("kommunebot search: give a question, or --batch FILE with one question a line.", file=sys.stderr)
        return 2
    try:
        searcher = Searcher.load(args.index, model=args.model)
    except (IndexProblem, FileNotFoundError) as exc:
        print(f"kommunebot search: {exc}", file=sys.stderr)
        return 1
    for question in questions:
        hits = searcher.search(question, k=args.k, lang=args.lang)
        if args.json:
            print(json.dumps({"query": question, "hits": [
                {"url": h.url, "title": h.title, "heading": h.heading, "lang": h.lang, "score": h.score,
                 "text": h.text} for h in hits]}, ensure_ascii=False), flush=True)
            continue
        verdict = "answerable" if searcher.is_answerable(hits) else "below threshold"
        print(f"? {question}  ({verdict}, threshold {searcher.threshold:.2f})")
        for rank, h in enumerate(hits, 1):
            converted = ", machine-converted" if h.machine_converted else ""
            print(f"{rank}. [{h.score:.3f}] {h.title}{' > ' + h.heading if h.heading else ''} ({h.lang}{converted})")
            print(f"   {h.url}")
            text = h.text if len(h.text) <= 400 else h.text[:397] + "..."
            print("   " + text.replace("\n", "\n   "))
        if not hits:
            print("   (no hits)")
        print(flush=True)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("index", help="build the knowledge index from a folder of pages")
    p.add_argument("--source", required=True, help="folder of Markdown (.md) and saved HTML (.html) pages")
    p.add_argument("--out", required=True, help="index folder to write (rebuilt incrementally)")
    p.add_argument("--model", help="embedding model folder or name (default: KOMMUNEBOT_EMBEDDING_MODEL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_index)

    s = subparsers.add_parser("search", help="search the knowledge index")
    s.add_argument("question", nargs="*", help="the question")
    s.add_argument("--index", help="index folder (default: KOMMUNEBOT_INDEX_DIR, models/knowledge)")
    s.add_argument("-k", type=int, default=5, help="number of hits (default 5)")
    s.add_argument("--lang", choices=["nn", "nb"], help="prefer pages in this written standard")
    s.add_argument("--json", action="store_true", help="one JSON object a line")
    s.add_argument("--batch", metavar="FILE", help="questions from FILE, one a line ('-' for stdin)")
    s.add_argument("--model", help="embedding model folder or name (default: KOMMUNEBOT_EMBEDDING_MODEL)")
    s.set_defaults(func=_search)

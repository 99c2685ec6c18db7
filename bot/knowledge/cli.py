"""Commands `index` (build the knowledge index) and `search` (query it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _summary(report, out) -> str:
    counts = report.manifest["counts"]
    return (f"{counts['passages']} passages from {counts['pages']} pages "
            f"({counts['machine_converted_pages']} machine-converted), {counts['skipped_files']} file(s) skipped, "
            f"{report.embedded} embedded, {report.reused} reused -> {out}")


def _index(args: argparse.Namespace) -> int:
    from bot.config import settings
    from bot.knowledge.index_build import BuildError, build_index

    model = args.model or settings().embedding_model
    if args.source:
        if not args.out:
            print("kommunebot index: --source needs --out (the index folder to write)", file=sys.stderr)
            return 2
        try:
            report = build_index(Path(args.source), Path(args.out), model, progress=not args.quiet)
        except (BuildError, FileNotFoundError) as exc:
            print(f"kommunebot index: {exc}", file=sys.stderr)
            return 1
        print(_summary(report, args.out))
        return 0
    return _index_municipalities(args, model)


def _index_municipalities(args: argparse.Namespace, model: str) -> int:
    """Each municipality's index from knowledge/common/ + knowledge/<slug>/ into models/knowledge/<slug>/."""
    from bot.knowledge.index_build import BuildError, build_index
    from bot.service.municipalities import UnknownMunicipality, registry
    from bot.service.profile import ProfileError

    try:
        reg = registry()
        slugs = reg.slugs if args.all or not args.municipality else [reg.get(args.municipality).slug]
    except (ProfileError, UnknownMunicipality) as exc:
        print(f"kommunebot index: {exc}", file=sys.stderr)
        return 1
    cache: dict = {}  # common pages are embedded once for all municipalities
    # An index of the old one-municipality layout (models/knowledge/manifest.json) lends its vectors.
    old = [reg.index_root] if not reg.single and (reg.index_root / "manifest.json").is_file() else []
    failed = 0
    for slug in slugs:
        sources, out = reg.knowledge_dirs(slug), Path(args.out) / slug if args.out else reg.index_dir(slug)
        if not sources:  # a municipality being set up: the others are still indexed
            print(f"kommunebot index: {slug}: no pages yet, so no index: write them in {reg.local_dir(slug)}/nn/ "
                  f"and {reg.local_dir(slug)}/nb/ (see knowledge/README.md); until then the bot says it has a "
                  "technical problem when asked about content", file=sys.stderr)
            failed += 1 if args.municipality else 0
            continue
        try:
            report = build_index(sources, out, model, progress=not args.quiet, vector_cache=cache, reuse_from=old)
        except (BuildError, FileNotFoundError) as exc:
            print(f"kommunebot index: {slug}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{slug}: {_summary(report, out)}")
    return 1 if failed else 0


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
    from bot.service.municipalities import UnknownMunicipality
    from bot.service.profile import ProfileError

    try:
        searcher = Searcher.load(args.index or args.municipality, model=args.model)
    except (IndexProblem, FileNotFoundError, UnknownMunicipality, ProfileError) as exc:
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
    p = subparsers.add_parser(
        "index", help="build the knowledge index from a folder of pages",
        description="Without --source: the index of every municipality (or --municipality SLUG) from "
                    "knowledge/common/ and knowledge/<slug>/ into models/knowledge/<slug>/.")
    p.add_argument("--source", help="folder of Markdown (.md) and saved HTML (.html) pages")
    p.add_argument("--out", help="index folder to write (rebuilt incrementally); with municipalities, the "
                                 "folder that gets one <slug>/ index each")
    p.add_argument("--municipality", metavar="SLUG", help="index only this municipality")
    p.add_argument("--all", action="store_true", help="index every municipality (the default without --source)")
    p.add_argument("--model", help="embedding model folder or name (default: KOMMUNEBOT_EMBEDDING_MODEL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_index)

    s = subparsers.add_parser("search", help="search the knowledge index")
    s.add_argument("question", nargs="*", help="the question")
    s.add_argument("--index", help="index folder (default: the municipality's, models/knowledge/<slug>)")
    s.add_argument("--municipality", metavar="SLUG", help="search this municipality's index (default: the default one)")
    s.add_argument("-k", type=int, default=5, help="number of hits (default 5)")
    s.add_argument("--lang", choices=["nn", "nb"], help="prefer pages in this written standard")
    s.add_argument("--json", action="store_true", help="one JSON object a line")
    s.add_argument("--batch", metavar="FILE", help="questions from FILE, one a line ('-' for stdin)")
    s.add_argument("--model", help="embedding model folder or name (default: KOMMUNEBOT_EMBEDDING_MODEL)")
    s.set_defaults(func=_search)

"""Building the search index from a folder of pages (command `index`).

Several folders make one index (a municipality's: `knowledge/common/` then
`knowledge/<slug>/`); a page of a later folder overrides a page of an earlier one with
the same slug, or the one its front matter names (`overrides: <slug>` or a list).

Pages -> (Apertium conversion of pages that exist in one standard only) -> passages ->
embeddings (reused from the previous build when the passage and model are unchanged) ->
FAISS + BM25 terms + manifest.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from bot.knowledge import store
from bot.knowledge.bm25 import terms
from bot.knowledge.chunking import chunk_page
from bot.knowledge.documents import STANDARDS, Page, Skipped, load_folder
from bot.knowledge.embedding import Embedder
from bot.knowledge.sentence_vectors import texts_for

Log = Callable[[str], None]


class BuildError(Exception):
    """The index cannot be built; the message says why and what to do."""


@dataclass
class BuildReport:
    manifest: dict
    skipped: list[Skipped]
    reused: int
    embedded: int
    notes: list[str] = field(default_factory=list)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _load_converter():
    """`bot.language.apertium.convert`, or None with the reason."""
    try:
        from bot.language.apertium import convert_detailed
    except ImportError as exc:
        return None, f"Apertium conversion unavailable ({exc})"
    return convert_detailed, None


_MARKUP = re.compile(r"^(\s*(?:#{1,6}\s+|[-*+]\s+|\d+\.\s+)?)(.*)$")


def convert_missing_standards(pages: list[Page], cache: dict[str, str], log: Log) -> tuple[list[Page], list[str]]:
    """Machine-converted copies (nn <-> nb) of pages that exist in one standard only.

    Human-written pages always win: a page_id present in both standards is never converted.
    Lines go to Apertium in one batch per target, with markup prefixes kept aside. A line
    Apertium cannot convert keeps its source text (and is not cached, so the next build
    tries again); the rest of the page, and every other page, is converted."""
    present: dict[str, set[str]] = {}
    for page in pages:
        present.setdefault(page.page_id, set()).add(page.lang or "")
    todo = [(p, t) for p in pages if p.lang in STANDARDS
            for t in STANDARDS if t != p.lang and t not in present[p.page_id]]
    if not todo:
        return [], []
    convert, problem = _load_converter()
    if convert is None:
        return [], [f"{problem}: {len(todo)} page(s) that exist in one standard only "
                    "are indexed in that standard only."]
    # Split each page into (prefix, text) lines; the title is line 0.
    plans = []
    for page, target in todo:
        lines: list[tuple[str, str]] = [("", page.title)]
        for line in page.markdown.splitlines():
            found = _MARKUP.match(line)
            lines.append((found.group(1), found.group(2)) if found else ("", line))
        plans.append((page, target, lines))
    notes: list[str] = []
    for target in STANDARDS:
        wanted = sorted({text for _, t, lines in plans if t == target for _, text in lines
                         if text.strip() and _key(target, text) not in cache})
        if wanted:
            log(f"Converting {len(wanted)} line(s) to {target} with Apertium ...")
            try:
                outputs = convert(wanted, target)
            except Exception as exc:  # missing binary or pair: index without the copies
                return [], [f"Apertium conversion failed ({exc}); pages in one standard only are not converted."]
            kept = [src for src, out in zip(wanted, outputs) if not out.converted]
            cache.update({_key(target, src): out.text for src, out in zip(wanted, outputs) if out.converted})
            if kept:
                sample = "; ".join(repr(line[:60]) for line in kept[:3])
                notes.append(f"Apertium could not convert {len(kept)} of {len(wanted)} line(s) to {target}; "
                             f"they keep their source text ({sample}{' ...' if len(kept) > 3 else ''}).")
    converted = []
    for page, target, lines in plans:
        text = [prefix + (cache.get(_key(target, body), body) if body.strip() else body) for prefix, body in lines]
        converted.append(replace(page, title=text[0], markdown="\n".join(text[1:]), lang=target,
                                 machine_converted=True, meta={**page.meta, "converted_from": page.lang}))
    return converted, notes


def _overridden(page: Page) -> set[str]:
    """The page slugs a page replaces: its own, and those its front matter's `overrides` names."""
    named = page.meta.get("overrides") if isinstance(page.meta, dict) else None
    names = named if isinstance(named, list) else [named] if named else []
    return {page.page_id} | {str(n).strip() for n in names if str(n).strip()}


def load_sources(sources: list[Path], log: Log = _stderr) -> tuple[list[Page], list[Skipped]]:
    """Pages of several folders, later folders overriding earlier ones (see the module doc).

    With more than one folder, each page's `source` is prefixed with its folder's name
    ("common/nn/legevakt.md", "alver/nn/kontakt-oss.md"), so answers show where they came from."""
    pages: list[Page] = []
    skipped: list[Skipped] = []
    for folder in sources:
        if not folder.is_dir():
            raise BuildError(f"Source folder {folder} does not exist. Point --source at a folder of .md/.html pages.")
        found, missed = load_folder(folder)
        if len(sources) > 1:
            for page in found:
                page.source = f"{folder.name}/{page.source}"
            for item in missed:
                item.source = f"{folder.name}/{item.source}"
        replaced = set().union(*(_overridden(p) for p in found)) if found else set()
        earlier = {p.page_id for p in pages}
        for name in sorted(replaced - earlier - {p.page_id for p in found}):
            log(f"Note: a page in {folder} overrides {name!r}, but no earlier folder has a page {name!r}.")
        dropped = [p for p in pages if p.page_id in replaced]
        if dropped:
            log(f"{len({p.page_id for p in dropped})} page(s) of earlier folders overridden by {folder}: "
                + ", ".join(sorted({p.page_id for p in dropped})))
        pages = [p for p in pages if p.page_id not in replaced] + found
        skipped += missed
    return pages, skipped


def build_index(source: Path | list[Path], out: Path, model: str, log: Log = _stderr, progress: bool = True,
                vector_cache: dict[str, np.ndarray] | None = None,
                reuse_from: tuple[Path, ...] | list[Path] = (), excerpt_vectors: bool = True) -> BuildReport:
    """Build (or incrementally rebuild) the index of `source` (a folder, or folders where
    later ones override earlier ones) into `out`. `vector_cache` (passage or sentence key
    -> vector) lends vectors between builds, e.g. common pages shared by many
    municipalities; `reuse_from` are other index folders whose vectors may be reused.
    Without `excerpt_vectors` the excerpt sentences' vectors are not computed (a
    search-only index)."""
    start = time.perf_counter()
    sources = [Path(s) for s in source] if isinstance(source, list | tuple) else [Path(source)]
    if not sources:
        raise BuildError("No source folders to index. Add pages under knowledge/.")
    pages, skipped = load_sources(sources, log)
    for item in skipped:
        log(f"Skipped {item.source}: {item.reason}")
    where = ", ".join(str(s) for s in sources)
    if not pages:
        why = f" ({len(skipped)} file(s) skipped, see above)" if skipped else ""
        raise BuildError(f"No pages to index in {where}{why}. Add Markdown (.md) or saved HTML (.html) pages.")
    log(f"Read {len(pages)} page(s) from {where}.")

    conversions = store.read_conversions(out)
    converted, notes = convert_missing_standards(pages, conversions, log)
    for note in notes:
        log(note)
    if converted:
        log(f"Added {len(converted)} machine-converted page(s) for pages that exist in one standard only.")
    all_pages = pages + converted

    log(f"Loading the embedding model {model} ...")
    embedder = Embedder.load(model)
    identity = embedder.identity()
    model_key = repr(sorted(identity.items()))

    passages: list[store.StoredPassage] = []
    embed_texts: dict[str, str] = {}  # key -> text to embed
    for page in all_pages:
        for p in chunk_page(page.page_id, page.title, page.markdown, embedder.max_tokens, embedder.count_tokens):
            key = _key(model_key, p.embed_text)
            embed_texts[key] = p.embed_text
            passages.append(store.StoredPassage(
                page_id=p.page_id, position=p.position, title=p.title, heading=p.heading, text=p.text,
                url=page.url, lang=page.lang, source=page.source, machine_converted=page.machine_converted,
                key=key, terms=" ".join(terms(p.embed_text))))
    log(f"Split into {len(passages)} passage(s).")

    vectors_by_key = _previous_vectors(out, identity)
    for other in reuse_from:
        vectors_by_key = {**_previous_vectors(Path(other), identity), **vectors_by_key}
    if vector_cache:
        vectors_by_key.update({k: vector_cache[k] for k in embed_texts
                               if k in vector_cache and k not in vectors_by_key})
    missing = [key for key in embed_texts if key not in vectors_by_key]
    reused = len(embed_texts) - len(missing)
    log(f"Embedding {len(missing)} new passage(s); reusing {reused} unchanged.")
    if missing:
        new_vectors = embedder.encode_passages([embed_texts[k] for k in missing], progress=progress)
        vectors_by_key.update(zip(missing, new_vectors))
    vectors: np.ndarray = (np.stack([vectors_by_key[p.key] for p in passages]) if passages
               else np.zeros((0, embedder.dimension), np.float32)).astype(np.float32)
    if vector_cache is not None:
        vector_cache.update({key: vectors_by_key[key] for key in embed_texts})
    sentences = (_sentence_table(out, passages, embedder, model_key, log, progress, vector_cache, reuse_from)
                 if excerpt_vectors else store.SentenceTable([], [], np.zeros((0, embedder.dimension), np.float32)))

    index_type = store.index_type_for(len(passages))
    manifest = {
        "format_version": store.FORMAT_VERSION,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": identity,
        "model_setting": model,
        "dimension": embedder.dimension,
        "index_type": index_type,
        "counts": {
            "pages": len(pages),
            "machine_converted_pages": len(converted),
            "passages": len(passages),
            "excerpt_sentences": len(sentences.texts),
            "passages_by_lang": {lang or "unknown": sum(1 for p in passages if p.lang == lang)
                                 for lang in sorted({p.lang for p in passages}, key=str)},
            "skipped_files": len(skipped),
        },
        "sources": {page.source: page.checksum for page in pages},
        "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
        "notes": notes,
        "build_seconds": round(time.perf_counter() - start, 2),
    }
    store.write_index(out, manifest, passages, vectors, conversions, sentences)
    log(f"Index written to {out}: {len(passages)} passages ({index_type}) from {len(pages)} page(s) "
        f"in {manifest['build_seconds']:.1f} s.")
    return BuildReport(manifest, skipped, reused, len(missing), notes)


def _sentence_table(out: Path, passages: list[store.StoredPassage], embedder: Embedder, model_key: str,
                    log: Log, progress: bool, vector_cache: dict[str, np.ndarray] | None = None,
                    reuse_from: tuple[Path, ...] | list[Path] = ()) -> store.SentenceTable:
    """Vectors of every text the excerpt code may rank (bot.knowledge.sentence_vectors),
    reusing vectors of unchanged texts from the previous build, `reuse_from` and `vector_cache`."""
    texts: dict[str, None] = {}
    for p in passages:
        for text in texts_for(p.title, p.heading, p.text):
            texts.setdefault(text, None)
    ordered = list(texts)
    keys = [_key(model_key, "sentence", t) for t in ordered]
    previous: dict[str, np.ndarray] = {}
    for folder in [*reuse_from, out]:
        try:
            store.check_model(store.read_manifest(Path(folder)), embedder.identity(), Path(folder))
            old = store.read_sentences(Path(folder))
            if old is not None:
                previous.update({k: np.array(old.vectors[i]) for i, k in enumerate(old.keys)})
        except (store.IndexProblem, OSError, ValueError, KeyError, TypeError):
            pass
    if vector_cache:
        previous.update({k: vector_cache[k] for k in keys if k in vector_cache and k not in previous})
    missing = [i for i, k in enumerate(keys) if k not in previous]
    log(f"Embedding {len(missing)} new excerpt sentence(s); reusing {len(ordered) - len(missing)} unchanged.")
    if missing:
        fresh = embedder.encode_passages([ordered[i] for i in missing], progress=progress)
        previous.update({keys[i]: fresh[j] for j, i in enumerate(missing)})
    if vector_cache is not None:
        vector_cache.update({k: previous[k] for k in keys})
    vectors: np.ndarray = (np.stack([previous[k] for k in keys]) if keys
               else np.zeros((0, embedder.dimension), np.float32)).astype(np.float32)
    return store.SentenceTable(ordered, keys, vectors)


def _previous_vectors(out: Path, identity: dict) -> dict[str, np.ndarray]:
    """Embeddings of the previous build in `out` by passage key, if made with the same model."""
    try:
        manifest = store.read_manifest(out)
        store.check_model(manifest, identity, out)
        vectors = store.read_vectors(out)
        return {p.key: vectors[row] for row, p in enumerate(store.read_passages(out))}
    except (store.IndexProblem, OSError, ValueError, KeyError, TypeError, IndexError):
        return {}  # no usable previous build: embed everything

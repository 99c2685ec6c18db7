"""bot.rasa_speed and the SQLite tracker store settings, in the Rasa virtualenv: the same
behaviour at a lower cost per message (the cost itself is measured by make bench)."""

from __future__ import annotations

import os
import sqlite3
import subprocess

from bot.config import ROOT

RASA_PYTHON = str(ROOT / ".venv" / "rasa" / "bin" / "python")

VALIDATION = """
import jsonschema.validators as v
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from bot import rasa_speed

checks = []
original = v.Draft202012Validator.check_schema.__func__
for cls in (v.Draft4Validator, v.Draft7Validator, v.Draft202012Validator):
    real = cls.check_schema.__func__
    def counting(klass, schema, real=real):
        checks.append(klass)
        return real(klass, schema)
    cls.check_schema = classmethod(counting)

rasa_speed.install()
rasa_speed.install()  # idempotent
action = RemoteAction("action_x", None)
good = {"events": [{"event": "slot", "name": "language", "value": "nn"}], "responses": [{"text": "hei"}]}
for _ in range(5):
    assert action._validate_action_result(good) is True
for bad in ({"events": [{"event": "slot", "timestamp": "not a number"}]}, {"responses": "not a list"}):
    try:
        action._validate_action_result(bad)
    except ValidationError as error:
        assert "Failed to validate Action server response" in error.message
    else:
        raise SystemExit(f"accepted an invalid response: {bad}")
print("schema checks:", len(checks))
"""


def _run(script: str, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.run([RASA_PYTHON, "-c", script], env=full, capture_output=True, text=True, timeout=300)


def test_action_responses_are_validated_as_before_with_the_schema_checked_once():
    result = _run(VALIDATION)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "schema checks: 1"


STORE = """
import asyncio
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from bot.rasa_tracker import UrlTrackerStore

store = UrlTrackerStore(domain=Domain.empty())
for i in range(3):
    tracker = asyncio.run(store.get_or_create_tracker("citizen-1"))
    tracker.update(UserUttered(f"hei {i}"))
    asyncio.run(store.save(tracker))
with store.engine.connect() as connection:
    print(connection.exec_driver_sql("PRAGMA synchronous").scalar())
print(getattr(RemoteAction._validate_action_result, "kommunebot_speed", False))
"""


def test_sqlite_tracker_store_uses_a_write_ahead_log_and_keeps_every_event(tmp_path):
    db = tmp_path / "tracker.db"
    result = _run(STORE, KOMMUNEBOT_TRACKER_URL=f"sqlite:///{db}")
    assert result.returncode == 0, result.stderr[-2000:]
    synchronous, installed = result.stdout.strip().splitlines()[-2:]
    assert synchronous == "1"  # NORMAL
    assert installed == "True"  # the tracker store installs bot.rasa_speed in the Rasa process
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        texts = [row[0] for row in connection.execute(
            "SELECT json_extract(data, '$.text') FROM events WHERE type_name = 'user' ORDER BY id")]
    assert texts == ["hei 0", "hei 1", "hei 2"]

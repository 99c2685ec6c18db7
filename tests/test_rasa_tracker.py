"""bot.rasa_tracker.UrlTrackerStore in the Rasa virtualenv: one SQLAlchemy URL, redacted text."""

from __future__ import annotations

import os
import sqlite3
import subprocess

from bot.config import ROOT

SCRIPT = """
import asyncio
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from bot.rasa_tracker import UrlTrackerStore

store = UrlTrackerStore(domain=Domain.empty(), host="ignored", dialect="ignored", db="ignored")
tracker = DialogueStateTracker("citizen-1", [])
tracker.update(UserUttered("ring meg pa 912 34 567"))
asyncio.run(store.save(tracker))
again = asyncio.run(store.retrieve("citizen-1"))
print(again.latest_message.text)
"""


def test_tracker_store_takes_one_url_and_redacts(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'tracker.db'}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_TRACKER_URL=url, RASA_TELEMETRY_ENABLED="false",
               TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([str(ROOT / ".venv" / "rasa" / "bin" / "python"), "-c", SCRIPT], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[telefon]" in result.stdout.splitlines()[-1]
    with sqlite3.connect(tmp_path / "sub" / "tracker.db") as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = 'citizen-1'").fetchall()
    assert rows and all("912 34 567" not in r[0] for r in rows)


def test_tracker_store_rejects_a_url_without_scheme(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_TRACKER_URL="var/tracker.db",
               RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([str(ROOT / ".venv" / "rasa" / "bin" / "python"), "-c", SCRIPT], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "KOMMUNEBOT_TRACKER_URL" in result.stderr

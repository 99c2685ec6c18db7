"""The redacting Rasa tracker store, run in the Rasa virtualenv (Python 3.10) where it lives."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RASA_PYTHON = ROOT / ".venv" / "rasa" / "bin" / "python"

SCRIPT = r'''
import asyncio, json, sqlite3, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.events import UserUttered, BotUttered, SlotSet
from rasa.core.tracker_store import create_tracker_store
from rasa.utils.endpoints import EndpointConfig

db = sys.argv[1]
store = create_tracker_store(EndpointConfig(type="bot.privacy.tracker_store.RedactingSQLTrackerStore",
                                            dialect="sqlite", db=db), Domain.empty())
text = "mitt fnr er 01019000083, e-post ola@gmail.com"
t = DialogueStateTracker("conv-1", [])
t.update(UserUttered(text, parse_data={"text": text, "intent": {"name": "x"},
                                       "entities": [{"entity": "email", "value": "ola@gmail.com"}]}))
t.update(SlotSet("contact", "email:ola@gmail.com"))
t.update(SlotSet("case_question", "fnr 010190 00083, ring 912 34 567"))
t.update(SlotSet("numbers", [1019000083, {"deep": "01019000083"}]))
t.update(BotUttered("Ring oss på 56 37 50 00 eller skriv til post@alver.kommune.no. Vi svarar til ola@gmail.com.",
                    data={"custom": {"data": {"type": "handoff", "state": "case_created",
                                              "text": "Vi svarar deg på e-post til ola@gmail.com."}}},
                    metadata={"utter_action": "utter_x"}))
existed = asyncio.run(store.exists("conv-1"))
asyncio.run(store.save(t))
t.update(UserUttered("tlf 912 34 567", metadata={"widget_lang": "nn", "kommunebot": {"client": "k-123"}},
                     message_id="a23456789b"))
asyncio.run(store.save(t))
rows = sqlite3.connect(db).execute("select type_name, data from events order by id").fetchall()
back = asyncio.run(store.retrieve("conv-1"))
print(json.dumps({"kind": type(store).__name__, "rows": [[r[0], json.loads(r[1])] for r in rows],
                  "retrieved": len(back.events), "existed": existed, "exists": asyncio.run(store.exists("conv-1")),
                  "other": asyncio.run(store.exists("conv-2"))}, ensure_ascii=False))
'''


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="Rasa virtualenv not built")
def test_stored_conversation_has_no_personal_data(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    out = subprocess.run([str(RASA_PYTHON), "-c", SCRIPT, str(tmp_path / "t.db")], capture_output=True,
                         text=True, timeout=300, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kind"] == "RedactingSQLTrackerStore"
    rows = {i: data for i, (_, data) in enumerate(result["rows"])}
    assert [r[0] for r in result["rows"]] == ["user", "slot", "slot", "slot", "bot", "user"]  # each stored once
    assert rows[0]["text"] == "mitt fnr er [fødselsnummer], e-post [e-post]"
    assert rows[0]["parse_data"]["text"] == rows[0]["text"]
    assert rows[0]["parse_data"]["entities"][0]["value"] == "[e-post]"
    assert rows[0]["parse_data"]["entities"][0]["entity"] == "email"      # identifiers stay
    assert rows[0]["parse_data"]["intent"]["name"] == "x"
    # Slots too: the case form's contact and question are not kept in the conversation.
    assert rows[1]["value"] == "email:[e-post]"
    assert rows[2]["value"] == "fnr [fødselsnummer], ring [telefon]"
    assert rows[3]["value"] == [1019000083, {"deep": "[fødselsnummer]"}]
    assert rows[4]["text"] == ("Ring oss på 56 37 50 00 eller skriv til post@alver.kommune.no. "
                               "Vi svarar til [e-post].")
    assert rows[4]["data"]["custom"]["data"] == {"type": "handoff", "state": "case_created",
                                                 "text": "Vi svarar deg på e-post til [e-post]."}
    assert rows[4]["metadata"]["utter_action"] == "utter_x"
    assert rows[5]["text"] == "tlf [telefon]"
    assert rows[5]["message_id"] == "a23456789b"
    # Server-set metadata (the client's address key) is never written; the client's own stays.
    assert rows[5]["metadata"] == {"widget_lang": "nn"}
    assert rows[5]["parse_data"]["metadata"] == {"widget_lang": "nn"}
    assert result["retrieved"] == 6
    assert (result["existed"], result["exists"], result["other"]) == (False, True, False)

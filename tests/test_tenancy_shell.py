"""`make shell MUNICIPALITY=...` (`bin/kommunebot run --shell --municipality SLUG`): staff
test another municipality than the default in the terminal."""

from __future__ import annotations

import os
import re
import subprocess

import pexpect
import pytest
from test_shell import MODEL, PROMPT, free_port, stop_listener

from bot.config import ROOT
from bot.service.municipalities import registry


def test_an_unknown_municipality_stops_before_any_server_starts():
    result = subprocess.run([str(ROOT / "bin" / "kommunebot"), "run", "--shell", "--municipality", "atlantis"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert "unknown municipality 'atlantis'; known municipalities: " + ", ".join(registry().slugs) in result.stderr


@pytest.mark.servers
def test_shell_talks_to_the_chosen_municipality(tmp_path):
    others = [p for p in registry() if p.slug != registry().default_slug]
    if not others:
        pytest.fail("the demo ships two municipalities; only one profile in municipalities/")
    profile = others[0]
    rasa_port, action_port = free_port(), free_port()
    env = {**os.environ, "KOMMUNEBOT_RASA_URL": f"http://127.0.0.1:{rasa_port}",
           "KOMMUNEBOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
           "KOMMUNEBOT_VAR_DIR": str(tmp_path / "var"),
           "KOMMUNEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'kommunebot.db'}",
           "KOMMUNEBOT_TRACKER_URL": f"sqlite:///{tmp_path / 'rasa-tracker.db'}",
           "KOMMUNEBOT_NOW": "2026-11-24T10:00:00+01:00", "COLUMNS": "120", "TERM": "dumb"}
    child = pexpect.spawn(str(ROOT / "bin" / "kommunebot"),
                          ["run", "--shell", "--model", MODEL, "--municipality", profile.slug],
                          cwd=str(ROOT), env=env, encoding="utf-8", timeout=480, dimensions=(40, 120))
    transcript = tmp_path / "shell.log"
    child.logfile_read = open(transcript, "w", encoding="utf-8")
    question = {"nn": "Kva er telefonnummeret til kommunen?", "nb": "Hva er telefonnummeret til kommunen?"}
    try:
        child.expect(PROMPT, timeout=480)
        child.send(question[profile.default_language] + "\r")
        child.expect(re.escape(profile.contact.phone).replace(r"\ ", r"\s*"), timeout=120)
        child.expect(PROMPT, timeout=120)
        child.send("/stop\r")
        child.expect(pexpect.EOF, timeout=120)
    except (pexpect.TIMEOUT, pexpect.EOF) as error:
        pytest.fail(f"rasa shell did not answer as {profile.slug} ({type(error).__name__}); "
                    f"transcript:\n{transcript.read_text(encoding='utf-8')[-3000:]}", pytrace=False)
    finally:
        if child.isalive():
            child.sendintr()
            child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=30)
            child.close(force=True)
        child.logfile_read.close()
        stop_listener(action_port)
    assert profile.name in transcript.read_text(encoding="utf-8")

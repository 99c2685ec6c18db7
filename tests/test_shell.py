"""`make shell` for staff: `bin/kommunebot run --shell` (bot/stack.py) starts the action
server and `rasa shell`; driven here through a pseudo-terminal with pexpect."""

from __future__ import annotations

import os
import re
import signal
import socket

import pexpect
import psutil
import pytest

from bot.config import ROOT
from bot.service.profile import load_profile

pytestmark = pytest.mark.servers

MODEL = os.environ.get("KOMMUNEBOT_TEST_RASA_MODEL", str(ROOT / "models" / "rasa"))
PROMPT = "Your input ->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_listener(port: int) -> None:
    """Stop the server this test started on `port`, if `run --shell` could not."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            os.killpg(os.getpgid(conn.pid), signal.SIGTERM)


def listening_addresses(port: int) -> set[str]:
    return {conn.laddr.ip for conn in psutil.net_connections(kind="tcp")
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN}


def test_shell_answers_a_staff_question(tmp_path):
    if not any(ROOT.joinpath(MODEL).glob("*.tar.gz")) and not MODEL.endswith(".tar.gz"):
        pytest.fail(f"No trained Rasa model in {MODEL}: run `make train` first.", pytrace=False)
    rasa_port, action_port = free_port(), free_port()
    env = {
        **os.environ,
        "KOMMUNEBOT_RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "KOMMUNEBOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
        "KOMMUNEBOT_VAR_DIR": str(tmp_path / "var"),
        "KOMMUNEBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'kommunebot.db'}",
        "KOMMUNEBOT_TRACKER_URL": f"sqlite:///{tmp_path / 'rasa-tracker.db'}",
        "KOMMUNEBOT_NOW": "2026-11-24T10:00:00+01:00",  # a Tuesday inside opening hours
        "COLUMNS": "120", "TERM": "dumb",
    }
    phone = load_profile().contact.phone
    child = pexpect.spawn(str(ROOT / "bin" / "kommunebot"), ["run", "--shell", "--model", MODEL],
                          cwd=str(ROOT), env=env, encoding="utf-8", timeout=480, dimensions=(40, 120))
    transcript = tmp_path / "shell.log"
    child.logfile_read = open(transcript, "w", encoding="utf-8")
    try:
        child.expect("Starting `rasa shell`", timeout=240)
        child.expect(PROMPT, timeout=480)  # model loading takes 30-120 s on 2 cores
        # the shell's Rasa server listens on loopback only, like `kommunebot run` (issue 14)
        assert listening_addresses(rasa_port) == {"127.0.0.1"}
        child.send("Kva er telefonnummeret til kommunen?\r")
        # the number may be wrapped or spaced differently by the terminal
        child.expect(re.escape(phone).replace(r"\ ", r"\s*"), timeout=120)
        child.expect(PROMPT, timeout=120)
        child.send("/stop\r")
        child.expect(pexpect.EOF, timeout=120)
    except (pexpect.TIMEOUT, pexpect.EOF) as error:
        pytest.fail(f"rasa shell did not answer as expected ({type(error).__name__}); "
                    f"transcript:\n{transcript.read_text(encoding='utf-8')[-3000:]}", pytrace=False)
    finally:
        if child.isalive():
            child.sendintr()  # Ctrl-C: `run --shell` stops its action server
            child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=30)
            child.close(force=True)
        child.logfile_read.close()
        stop_listener(action_port)
    child.close()
    assert child.exitstatus == 0, transcript.read_text(encoding="utf-8")[-2000:]

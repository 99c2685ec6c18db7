"""The `eta` command through the real CLI entry point (bin/kommunebot)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "bin" / "kommunebot"), "eta", *args], capture_output=True, text=True,
                          timeout=60)


def test_eta_json_for_email_before_easter():
    result = run("--channel", "email", "--at", "2027-03-24T10:00", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == {
        "channel": "email", "available_now": True, "next_open": "2027-03-24T10:00:00+01:00",
        "expected_by": "2027-04-01T15:00:00+02:00",
        "text_nn": "Du får svar innan torsdag 1. april.", "text_nb": "Du får svar innen torsdag 1. april.",
    }


def test_eta_json_with_offset_and_utc():
    result = run("--channel", "chat", "--at", "2027-10-29T14:00:00Z", "--json")
    data = json.loads(result.stdout)
    assert data["available_now"] is False
    assert data["next_open"] == "2027-11-01T09:00:00+01:00"


def test_eta_plain_text():
    result = run("--channel", "phone", "--at", "2026-11-24T10:00+01:00")
    assert result.returncode == 0
    assert "available now: yes" in result.stdout
    assert "nn: Telefonen er open no" in result.stdout and "nb: Telefonen er åpen nå" in result.stdout


def test_eta_unknown_channel():
    result = run("--channel", "fax", "--at", "2027-03-24T10:00")
    assert result.returncode == 2
    assert "unknown channel 'fax'" in result.stderr and "email" in result.stderr
    assert "Traceback" not in result.stderr


def test_eta_bad_date():
    result = run("--channel", "chat", "--at", "2027-13-45T10:00")
    assert result.returncode == 2
    assert "not an ISO-8601 date" in result.stderr and "2027-03-24T10:00" in result.stderr


def test_eta_broken_profile(tmp_path):
    bad = tmp_path / "m.yml"
    bad.write_text("name: X\n", encoding="utf-8")
    result = run("--channel", "chat", "--profile", str(bad))
    assert result.returncode == 2
    assert "contact: missing" in result.stderr and "Traceback" not in result.stderr


def test_eta_without_at_reads_the_shared_clock(monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_NOW", "2027-03-24T16:00:00+01:00")
    data = json.loads(run("--channel", "phone", "--json").stdout)
    assert data["available_now"] is False
    assert data["next_open"] == "2027-03-30T09:00:00+02:00"

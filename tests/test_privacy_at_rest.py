"""Nothing a citizen must not leave behind is at rest, checked with the real servers.

A citizen types a national identity number, a phone number and an e-mail address into
the case form (REST and the widget's socket.io), and sends metadata of their own. Then
every file the servers wrote (both SQLite databases with their WAL files, the logs) is
read as bytes:

- the national identity number is nowhere (tracker events AND slots, case store,
  analytics, logs), in no way it was written (with or without a space);
- the e-mail address and the phone number are only in the case record that needs them
  (table `handoffs`), nowhere in the conversation database or the logs;
- metadata the client made up is not stored as sent.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from pathlib import Path

import pytest
from conftest import SERVERS_DEFAULT_NOW
from handoff_clients import Citizen
from reliability_support import AFTER_HOURS, case_of, create_case

pytestmark = pytest.mark.servers


def national_id(rng: random.Random) -> str:
    """A valid fødselsnummer nobody else in the test session uses."""
    w1, w2 = [3, 7, 6, 1, 8, 9, 4, 5, 2], [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    while True:
        first9 = f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(40, 99):02d}{rng.randint(0, 999):03d}"
        k1 = (11 - sum(int(a) * b for a, b in zip(first9, w1)) % 11) % 11
        k2 = (11 - sum(int(a) * b for a, b in zip(first9 + str(k1), w2)) % 11) % 11
        if k1 != 10 and k2 != 10:
            return f"{first9}{k1}{k2}"


class Secrets:
    """Unique personal data for one test, and the ways it can be written down."""

    def __init__(self) -> None:
        rng = random.Random(uuid.uuid4().int)
        self.fnr = national_id(rng)
        self.phone = f"4{rng.randint(0, 9999999):07d}"
        self.email = f"innbyggjar.{uuid.uuid4().hex[:10]}@example.no"

    def fnr_forms(self) -> list[bytes]:
        return [self.fnr.encode(), f"{self.fnr[:6]} {self.fnr[6:]}".encode()]

    def contact_forms(self) -> list[bytes]:
        p = self.phone
        return [self.email.encode(), p.encode(), f"{p[:3]} {p[3:5]} {p[5:]}".encode(), f"+47{p}".encode()]


def files_at_rest(var_dir: Path) -> list[Path]:
    return [p for p in var_dir.rglob("*") if p.is_file() and (p.suffix in (".log", ".db") or
                                                             p.name.endswith(("-wal", "-journal")))]


def containing(paths: list[Path], needles: list[bytes]) -> dict[str, list[bytes]]:
    found = {}
    for path in paths:
        data = path.read_bytes()
        hits = [n for n in needles if n in data]
        if hits:
            found[str(path)] = hits
    return found


def checkpoint(var_dir: Path) -> None:
    """Fold the WAL files into the databases, so both are read whatever the timing."""
    for db in var_dir.glob("*.db"):
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def rows_containing(db: Path, needle: str) -> list[tuple[str, str]]:
    """(table, column) of every cell in an SQLite database that contains `needle`."""
    found = []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'pragma table_info("{table}")')]
            for column in columns:
                hit = conn.execute(f'select count(*) from "{table}" where cast("{column}" as text) like ?',
                                   (f"%{needle}%",)).fetchone()[0]
                if hit:
                    found.append((table, column))
    return found


CASE_RECORD = {"handoffs", "staff_messages"}  # a live chat or case and what was sent about it


def assert_nothing_at_rest(servers, secrets: Secrets, contact: str | None = None) -> None:
    """No national id in any file; `contact` (default the e-mail address) is in the case
    record only, and no contact at all is in any other file."""
    var_dir = Path(servers.var_dir)
    checkpoint(var_dir)
    paths = files_at_rest(var_dir)
    assert any(p.name == "rasa-tracker.db" for p in paths) and any(p.name == "kommunebot.db" for p in paths)
    assert containing(paths, secrets.fnr_forms()) == {}, "a national identity number is at rest"
    others = [p for p in paths if p.name not in ("kommunebot.db", "kommunebot.db-wal")]
    assert containing(others, secrets.contact_forms()) == {}, "e-mail or phone outside the case record"
    places = rows_containing(var_dir / "kommunebot.db", contact or secrets.email)
    assert places and {table for table, _ in places} <= CASE_RECORD, places


def test_case_form_over_rest_leaves_no_national_id_and_contact_only_in_the_case(servers):
    secrets = Secrets()
    sender = servers.new_sender()
    question = (f"Fødselsnummeret mitt er {secrets.fnr[:6]} {secrets.fnr[6:]}. Kvifor har eg fått to "
                f"fakturaer? Ring meg gjerne på {secrets.phone}.")
    create_case(servers, sender, question, f"Svar til {secrets.email} eller {secrets.fnr}")
    servers.send(f"Eit spørsmål til: {secrets.fnr}", sender=sender)
    assert_nothing_at_rest(servers, secrets)


def test_questions_kept_for_statistics_carry_no_personal_data(servers):
    """Answer feedback and unanswered questions are kept for the municipality's statistics
    (bot.analytics / insight): only redacted."""
    secrets = Secrets()
    sender = servers.new_sender()
    servers.send(f"Når er fristen for å søkje barnehageplass? Eg er {secrets.fnr}, ring {secrets.phone}",
                 sender=sender)
    servers.send("/deny", sender=sender)  # "Fekk du svar?" - no
    servers.send(f"Kva er kveldsmat for {secrets.email} og {secrets.fnr[:6]} {secrets.fnr[6:]}?", sender=sender)
    servers.send("/deny", sender=sender)
    var_dir = Path(servers.var_dir)
    checkpoint(var_dir)
    paths = files_at_rest(var_dir)
    assert containing(paths, secrets.fnr_forms()) == {}
    assert containing(paths, secrets.contact_forms()) == {}


def test_case_form_over_the_widget_leaves_no_contact_in_the_conversation(servers):
    """On socket.io the confirmation payload repeats the e-mail address to the citizen."""
    secrets = Secrets()
    servers.set_clock(AFTER_HOURS)
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("/request_human")
        citizen.next()
        citizen.say(f"Eg har fødselsnummer {secrets.fnr} og spør om byggjesaka mi")
        citizen.next()
        citizen.say(secrets.email)
        created = citizen.until_handoff("case_created")
        assert secrets.email in created["text"]  # the citizen is told where the answer goes
    finally:
        citizen.close()
        servers.set_clock(SERVERS_DEFAULT_NOW)
    assert case_of(servers.env["KOMMUNEBOT_DATABASE_URL"], citizen.session_id) is not None
    assert_nothing_at_rest(servers, secrets)


def test_live_chat_keeps_the_phone_for_the_handler_and_no_national_id(servers):
    """In a live chat the handler needs the phone number the citizen writes (issue 12), the
    national identity number must go (issue 14)."""
    secrets = Secrets()
    servers.set_clock(SERVERS_DEFAULT_NOW)  # inside chat opening hours
    citizen = Citizen(servers.rasa_url)
    try:
        citizen.say("/request_human")
        assert "Vil du det?" in citizen.next()["text"]
        citizen.say("/affirm")
        citizen.until_handoff("waiting")
        citizen.say(f"Fødselsnummeret mitt er {secrets.fnr}. Ring meg på {secrets.phone}.")
        citizen.say("Eg vil ikkje vente lenger, ha det")
        citizen.until_handoff("ended")
    finally:
        citizen.close()
    assert_nothing_at_rest(servers, secrets, contact=secrets.phone)


def test_client_metadata_is_not_stored_as_sent(servers):
    secrets = Secrets()
    sender = servers.new_sender()
    marker = f"klientfelt{uuid.uuid4().hex[:8]}"
    servers.send("Hei", sender=sender, metadata={marker: secrets.fnr, "widget_lang": secrets.email,
                                                   "nested": {"deep": [secrets.phone]}})
    checkpoint(Path(servers.var_dir))
    tracker_db = Path(servers.var_dir) / "rasa-tracker.db"
    assert rows_containing(tracker_db, marker) == []
    assert containing(files_at_rest(Path(servers.var_dir)), secrets.fnr_forms()) == {}
    others = [p for p in files_at_rest(Path(servers.var_dir)) if not p.name.startswith("kommunebot.db")]
    assert containing(others, secrets.contact_forms()) == {}

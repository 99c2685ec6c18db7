"""Files with personal data are the service account's only (issue 14).

SQLite creates a database file with the process's umask (often 0644: readable by every
user of the machine), and its -wal/-shm files with the database file's mode. This
module creates the file owner-only (0600) before SQLite opens it and tightens an
existing one, so conversations, cases and staff accounts are never world-readable,
whoever starts the server. Stdlib only (the Rasa process uses it too).

    private_sqlite("sqlite:///var/kommunebot.db")   # before create_engine(...)
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (sqlite:///relative, sqlite:////absolute), None for others."""
    if not url.startswith("sqlite:"):
        return None
    rest = url.split("://", 1)[1] if "://" in url else ""
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///x -> "/x" -> "x"; sqlite:////x -> "//x" -> "/x"
    path = path.split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def private_file(path: Path) -> None:
    """Create `path` owner-only if it does not exist; make it (and SQLite's side files) 0600.

    An existing file is never opened, only chmod-ed: closing any descriptor of a database
    file drops every POSIX lock SQLite holds on it in this process (sqlite.org/howtocorrupt,
    2.2), and a process that already has the database open would then write without its
    locks and corrupt it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        pass
    for candidate in (path, *(path.with_name(path.name + side) for side in ("-wal", "-shm", "-journal"))):
        try:
            if candidate.stat().st_mode & 0o077:
                candidate.chmod(PRIVATE)
        except FileNotFoundError:
            pass


def private_sqlite(url: str) -> None:
    """For an SQLite URL: the database file exists and is owner-only. Others: nothing."""
    path = sqlite_path(url)
    if path is not None:
        private_file(path)

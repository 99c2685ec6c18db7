"""Convert text between Bokmål and Nynorsk with Apertium, many texts per call.

    >>> from bot.language.apertium import convert
    >>> convert(["Hvor mye koster det?", "Jeg har ikke fått svar."], target="nn")
    ['Kor mykje kostar det?', 'Eg har ikkje fått svar.']

Starting Apertium costs about half a second, so `convert` sends a whole batch in one
call: one text a line (line breaks inside a text become spaces) followed by a sentinel
line, and checks that exactly as many lines come back. The output is machine-translated:
callers mark it as such. Needs the Debian packages `apertium` and `apertium-nno-nob`.
"""

from __future__ import annotations

import re
import shutil
import subprocess

# Target standard -> Apertium mode. nob-nno_e gives e-infinitives (søkje, sortere).
MODES = {"nn": "nob-nno_e", "nb": "nno-nob"}
SENTINEL = "§KOMMUNEBOT-END§"
MAX_BATCH_CHARS = 1_000_000
_INSTALL = "install the Debian packages: apt-get install apertium apertium-nno-nob"
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


class ApertiumError(RuntimeError):
    """Apertium is missing, lacks the language pair, or returned something unusable."""


def convert(texts: list[str], target: str) -> list[str]:
    """Translate `texts` into `target` ("nn" or "nb"); one result per text, in order."""
    if target not in MODES:
        raise ValueError(f"target must be 'nn' or 'nb', not {target!r}")
    results: list[str] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        line = _LINE_BREAKS.sub(" ", text).strip()
        if batch and size + len(line) > MAX_BATCH_CHARS:
            results += _run(batch, MODES[target])
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        results += _run(batch, MODES[target])
    return results


def _run(lines: list[str], mode: str) -> list[str]:
    """One Apertium call for `lines`; blank lines are passed through without translating."""
    binary = shutil.which("apertium")
    if binary is None:
        raise ApertiumError(f"the 'apertium' command was not found; {_INSTALL}")
    source = "\n".join(lines + [SENTINEL]) + "\n"
    try:
        proc = subprocess.run(
            [binary, "-u", mode], input=source, capture_output=True, text=True,
            encoding="utf-8", errors="replace", timeout=60 + len(source) / 2000,
        )
    except subprocess.TimeoutExpired as exc:
        raise ApertiumError(f"apertium {mode} did not finish within {exc.timeout:.0f} s") from exc
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()[:1]
        raise ApertiumError(f"apertium {mode} failed ({'; '.join(detail) or proc.returncode}); {_INSTALL}")
    out = proc.stdout.rstrip("\n").split("\n")
    if len(out) != len(lines) + 1 or out[-1].strip() != SENTINEL:
        raise ApertiumError(f"apertium {mode} returned {len(out) - 1} lines for {len(lines)} texts")
    return [_strip_marks(src, res) for src, res in zip(lines, out[:-1])]


def _strip_marks(source: str, result: str) -> str:
    """Drop Apertium's word marks: * unknown, # generation error, @ transfer error.

    `-u` already drops `*`; a `#` or `@` is kept where the source had that character
    itself (a hashtag, an e-mail address)."""
    for mark in "*#@":
        if mark not in source:
            result = re.sub(r"(?<!\S)" + re.escape(mark) + r"(?=\w)", "", result)
    return result.strip()

"""Convert text between Bokmål and Nynorsk with Apertium, many texts per call.

    >>> from bot.language.apertium import convert
    >>> convert(["Hvor mye koster det?", "Jeg har ikke fått svar."], target="nn")
    ['Kor mykje kostar det?', 'Eg har ikkje fått svar.']

Starting Apertium costs about half a second, so a whole batch goes in one call. Each text
travels in its own numbered HTML block (`<p id="kb7">...</p>`, Apertium's html format
keeps tags untouched), and the answer is read back block by block. Aligning by line count
is not safe: on real pages Apertium returns more or fewer lines than it was given (a
sentence end before a special character, a carriage return, odd punctuation), and one odd
line would then lose the whole batch. Here a block that does not come back whole, or comes
back unusable, is retried once on its own; if that fails too, the source text is kept
for that text only (`Conversion.converted` is False) and the others are unaffected.

The output is machine-translated: callers mark it as such. Needs the Debian packages
`apertium` and `apertium-nno-nob`.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass

# Target standard -> Apertium mode. nob-nno_e gives e-infinitives (søkje, sortere).
MODES = {"nn": "nob-nno_e", "nb": "nno-nob"}
MAX_BATCH_CHARS = 500_000
_INSTALL = "install the Debian packages: apt-get install apertium apertium-nno-nob"
# Characters that end a line or are invisible formatting: a text is one line for Apertium.
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u200b\u200e\u200f\ufeff]")
_BLOCK = re.compile(r'<p id="kb(\d+)">(.*?)</p>', re.DOTALL)
# A converted text this much longer or shorter than its source (in characters) is not a
# translation between two close standards: the block was mangled.
MAX_LENGTH_RATIO = 1.8
MIN_LENGTH_FOR_RATIO = 12


class ApertiumError(RuntimeError):
    """Apertium is missing, lacks the language pair, or cannot be run at all."""


@dataclass(frozen=True)
class Conversion:
    """One text's result: the converted text, or the source when `converted` is False."""

    text: str
    converted: bool


def convert(texts: list[str], target: str) -> list[str]:
    """Translate `texts` into `target` ("nn" or "nb"); one result per text, in order.

    A text Apertium cannot convert comes back unchanged (see `convert_detailed`)."""
    return [c.text for c in convert_detailed(texts, target)]


def convert_detailed(texts: list[str], target: str) -> list[Conversion]:
    """`convert`, saying per text whether it was converted or kept as it was.

    Raises ApertiumError only when Apertium cannot run at all (missing, wrong pair)."""
    if target not in MODES:
        raise ValueError(f"target must be 'nn' or 'nb', not {target!r}")
    mode = MODES[target]
    lines = [clean(text) for text in texts]
    results: list[Conversion | None] = [None] * len(lines)
    todo = []
    for i, line in enumerate(lines):
        if _has_words(line):
            todo.append(i)
        else:  # blank, numbers or punctuation only: nothing to translate
            results[i] = Conversion(line, True)
    for batch in _batches(todo, lines):
        _settle(batch, lines, mode, results)
    return results  # type: ignore[return-value]


def _settle(batch: list[int], lines: list[str], mode: str, results: list[Conversion | None]) -> None:
    """Convert `batch` in one call. A block that does not come back is retried alone (a
    text that broke the batch cannot break another); a call that fails as a whole (a
    timeout on a busy machine, an error) is split in halves, so a big index never falls
    back to one Apertium start per line."""
    converted = _run_blocks([lines[i] for i in batch], mode)
    missing = [i for i, out in zip(batch, converted) if out is None]
    for i, out in zip(batch, converted):
        if out is not None:
            results[i] = Conversion(out, True)
    if len(batch) > 1 and len(missing) == len(batch):
        half = len(batch) // 2
        _settle(batch[:half], lines, mode, results)
        _settle(batch[half:], lines, mode, results)
        return
    for i in missing:
        out = _run_blocks([lines[i]], mode)[0] if len(batch) > 1 else None
        results[i] = Conversion(out, True) if out is not None else Conversion(lines[i], False)


def clean(text: str) -> str:
    """`text` as one line without control or invisible formatting characters."""
    return re.sub(r"[ \t]+", " ", _CONTROL.sub("", _LINE_BREAKS.sub(" ", text or ""))).strip()


def _has_words(text: str) -> bool:
    return bool(re.search(r"[^\W\d_]", text))


def _batches(indices: list[int], lines: list[str]):
    batch: list[int] = []
    size = 0
    for i in indices:
        if batch and size + len(lines[i]) > MAX_BATCH_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(i)
        size += len(lines[i]) + 20
    if batch:
        yield batch


def _run_blocks(lines: list[str], mode: str) -> list[str | None]:
    """One Apertium call for `lines` (html format, one numbered block each); per line the
    converted text, or None where the block did not come back whole or usable."""
    binary = shutil.which("apertium")
    if binary is None:
        raise ApertiumError(f"the 'apertium' command was not found; {_INSTALL}")
    source = "".join(f'<p id="kb{i}">{html.escape(line, quote=False)}</p>\n' for i, line in enumerate(lines))
    try:
        proc = subprocess.run(
            [binary, "-f", "html", "-u", mode], input=source, capture_output=True, text=True,
            encoding="utf-8", errors="replace", timeout=120 + len(source) / 500,
        )
    except subprocess.TimeoutExpired:
        return [None] * len(lines)
    if proc.returncode != 0:
        detail = "; ".join(proc.stderr.strip().splitlines()[:1]) or f"exit status {proc.returncode}"
        if len(lines) == 1 and _pair_missing(proc.stderr):
            raise ApertiumError(f"apertium {mode} failed ({detail}); {_INSTALL}")
        if len(lines) > 1:
            return [None] * len(lines)  # retried one by one: a pair problem shows there
        raise ApertiumError(f"apertium {mode} failed ({detail}); {_INSTALL}")
    found: dict[int, list[str]] = {}
    for match in _BLOCK.finditer(proc.stdout):
        found.setdefault(int(match.group(1)), []).append(match.group(2))
    out: list[str | None] = []
    for i, line in enumerate(lines):
        blocks = found.get(i, [])
        out.append(_usable(line, _strip_marks(line, clean(html.unescape(blocks[0])))) if len(blocks) == 1 else None)
    return out


def _pair_missing(stderr: str) -> bool:
    return "mode" in stderr.lower() or "not found" in stderr.lower() or "no such" in stderr.lower()


def _usable(source: str, result: str) -> str | None:
    """`result` unless it cannot be a conversion of `source` (empty, or far off in length)."""
    if not result:
        return None
    if len(source) >= MIN_LENGTH_FOR_RATIO:
        ratio = len(result) / len(source)
        if ratio > MAX_LENGTH_RATIO or ratio < 1 / MAX_LENGTH_RATIO:
            return None
    return result


def _strip_marks(source: str, result: str) -> str:
    """Drop Apertium's word marks: * unknown, # generation error, @ transfer error.

    `-u` already drops `*`; a `#` or `@` is kept where the source had that character
    itself (a hashtag, an e-mail address)."""
    for mark in "*#@":
        if mark not in source:
            result = re.sub(r"(?<!\S)" + re.escape(mark) + r"(?=\w)", "", result)
    return result.strip()

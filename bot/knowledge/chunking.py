"""Splitting pages into passages along headings, with token-bounded overlapping windows.

Each passage keeps its page title and heading path. A section longer than the model's
input is split into windows of whole sentences that fit the token budget (measured with
the model's own tokenizer), each window repeating the last sentence(s) of the one before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from bot.knowledge.sentences import split_sentences

TokenCounter = Callable[[list[str]], list[int]]
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
OVERLAP_FRACTION = 0.15  # of a window's tokens repeated at the start of the next window
SAFETY_TOKENS = 8  # slack for tokens that appear only when sentences are joined


@dataclass
class Passage:
    """One searchable piece of a page."""

    page_id: str
    position: int  # order within the page
    title: str
    heading: str  # heading path below the title, " > "-joined ("" for the intro)
    text: str  # the passage body as shown to users

    @property
    def embed_text(self) -> str:
        """What is embedded and indexed: title and heading path give the body its context."""
        head = self.title if not self.heading else f"{self.title} – {self.heading}"
        return f"{head}\n{self.text}"


def clean_markdown(text: str) -> str:
    """Markdown inline syntax -> plain text (links keep their words, images go)."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"^\s*[*+]\s+", "- ", text, flags=re.MULTILINE)  # list markers before emphasis
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", "", text, flags=re.MULTILINE)  # table rulers
    text = re.sub(r"[ \t]*\|[ \t]*", " | ", text)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def sections(markdown: str, title: str) -> list[tuple[str, str]]:
    """(heading path, body) per section, in order; sections without body are dropped.

    A leading heading equal to the title is not repeated in the path."""
    result: list[tuple[str, str]] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []
    in_code = False

    def flush() -> None:
        text = clean_markdown("\n".join(body))
        if text:
            names = [h for _, h in path]
            if names and names[0].strip().lower() == title.strip().lower():
                names = names[1:]
            result.append((" > ".join(clean_markdown(n) for n in names), text))
        body.clear()

    for line in markdown.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        match = None if in_code else HEADING.match(line.strip())
        if match:
            flush()
            level = len(match.group(1))
            path[:] = [(lvl, h) for lvl, h in path if lvl < level] + [(level, match.group(2))]
        else:
            body.append(line)
    flush()
    return result


def _split_long_sentence(sentence: str, budget: int, count: TokenCounter) -> list[str]:
    """Word windows for a sentence that alone exceeds the budget."""
    words = sentence.split()
    pieces, current = [], []
    for word in words:
        current.append(word)
        if count([" ".join(current)])[0] > budget and len(current) > 1:
            current.pop()
            pieces.append(" ".join(current))
            current = [word]
    if current:
        pieces.append(" ".join(current))
    return pieces


def windows(text: str, budget: int, count: TokenCounter) -> list[str]:
    """`text` as one piece if it fits `budget` tokens, else overlapping sentence windows."""
    if count([text])[0] <= budget:
        return [text]
    sentences: list[str] = []
    for sentence in split_sentences(text):
        if count([sentence])[0] > budget:
            sentences.extend(_split_long_sentence(sentence, budget, count))
        else:
            sentences.append(sentence)
    sizes = count(sentences)
    result: list[str] = []
    start = 0
    while start < len(sentences):
        end, used = start, 0
        while end < len(sentences) and used + sizes[end] <= budget:
            used += sizes[end]
            end += 1
        end = max(end, start + 1)
        while end - start > 1 and count([" ".join(sentences[start:end])])[0] > budget:
            end -= 1  # joined text can tokenise a little longer than its parts
        result.append(" ".join(sentences[start:end]))
        if end >= len(sentences):
            break
        # step back over whole sentences worth ~OVERLAP_FRACTION of the window
        overlap, back = 0, end
        while back - 1 > start and overlap + sizes[back - 1] <= OVERLAP_FRACTION * budget:
            back -= 1
            overlap += sizes[back]
        start = back
    return result


def chunk_page(page_id: str, title: str, markdown: str, max_tokens: int, count: TokenCounter) -> list[Passage]:
    """Passages of one page; every passage's `embed_text` fits `max_tokens` (as a passage)."""
    passages: list[Passage] = []
    for heading, body in sections(markdown, title):
        header_tokens = count([Passage(page_id, 0, title, heading, "").embed_text])[0]
        budget = max(16, max_tokens - header_tokens - SAFETY_TOKENS)
        for piece in windows(body, budget, count):
            passages.append(Passage(page_id, len(passages), title, heading, piece))
    return passages

"""Chunking along headings; long sections become overlapping windows within the model's input."""

from __future__ import annotations

from bot.knowledge.chunking import Passage, chunk_page, clean_markdown, sections, windows
from tests.knowledge_support import embedder

MARKDOWN = """# Byggjesak

Innleiing om byggjesaker.

## Søknad

### Kva må vere med?

Teikningar og situasjonskart.

```
# ikkje ei overskrift
```

## Gebyr

Sjå [prislista](https://example.no/pris) for **gebyr**.

## Tom seksjon
"""


def test_sections_follow_headings_with_heading_paths():
    result = sections(MARKDOWN, "Byggjesak")
    assert [h for h, _ in result] == ["", "Søknad > Kva må vere med?", "Gebyr"]
    assert result[0][1] == "Innleiing om byggjesaker."
    assert "# ikkje ei overskrift" in result[1][1]  # a '#' line in a code block is text, not a heading
    assert result[2][1] == "Sjå prislista for gebyr."


def test_clean_markdown_keeps_words_and_lists():
    assert clean_markdown("* Punkt **ein**\n+ Punkt [to](x)\n![bilete](y.png)") == "- Punkt ein\n- Punkt to"


def test_passages_carry_title_and_heading_path():
    model = embedder()
    passages = chunk_page("byggjesak", "Byggjesak", MARKDOWN, model.max_tokens, model.count_tokens)
    assert [(p.position, p.heading) for p in passages] == [(0, ""), (1, "Søknad > Kva må vere med?"), (2, "Gebyr")]
    assert passages[1].embed_text.startswith("Byggjesak – Søknad > Kva må vere med?\n")


def _long_section(n: int) -> str:
    return " ".join(f"Setning nummer {i} handlar om reglane for bygging av garasje og carport i kommunen."
                    for i in range(n))


def test_long_section_becomes_overlapping_windows_that_fit_the_model():
    model = embedder()
    body = _long_section(120)
    markdown = f"# Reglar\n\n## Garasje\n\n{body}\n"
    passages = chunk_page("reglar", "Reglar", markdown, model.max_tokens, model.count_tokens)
    assert len(passages) >= 3
    counts = model.count_tokens([p.embed_text for p in passages])
    assert max(counts) <= model.max_tokens
    assert all(c > model.max_tokens // 2 for c in counts[:-1])  # windows are filled, not tiny
    for a, b in zip(passages, passages[1:]):
        last_sentence = a.text.split(". ")[-1]
        assert last_sentence in b.text  # the next window repeats the end of the one before
    numbers = [int(w) for p in passages for w in p.text.replace(".", " ").split() if w.isdigit()]
    assert set(numbers) == set(range(120))  # nothing is lost
    assert all(p.heading == "Garasje" for p in passages)


def test_a_sentence_longer_than_the_input_is_split_by_words():
    model = embedder()
    body = " ".join(f"ord{i}" for i in range(3000))  # no sentence boundary at all
    pieces = windows(body, 200, model.count_tokens)
    assert len(pieces) > 1
    assert max(model.count_tokens(pieces)) <= 200
    assert " ".join(pieces).split() == body.split()


def test_short_text_is_one_window():
    model = embedder()
    assert windows("Kort tekst.", 100, model.count_tokens) == ["Kort tekst."]


def test_passage_embed_text_without_heading():
    assert Passage("p", 0, "Tittel", "", "Brødtekst.").embed_text == "Tittel\nBrødtekst."

"""The Nynorsk/Bokmål detector, the Apertium converter and the `lang` command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.language import Detection, apertium, detect
from bot.language.detector import MODEL_PATH, Model
from bot.language.evaluation import read_chat_set

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
RASA_PYTHON = REPO / ".venv" / "rasa" / "bin" / "python"


def rows(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, label = line.rsplit("\t", 1)
            out.append((text, label))
    return out


@pytest.mark.parametrize("text", [
    "kva kostar det å søkje om barnehageplass",
    "Korleis kan eg klage på eigedomsskatten?",
    "eg har ikkje fått svar",
    "kor mykje må eg betale for sfo",
    "Kvar kan eg levere hageavfall",
])
def test_clear_nynorsk(text):
    found = detect(text)
    assert found.lang == "nn"
    assert 0.5 < found.confidence <= 1.0


@pytest.mark.parametrize("nynorsk,bokmal", [
    ("har de ope i jula", "har dere åpent i julen"),
    ("er kontoret open i jula", "er kontoret åpent i julen"),
    ("kan de sende meg skjemaet", "kan dere sende meg skjemaet"),
    ("har de parkering ved rådhuset", "har dere parkering ved rådhuset"),
])
def test_short_chat_forms_news_text_lacks(nynorsk, bokmal):
    """"de" as plural "you" and ope/open/opne are Nynorsk; the news-trained model alone misses them."""
    assert detect(nynorsk).lang == "nn"
    assert detect(bokmal).lang == "nb"


@pytest.mark.parametrize("text", [
    "hva koster det å søke om barnehageplass",
    "Hvordan kan jeg klage på eiendomsskatten?",
    "jeg har ikke fått svar",
    "hvor mye må jeg betale for sfo",
    "Hvor kan jeg levere hageavfall",
])
def test_clear_bokmal(text):
    found = detect(text)
    assert found.lang == "nb"
    assert 0.5 < found.confidence <= 1.0


@pytest.mark.parametrize("text", ["barnehage", "takk", "ok", "Hei!", "97 12 34 56", "+47 56 37 50 00", "Tusen takk!",
                                  "ok, hei"])
def test_no_evidence_is_none(text):
    assert detect(text) == Detection(None, 0.0)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "?!...", "👍", "😀😀😀 🙏", "🇳🇴"])
def test_empty_and_emoji_only_is_none(text):
    assert detect(text).lang is None


def test_mixed_text_decides_by_weight_of_evidence():
    # Two clear Nynorsk markers outweigh one Bokmål word, and the other way round.
    assert detect("eg veit ikkje kva eg skal gjere, hjelp meg nå").lang == "nn"
    assert detect("jeg vet ikke hva jeg skal gjøre, hjelp meg no").lang == "nb"


def test_very_long_input():
    long_nn = "Eg lurer på korleis eg kan søkje om plass i barnehagen. " * 5000
    long_nb = "Jeg lurer på hvordan jeg kan søke om plass i barnehagen. " * 5000
    assert detect(long_nn).lang == "nn"
    assert detect(long_nb).lang == "nb"
    assert detect("x" * 1_000_000).lang is None  # one endless "word" is no evidence


@pytest.mark.parametrize("text", [
    "\ud800 kva \udfff",             # lone surrogates
    "eg\x00har\x00ikkje",             # NUL bytes
    "ｋｖａ ｋｏｓｔａｒ ｄｅｔ",          # full-width letters (NFKC folds them)
    "na\u030a har eg ikkje tid",      # decomposed å
    "\u202ekva kostar det\u202c",     # bidi control characters
    "\ufeff\u200bhva koster det",     # BOM and zero-width space
])
def test_odd_unicode_never_breaks(text):
    found = detect(text)
    assert found.lang in ("nn", "nb", None)
    assert 0.0 <= found.confidence <= 1.0


def test_full_width_and_decomposed_letters_are_normalised():
    assert detect("ｋｖａ ｋｏｓｔａｒ ｄｅｔ").lang == "nn"
    assert detect("hva koster det na\u030a").lang == "nb"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_detect_never_raises_and_returns_a_valid_detection(text):
    found = detect(text)
    assert isinstance(found, Detection)
    assert found.lang in ("nn", "nb", None)
    assert 0.0 <= found.confidence <= 1.0
    if found.lang is None:
        assert found.confidence == 0.0
    else:
        assert found.confidence >= 0.5


def test_detect_rejects_non_text():
    with pytest.raises(TypeError):
        detect(None)  # type: ignore[arg-type]


def accuracy(model: Model, labelled: list[tuple[str, str]]) -> float:
    return sum(model.detect(t).lang == lang for t, lang in labelled) / len(labelled)


def test_accuracy_floor_on_committed_sets():
    """Regression floor: chat-style questions (both halves) and the committed sample."""
    model = Model.load()
    tune, held = read_chat_set()
    chat = [(t, lang) for t, lang in tune + held if lang != "none"]
    no_evidence = [t for t, lang in tune + held if lang == "none"]
    sample = rows(DATA / "lang_sample.tsv")
    assert len(chat) >= 300 and len(no_evidence) >= 40 and len(sample) >= 40
    assert accuracy(model, chat) >= 0.95
    assert accuracy(model, sample) >= 0.93
    assert sum(model.detect(t).lang is None for t in no_evidence) / len(no_evidence) >= 0.8


def test_floor_fails_for_a_degraded_model(tmp_path):
    """The floor is not vacuous: an emptied model file answers None for everything."""
    empty = tmp_path / "model.json"
    empty.write_text(json.dumps({"version": 2, "threshold": 0.75, "weights": {}}), encoding="utf-8")
    tune, held = read_chat_set()
    chat = [(t, lang) for t, lang in tune + held if lang != "none"]
    assert accuracy(Model.load(empty), chat) < 0.95


def test_broken_model_file_says_how_to_fix_it(tmp_path):
    broken = tmp_path / "model.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(RuntimeError, match="bot.language.train"):
        Model.load(broken)
    with pytest.raises(RuntimeError, match="bot.language.train"):
        Model.load(tmp_path / "missing.json")


def test_model_file_is_small():
    assert MODEL_PATH.stat().st_size < 5_000_000


def test_importing_the_detector_pulls_in_no_torch():
    code = "import sys, bot.language as l; l.detect('kva'); assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the Rasa virtualenv (Python 3.10) is not built")
def test_detector_runs_on_python_3_10():
    code = ("from bot.language import detect; import sys; assert sys.version_info[:2] == (3, 10); "
            "print(detect('kva kostar det').lang)")
    out = subprocess.run([str(RASA_PYTHON), "-c", code], check=True, cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "nn"


def run_cli(args: list[str], stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "lang", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)


def test_cli_json_prints_one_object_per_line():
    proc = run_cli(["--json"], "kva kostar det\nhva koster det\n\ntakk\n")
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["text"] for r in results] == ["kva kostar det", "hva koster det", "", "takk"]
    assert [r["lang"] for r in results] == ["nn", "nb", None, None]
    assert all(set(r) == {"text", "lang", "confidence"} for r in results)
    assert results[0]["confidence"] > 0.5 and results[3]["confidence"] == 0.0


def test_cli_plain_prints_tab_separated_lines():
    proc = run_cli([], "eg har ikkje fått svar\nok\n")
    assert proc.returncode == 0, proc.stderr
    first, second = [line.split("\t") for line in proc.stdout.splitlines()]
    assert first[0] == "nn" and first[2] == "eg har ikkje fått svar" and 0.5 < float(first[1]) <= 1
    assert second[0] == "-" and second[2] == "ok"


needs_apertium = pytest.mark.skipif(shutil.which("apertium") is None,
                                    reason="apertium is not installed (apt-get install apertium apertium-nno-nob)")


@needs_apertium
def test_apertium_round_trip_keeps_count_and_order():
    bokmal = [
        "Hvor mye koster det å søke om barnehageplass?",
        "Jeg har ikke fått svar på søknaden min.",
        "",
        "Legevakten er åpen hele døgnet,\nmen ring først.",
        "Send e-post til post@alver.kommune.no",
        "Søppelbilen kommer hver fredag.",
    ]
    nynorsk = apertium.convert(bokmal, target="nn")
    assert len(nynorsk) == len(bokmal)
    assert nynorsk[2] == ""
    assert "ikkje" in nynorsk[1] and "\n" not in nynorsk[3]
    assert "post@alver.kommune.no" in nynorsk[4]
    assert all(detect(t).lang == "nn" for i, t in enumerate(nynorsk) if i not in (2, 4))
    back = apertium.convert(nynorsk, target="nb")
    assert len(back) == len(bokmal)
    assert "ikke" in back[1]
    assert all(not any(w[:1] in "*#@" for w in t.split()) for t in nynorsk + back)


@needs_apertium
def test_apertium_batches_many_texts_in_one_call(monkeypatch):
    calls = []
    real_run = apertium.subprocess.run

    def counting_run(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(apertium.subprocess, "run", counting_run)
    texts = [f"Dette er melding nummer {i}, og jeg venter på svar." for i in range(50)]
    out = apertium.convert(texts, target="nn")
    assert len(calls) == 1 and len(out) == 50
    assert all(f"nummer {i}," in t and "eg" in t.split() for i, t in enumerate(out))


MESSY = Path(__file__).resolve().parent / "fixtures" / "apertium" / "messy_nb.md"


@needs_apertium
def test_apertium_converts_messy_real_world_text_line_by_line(monkeypatch):
    """Lists, tables, URLs, e-mail addresses, odd punctuation, markup, control and invisible
    characters, empty lines: every line comes back in its place, in one Apertium call.
    The file holds lines that made the old line-count alignment fail for the whole batch
    ("### Juli er gratis" comes back as two lines in Apertium's text format)."""
    calls = []
    real_run = apertium.subprocess.run
    monkeypatch.setattr(apertium.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    lines = MESSY.read_text(encoding="utf-8").split("\n")
    out = apertium.convert_detailed(lines, target="nn")
    assert len(calls) == 1 and len(out) == len(lines)
    assert all(c.converted for c in out)
    by_source = dict(zip(lines, (c.text for c in out)))
    converted = by_source["Søppelbilen kommer hver 2. uke. Papir og plast hentes hver 4. uke."]
    assert converted.startswith("Søppelbilen kjem kvar 2. veke.")
    assert by_source["- restavfall: hver 2. uke (onsdag)"] == "- restavfall: kvar 2. veke (onsdag)"
    assert by_source["| Restavfall 140 l | 3 450,- | per år |"] == "| Restavfall 140 l | 3 450,- | per år |"
    assert "postmottak@example.kommune.no" in by_source[next(line for line in lines if line.startswith("Ring 63"))]
    assert "https://www.example.no/avfall/tømmekalender?adresse=Storgata%201&år=2027#kalender" in \
        by_source[next(line for line in lines if line.startswith("Se https"))]
    assert "ola.nordmann+avfall@example.no" in by_source[next(line for line in lines if line.startswith("E-post:"))]
    assert by_source["### Juli er gratis"] == "### Juli er gratis"
    assert "utan" in by_source["Ordet. nytt avsnitt uten stor bokstav"]
    assert "frå ein e-post" in by_source[">> Sitert tekst fra en e-post."]
    assert all("\n" not in c.text and "\r" not in c.text and "\u200b" not in c.text for c in out)
    assert [c.text for c in out if not c.text] == [""] * sum(1 for line in lines if not line.strip())


def test_apertium_one_unusable_line_keeps_its_source_and_loses_no_other(monkeypatch):
    """Apertium drops, doubles or garbles one block: that text is retried alone, and if it
    fails again it keeps its source text; every other text is converted from the batch."""
    calls = []

    def fake_run(args, input, **kwargs):
        calls.append(input)
        blocks = re.findall(r'<p id="kb(\d+)">(.*?)</p>', input)
        out = []
        for number, text in blocks:
            if "ØDELAGT" in text:
                continue  # the block never comes back
            if "DOBBEL" in text:
                out.append(f'<p id="kb{number}">{text} </p><p id="kb{number}">{text}</p>')
                continue
            out.append(f'<p id="kb{number}">{text.replace("ikke", "ikkje")}</p>')
        return subprocess.CompletedProcess(args, 0, "\n".join(out) + "\n", "")

    monkeypatch.setattr(apertium.shutil, "which", lambda name: "/usr/bin/apertium")
    monkeypatch.setattr(apertium.subprocess, "run", fake_run)
    texts = ["Jeg har ikke fått svar.", "ØDELAGT linje ikke", "", "Det er ikke sant.", "DOBBEL ikke", "1234"]
    out = apertium.convert_detailed(texts, target="nn")
    assert [c.text for c in out] == ["Jeg har ikkje fått svar.", "ØDELAGT linje ikke", "", "Det er ikkje sant.",
                                     "DOBBEL ikke", "1234"]
    assert [c.converted for c in out] == [True, False, True, True, False, True]
    assert len(calls) == 3  # the batch, then each unusable text alone
    assert apertium.convert(texts, target="nn")[3] == "Det er ikkje sant."


def test_apertium_call_that_times_out_as_a_whole_is_split_in_halves_not_run_per_line(monkeypatch):
    """On a busy machine a big batch can time out: the batch is halved until the calls go
    through, instead of one Apertium start per text (2,000 texts would take many minutes)."""
    calls = []

    def fake_run(args, input, **kwargs):
        blocks = re.findall(r'<p id="kb(\d+)">(.*?)</p>', input)
        calls.append(len(blocks))
        if len(blocks) > 40:
            raise subprocess.TimeoutExpired(args, kwargs.get("timeout"))
        return subprocess.CompletedProcess(
            args, 0, "".join(f'<p id="kb{n}">{t.replace("ikke", "ikkje")}</p>' for n, t in blocks), "")

    monkeypatch.setattr(apertium.shutil, "which", lambda name: "/usr/bin/apertium")
    monkeypatch.setattr(apertium.subprocess, "run", fake_run)
    texts = [f"Melding {i} er ikke lest." for i in range(200)]
    out = apertium.convert_detailed(texts, target="nn")
    assert [c.text for c in out] == [f"Melding {i} er ikkje lest." for i in range(200)]
    assert all(c.converted for c in out)
    assert len(calls) < 20 and 1 not in calls, calls  # 200 -> 100 -> 50 -> 25: 15 calls


def test_apertium_output_far_off_in_length_is_not_used(monkeypatch):
    def fake_run(args, input, **kwargs):
        blocks = re.findall(r'<p id="kb(\d+)">(.*?)</p>', input)
        return subprocess.CompletedProcess(args, 0, "".join(f'<p id="kb{n}">{t} {t} {t}</p>' for n, t in blocks), "")

    monkeypatch.setattr(apertium.shutil, "which", lambda name: "/usr/bin/apertium")
    monkeypatch.setattr(apertium.subprocess, "run", fake_run)
    out = apertium.convert_detailed(["Søppelbilen kommer hver fredag."], target="nn")
    assert out == [apertium.Conversion("Søppelbilen kommer hver fredag.", False)]


def test_apertium_missing_names_the_debian_packages(monkeypatch):
    monkeypatch.setattr(apertium.shutil, "which", lambda name: None)
    with pytest.raises(apertium.ApertiumError, match="apertium-nno-nob"):
        apertium.convert(["Hei"], target="nn")


def test_apertium_rejects_unknown_target():
    with pytest.raises(ValueError):
        apertium.convert(["Hei"], target="sv")


def test_training_writes_a_model_that_detects(tmp_path):
    """`bot.language.train` end to end on a handful of pairs (the real data stays in ../shared)."""
    from bot.language import train

    pairs = [
        ("Jeg har ikke fått svar.", "Eg har ikkje fått svar."),
        ("Hva koster det?", "Kva kostar det?"),
        ("Hvordan søker jeg?", "Korleis søkjer eg?"),
        ("Vi har ikke noe å melde.", "Vi har ikkje noko å melde."),
        ("Hvor er kontoret?", "Kvar er kontoret?"),
        ("Det er mulig å søke nå.", "Det er mogleg å søkje no."),
        ("Barnehage i kommunen", "Barnehage i kommunen"),
    ]
    for name in ("train.tsv", "dev.tsv"):
        (tmp_path / name).write_text("".join(f"{nb}\t{nn}\n" for nb, nn in pairs), encoding="utf-8")
    out = tmp_path / "model.json"
    assert train.main(["--data", str(tmp_path), "--out", str(out), "--variants", "1"]) == 0
    model = Model.load(out)
    assert model.detect("eg har ikkje fått svar").lang == "nn"
    assert model.detect("jeg har ikke fått svar").lang == "nb"
    assert train.main(["--data", str(tmp_path / "missing")]) == 2

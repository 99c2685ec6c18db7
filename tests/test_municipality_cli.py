"""`bin/kommunebot municipality add|check|list`: scaffold a municipality, say what is left
to write where, and accept it once it is complete."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.service.municipalities import registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    (tmp_path / "municipalities").mkdir()
    shutil.copy(ROOT / "municipalities" / "alver.yml", tmp_path / "municipalities" / "alver.yml")
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITIES_DIR", str(tmp_path / "municipalities"))
    monkeypatch.setenv("KOMMUNEBOT_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    monkeypatch.setenv("KOMMUNEBOT_INDEX_DIR", str(tmp_path / "indexes"))
    monkeypatch.delenv("KOMMUNEBOT_MUNICIPALITY_FILE", raising=False)
    monkeypatch.delenv("KOMMUNEBOT_DEFAULT_MUNICIPALITY", raising=False)
    return tmp_path


def test_a_bad_slug_is_refused_with_a_suggestion(deployment, capsys):
    assert main(["municipality", "add", "Nord_Fron"]) == 2
    err = capsys.readouterr().err
    assert "'Nord_Fron' is not a slug" in err and "e.g. nord-fron" in err
    assert not (deployment / "municipalities" / "Nord_Fron.yml").exists()


def test_add_scaffolds_a_profile_and_folders_and_lists_what_to_write_where(deployment, capsys):
    code = main(["municipality", "add", "ringerike", "--name", "Ringerike kommune", "--standard", "nb",
                 "--phone", "32 11 74 00", "--number", "3305"])
    out = capsys.readouterr().out
    profile = deployment / "municipalities" / "ringerike.yml"
    assert code == 1 and profile.is_file()
    assert (deployment / "knowledge" / "ringerike" / "nn").is_dir()
    assert (deployment / "knowledge" / "ringerike" / "nb").is_dir()
    assert f"{profile}: " in out                                       # the file ...
    assert "contact.email: is empty; fill it in" in out                 # ... the field and what to do
    assert 'opening_hours.phone[0].open: \'\' is not a time; write "HH:MM"' in out
    assert "write the municipality's pages in" in out and "bin/kommunebot index --municipality ringerike" in out
    data = yaml.safe_load(profile.read_text(encoding="utf-8"))
    assert (data["name"], data["reference_prefix"], data["default_language"]) == ("Ringerike kommune", "RIN", "nb")
    assert main(["municipality", "add", "ringerike"]) == 2               # never overwrites
    assert "exists already" in capsys.readouterr().err


def test_a_completed_municipality_passes_the_check_and_joins_the_registry(deployment, capsys):
    main(["municipality", "add", "hole", "--from", "alver", "--name", "Hole kommune", "--standard", "nb",
          "--phone", "32 16 00 00", "--email", "post@hole.kommune.no", "--website", "https://www.hole.kommune.no",
          "--number", "3310"])
    profile = deployment / "municipalities" / "hole.yml"
    text = profile.read_text(encoding="utf-8")
    for key, value in (("postal_address", "Hole kommune, Postboks 1, 3531 Krokkleiva"),
                       ("contact_form", "https://www.hole.kommune.no/kontakt/"),
                       ("min_side", "https://www.hole.kommune.no/min-side/")):
        text = text.replace(f'{key}: ""', f'{key}: "{value}"')
    profile.write_text(text, encoding="utf-8")
    page = deployment / "knowledge" / "hole" / "nb" / "kontakt.md"
    page.write_text("---\ntitle: Kontakt\nurl: https://www.hole.kommune.no/kontakt/\nlang: nb\n---\n\n"
                    "# Kontakt\n\nRing Hole kommune på 32 16 00 00.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["municipality", "check", "hole"]) == 0, capsys.readouterr().out
    hole = registry().get("hole")
    assert (hole.name, hole.reference_prefix, hole.default_language, hole.contact.phone) == \
        ("Hole kommune", "HOL", "nb", "32 16 00 00")
    assert hole.messenger_page_ids == ()                                 # never another municipality's pages
    assert main(["municipality", "list"]) == 0
    assert "hole" in capsys.readouterr().out


def test_check_finds_pages_in_the_wrong_folder(deployment, capsys):
    main(["municipality", "add", "testby", "--from", "alver", "--phone", "1", "--email",
          "a@b.no", "--website", "https://t.no", "--number", "1234"])
    page = deployment / "knowledge" / "testby" / "nb" / "feil.md"
    page.write_text("---\ntitle: Feil\nurl: https://t.no/feil\nlang: nn\n---\n\n# Feil\n\nTekst her.\n",
                    encoding="utf-8")
    capsys.readouterr()
    assert main(["municipality", "check"]) == 1
    out = capsys.readouterr().out
    assert "feil.md: front matter says lang: nn but the page is in nb/" in out


def test_check_finds_a_prefix_two_municipalities_share(deployment, capsys):
    main(["municipality", "add", "alvdal", "--from", "alver", "--prefix", "ALV", "--phone", "1", "--email",
          "a@b.no", "--website", "https://t.no", "--number", "1234"])
    profile = deployment / "municipalities" / "alvdal.yml"
    profile.write_text(profile.read_text(encoding="utf-8").replace('""', '"https://t.no/x"'), encoding="utf-8")
    for slug in ("alver", "alvdal"):
        page = deployment / "knowledge" / slug / "nn" / "p.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("---\ntitle: P\nurl: https://t.no/p\nlang: nn\n---\n\n# P\n\nTekst.\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["municipality", "check"]) == 1
    assert "reference_prefix 'ALV' is already used by" in capsys.readouterr().out

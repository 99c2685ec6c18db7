"""Many municipalities in one deployment (bot.service.municipalities): the registry of
profiles, its settings, the one-file deployment outside the checkout, and the channels'
check of the municipality a message names. No servers needed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bot.channels import municipality as channel_municipality
from bot.service.municipalities import UnknownMunicipality, registry, template_values
from bot.service.profile import ProfileError

ROOT = Path(__file__).resolve().parent.parent
ALVER = yaml.safe_load((ROOT / "municipalities" / "alver.yml").read_text(encoding="utf-8"))


def bokmal_profile(name: str = "Testby kommune", prefix: str = "TST", pages: list[str] | None = None) -> dict:
    data = copy.deepcopy(ALVER)
    data.update(name=name, written_standard="nb", default_language="nb", reference_prefix=prefix,
                service_name={"nn": "kundesenteret", "nb": "kundesenteret"}, messenger_page_ids=pages or [])
    data["contact"] = {**data["contact"], "phone": "12 34 56 78", "email": "post@testby.kommune.no",
                       "website": "https://www.testby.kommune.no"}
    return data


def write_profiles(folder: Path, **profiles: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for slug, data in profiles.items():
        (folder / f"{slug}.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def two(tmp_path, monkeypatch):
    """A deployment of alver (nn) and testby (nb) with its own knowledge and index folders."""
    folder = write_profiles(tmp_path / "municipalities", alver=ALVER, testby=bokmal_profile(pages=["111222333"]))
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITIES_DIR", str(folder))
    monkeypatch.setenv("KOMMUNEBOT_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    monkeypatch.setenv("KOMMUNEBOT_INDEX_DIR", str(tmp_path / "indexes"))
    monkeypatch.delenv("KOMMUNEBOT_MUNICIPALITY_FILE", raising=False)
    monkeypatch.delenv("KOMMUNEBOT_DEFAULT_MUNICIPALITY", raising=False)
    monkeypatch.delenv("KOMMUNEBOT_COMMON_KNOWLEDGE_DIR", raising=False)
    return tmp_path


def test_the_checkout_serves_alver_by_default():
    reg = registry()
    assert "alver" in reg.slugs and reg.get("alver").name == "Alver kommune"
    assert reg.default.slug == reg.slugs[0]


def test_every_profile_in_the_folder_by_slug(two):
    reg = registry()
    assert reg.slugs == ["alver", "testby"]
    assert reg.default.slug == "alver"                      # the first, without a setting
    testby = reg.get("testby")
    assert (testby.slug, testby.reference_prefix, testby.default_language) == ("testby", "TST", "nb")
    assert reg.for_messenger_page("111222333") is testby and reg.for_messenger_page("999") is None
    assert reg.index_dir("testby") == two / "indexes" / "testby"
    assert reg.local_dir("testby") == two / "knowledge" / "testby"


def test_default_municipality_setting(two, monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_DEFAULT_MUNICIPALITY", "testby")
    assert registry().default.slug == "testby"
    assert registry().resolve(None).slug == "testby" and registry().resolve("alver").slug == "alver"
    monkeypatch.setenv("KOMMUNEBOT_DEFAULT_MUNICIPALITY", "bergen")
    with pytest.raises(ProfileError, match=r"KOMMUNEBOT_DEFAULT_MUNICIPALITY='bergen'.*alver, testby"):
        registry()


def test_unknown_slug_names_the_known_ones(two):
    with pytest.raises(UnknownMunicipality) as info:
        registry().get("bergen")
    assert str(info.value) == "unknown municipality 'bergen'; known municipalities: alver, testby"


def test_a_changed_profile_is_read_again(two):
    assert registry().get("testby").name == "Testby kommune"
    write_profiles(two / "municipalities", testby=bokmal_profile(name="Nyby kommune"), nyby=bokmal_profile(
        name="Nyby kommune", prefix="NYB"))
    assert registry().get("testby").name == "Nyby kommune" and "nyby" in registry().slugs


def test_profiles_must_not_share_a_prefix_or_a_page(two):
    write_profiles(two / "municipalities", copy=bokmal_profile(prefix="ALV", pages=["111222333"]))
    with pytest.raises(ProfileError) as info:
        registry()
    message = str(info.value)
    assert "reference_prefix 'ALV' is already used by alver" in message
    assert "page 111222333 is also listed by" in message


def test_bad_file_names_and_broken_profiles_are_reported_by_file(two):
    folder = two / "municipalities"
    write_profiles(folder, **{"Nord_Fron": bokmal_profile(prefix="NOF")})
    broken = bokmal_profile(prefix="BRO")
    broken["contact"].pop("phone")
    write_profiles(folder, broken=broken)
    with pytest.raises(ProfileError) as info:
        registry()
    message = str(info.value)
    assert "Nord_Fron.yml: the file name is the municipality's slug" in message and "nord-fron.yml" in message
    assert "broken.yml" in message and "contact.phone: missing" in message


def test_an_empty_folder_says_how_to_add_one(tmp_path, monkeypatch):
    (tmp_path / "none").mkdir()
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITIES_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("KOMMUNEBOT_MUNICIPALITY_FILE", raising=False)
    with pytest.raises(ProfileError, match="no municipality profiles; add one with `bin/kommunebot municipality add"):
        registry()


def test_one_municipality_from_files_outside_the_checkout(tmp_path, monkeypatch):
    """Issue 11.1: KOMMUNEBOT_MUNICIPALITY_FILE, _KNOWLEDGE_DIR and _INDEX_DIR still make a
    deployment whose files live anywhere; the folders are that municipality's own."""
    outside = tmp_path / "elsewhere"
    profile = write_profiles(outside, municipality=bokmal_profile(name="Ringerike kommune", prefix="RIN"))
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITY_FILE", str(profile / "municipality.yml"))
    monkeypatch.setenv("KOMMUNEBOT_KNOWLEDGE_DIR", str(outside / "pages"))
    monkeypatch.setenv("KOMMUNEBOT_INDEX_DIR", str(outside / "index"))
    monkeypatch.delenv("KOMMUNEBOT_DEFAULT_MUNICIPALITY", raising=False)
    monkeypatch.delenv("KOMMUNEBOT_COMMON_KNOWLEDGE_DIR", raising=False)
    reg = registry()
    assert reg.slugs == ["ringerike"] and reg.default.name == "Ringerike kommune"
    assert reg.index_dir("ringerike") == outside / "index"
    assert reg.local_dir("ringerike") == outside / "pages"
    (outside / "pages").mkdir()
    assert reg.knowledge_dirs("ringerike")[-1] == outside / "pages"
    monkeypatch.setenv("KOMMUNEBOT_COMMON_KNOWLEDGE_DIR", "")
    assert registry().knowledge_dirs("ringerike") == [outside / "pages"]   # no common pages


def test_template_values_are_the_municipalitys_words_in_its_standard(two):
    reg = registry()
    nb = template_values(reg.get("testby"), "nb")
    assert nb["municipality_name"] == "Testby kommune" and nb["phone"] == "12 34 56 78"
    assert nb["service_name"] == "kundesenteret" and nb["phone_hours"] == "mandag–fredag kl. 09.00–15.00"
    nn = template_values(reg.get("alver"), "nn")
    assert nn["service_name"] == "innbyggjarservice" and nn["phone_hours"] == "måndag–fredag kl. 09.00–15.00"


def test_channels_refuse_an_unknown_municipality_and_accept_known_ones(two):
    problem = channel_municipality.problem
    assert problem({"municipality": "bergen"}) == ("'metadata.municipality': unknown municipality 'bergen'; "
                                                   "known municipalities: alver, testby")
    assert problem({"municipality": 7}).startswith("'metadata.municipality'")
    assert problem({"municipality": "testby"}) is None
    assert problem({}) is None and problem(None) is None                    # none named: the default
    assert channel_municipality.default_language({"municipality": "testby"}) == "nb"
    assert channel_municipality.default_language({}) == "nn"


def test_the_rasa_process_imports_no_heavy_packages():
    """bot.rasa_guard and what it imports run in the Rasa server: no torch, numpy-heavy or
    `holidays` code from our side (Rasa itself brings numpy)."""
    import subprocess
    import sys

    code = ("import sys; import bot.service.municipalities as m, bot.service.texts, bot.channels.municipality;"
            "m.template_values(m.registry().default, 'nb');"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('torch', 'numpy', 'faiss', 'sentence_transformers', 'holidays', 'sqlalchemy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout

"""The assistant's data: responses in both standards, NLU data per standard, and no
municipality's words in domain.yml (they come from the profiles). No servers needed."""

from __future__ import annotations

import string
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.config import ROOT
from bot.language import detect
from bot.service.municipalities import registry, template_values

LANGS = ("nn", "nb")
MIN_EXAMPLES = 25
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def language_of(variation: dict) -> str | None:
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return condition.get("value")
    return None


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def nlu_examples(lang: str) -> dict[str, list[str]]:
    examples: dict[str, list[str]] = {}
    for path in sorted((ROOT / "data" / "nlu" / lang).glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            lines = [line.strip()[2:].strip() for line in block["examples"].splitlines() if line.strip()]
            examples.setdefault(block["intent"], []).extend(lines)
    return examples


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_every_response_has_a_nynorsk_and_a_bokmal_variation(name):
    variations = DOMAIN["responses"][name]
    by_lang = Counter(language_of(v) for v in variations)
    missing = [lang for lang in LANGS if by_lang[lang] == 0]
    assert not missing, f"{name} has no variation for language={missing} in domain.yml"
    texts = {language_of(v): v.get("text", "") for v in variations if language_of(v)}
    assert placeholders(texts["nn"]) == placeholders(texts["nb"]), f"{name}: nn and nb use different {{values}}"
    buttons = {language_of(v): [b["payload"] for b in v.get("buttons") or []] for v in variations if language_of(v)}
    assert buttons["nn"] == buttons["nb"], f"{name}: nn and nb buttons lead to different payloads"


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_each_variation_is_written_in_its_standard(name):
    for variation in DOMAIN["responses"][name]:
        lang = language_of(variation)
        if lang is None:
            continue
        # with the profile's words in this standard filled in, the actions' values left out
        values = _Blank(template_values(registry().default, lang))
        text = string.Formatter().vformat(variation.get("text", ""), (), values)
        found = detect(text).lang
        assert found in (lang, None), f"{name}: the {lang} variation reads as {found}: {variation['text']!r}"


def _municipality_words() -> set[str]:
    """Words that belong to one municipality: its name, phone, e-mail, web site, desks, service name."""
    words = set()
    for profile in registry():
        words |= {profile.name, profile.name.split()[0], profile.contact.phone, profile.contact.email,
                  profile.contact.website.split("//")[-1], *profile.service_name.values()}
        words |= {desk.name for desk in profile.service_desks}
    return {w for w in words if w and w != "kommunen"}


def test_domain_has_no_municipality_words():
    """One model serves every municipality: names, numbers and service names are placeholders."""
    text = (ROOT / "domain.yml").read_text(encoding="utf-8")
    found = sorted(w for w in _municipality_words() if w.lower() in text.lower())
    assert not found, f"domain.yml names a municipality's {found}: use {{municipality_name}}, {{phone}}, ... instead"
    assert "initial_value" not in DOMAIN["slots"]["language"], \
        "the start standard is the municipality's default_language (action_session_start), not a fixed value"


def test_every_placeholder_is_filled_from_the_profile_or_by_the_action():
    profile_keys = set(template_values(registry().default, "nn"))
    for name in ("utter_greet", "utter_technical_problem"):  # said without any action's values
        for variation in DOMAIN["responses"][name]:
            missing = placeholders(variation["text"]) - profile_keys
            assert not missing, f"{name} uses {missing}, which no profile value fills"
    for profile in registry():
        for lang in LANGS:
            values = template_values(profile, lang)
            assert all(values[key] for key in ("municipality_name", "phone", "phone_hours", "service_name")), values


@pytest.mark.parametrize("lang", LANGS)
def test_every_intent_has_enough_examples_in_each_standard(lang):
    examples = nlu_examples(lang)
    for intent in DOMAIN["intents"]:
        count = len(set(examples.get(intent, [])))
        assert count >= MIN_EXAMPLES, f"intent {intent} has {count} distinct {lang} examples (< {MIN_EXAMPLES})"


@pytest.mark.parametrize("lang", LANGS)
def test_training_examples_are_in_their_standard(lang):
    """Dialect spellings may read either way; clear contradictions stay rare."""
    texts = [t for ts in nlu_examples(lang).values() for t in ts]
    other = [t for t in texts if detect(t).lang not in (lang, None)]
    assert len(other) / len(texts) < 0.06, f"{len(other)} {lang} examples read as the other standard: {other}"


def test_rasa_inputs_parse_and_name_only_declared_things():
    """Every intent/action used in data/ exists in domain.yml (rasa train checks the rest)."""
    intents = set(DOMAIN["intents"]) | {"nlu_fallback"}
    actions = set(DOMAIN["actions"]) | set(DOMAIN["responses"]) | {"action_listen", "case_form"}
    for path in list((ROOT / "data").rglob("*.yml")) + [ROOT / "tests" / "test_stories.yml"]:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in (data.get("rules") or []) + (data.get("stories") or []):
            for step in item.get("steps") or []:
                if "intent" in step:
                    assert step["intent"] in intents, f"{path}: unknown intent {step['intent']}"
                if "action" in step:
                    assert step["action"] in actions, f"{path}: unknown action {step['action']}"


def test_custom_nlu_component_is_in_the_pipeline():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    assert "bot.rasa_nlu.written_standard.WrittenStandardExtractor" in names
    assert names.index("FallbackClassifier") > names.index("DIETClassifier")
    endpoints = Path(ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert endpoints.count("bot.rasa_guard.GuardedResponseGenerator") == 1

"""Channel-side privacy and abuse checks as plain functions (no servers): text length
before normalisation, client metadata, client address behind a trusted proxy, tokens."""

from __future__ import annotations

import time
import unicodedata

import pytest

from bot.channels import user_text
from bot.channels.user_text import MAX_MESSAGE_CHARS, TOO_LONG, check_text
from bot.privacy import keys
from bot.privacy.metadata import SERVER_KEY, client_metadata, server_fact, with_server
from bot.privacy.proxy import client_address, forwarded_https


def test_length_is_checked_before_the_text_is_normalised(monkeypatch):
    seen: list[int] = []
    real = unicodedata.normalize

    def normalize(form: str, text: str) -> str:
        seen.append(len(text))
        return real(form, text)

    monkeypatch.setattr(user_text.unicodedata, "normalize", normalize)
    started = time.perf_counter()
    assert check_text("å" * 20_000_000).problem == TOO_LONG
    assert time.perf_counter() - started < 0.5
    assert not seen or max(seen) <= 4 * MAX_MESSAGE_CHARS, f"normalised {max(seen)} characters"


def test_text_that_normalisation_shortens_to_the_limit_is_still_accepted():
    decomposed = "a\u030a" * MAX_MESSAGE_CHARS  # "å" as two code points: NFC halves it
    checked = check_text(decomposed)
    assert checked.problem is None and checked.text == "å" * MAX_MESSAGE_CHARS


def test_client_metadata_keeps_only_known_short_strings():
    raw = {"widget_lang": "nb", "municipality": "alver", "evil": "01010012356", SERVER_KEY: {"client": "forged"},
           "nested": {"x": 1}, "long": "x" * 10}
    assert client_metadata(raw) == {"widget_lang": "nb", "municipality": "alver"}
    assert client_metadata({"widget_lang": "x" * 500}) == {}
    assert client_metadata({"widget_lang": "ola@example.no", "municipality": "../../etc"}) == {}
    for junk in (None, "text", ["a"], 42):
        assert client_metadata(junk) == {}


def test_server_facts_cannot_be_set_by_the_client():
    metadata = with_server({"widget_lang": "nn", SERVER_KEY: {"client": "forged"}}, client="c-real")
    assert server_fact(metadata, "client") == "c-real"
    assert server_fact({SERVER_KEY: "x"}, "client") is None and server_fact(None, "client") is None


def test_forwarded_headers_count_only_from_a_trusted_proxy(monkeypatch):
    monkeypatch.delenv("KOMMUNEBOT_TRUSTED_PROXIES", raising=False)
    assert client_address("198.51.100.7", "203.0.113.9") == "198.51.100.7"
    assert not forwarded_https("127.0.0.1", "https")
    monkeypatch.setenv("KOMMUNEBOT_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert client_address("127.0.0.1", "203.0.113.9") == "203.0.113.9"
    # The client may prepend anything; the address the trusted proxies saw counts.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert client_address("127.0.0.1", "not-an-address") == "127.0.0.1"
    assert client_address("198.51.100.7", "203.0.113.9") == "198.51.100.7"  # not a proxy of ours
    assert forwarded_https("127.0.0.1", "https") and not forwarded_https("198.51.100.7", "https")
    assert not forwarded_https("127.0.0.1", "http")


def test_tokens_and_client_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("KOMMUNEBOT_SECRET_KEY", raising=False)
    monkeypatch.setenv("KOMMUNEBOT_VAR_DIR", str(tmp_path))
    token = keys.sign("rest", "conv-1")
    assert (tmp_path / "secret-key").stat().st_mode & 0o777 == 0o600
    assert keys.verify("rest", "conv-1", token)
    assert not keys.verify("rest", "conv-2", token) and not keys.verify("socketio", "conv-1", token)
    forged = token[:-1] + ("y" if token[-1] == "x" else "x")
    assert not keys.verify("rest", "conv-1", None) and not keys.verify("rest", "conv-1", forged)
    assert keys.client_key("203.0.113.9") == keys.client_key("203.0.113.9") != keys.client_key("203.0.113.8")
    assert "203" not in keys.client_key("203.0.113.9")[2:6]
    monkeypatch.setenv("KOMMUNEBOT_SECRET_KEY", "another key")
    assert not keys.verify("rest", "conv-1", token)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_secret_file_is_a_clear_error(monkeypatch, tmp_path, value):
    monkeypatch.delenv("KOMMUNEBOT_SECRET_KEY", raising=False)
    monkeypatch.setenv("KOMMUNEBOT_VAR_DIR", str(tmp_path))
    (tmp_path / "secret-key").write_text(value)
    with pytest.raises(RuntimeError, match="secret-key is empty"):
        keys.secret_key()

"""Property-based tests (hypothesis, bounded): knowledge search on arbitrary text, and a
fuzz run over the public HTTP endpoints of the real servers (REST webhook, Facebook
webhook, staff portal login). Language detection, PII redaction and the time arithmetic
have their own property tests (test_language.py, test_privacy.py, test_service_eta.py).

Every fuzzed request must get an answer below 500 (or the 503 of an unconfigured
channel) without a stack trace, within the timeout, and the server must keep answering.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import assert_clean, assert_login_refused

from bot.service.municipalities import registry

# Bounded: each HTTP example is a real request through the servers (~0.1-1 s on 2 cores).
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
FUZZ_SLOW = settings(FUZZ, max_examples=20)  # examples that run the whole NLU + search path
TIMEOUT = 60

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
texts = st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1"))


# -- search ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def searcher():
    from bot.knowledge.search import Searcher

    reg = registry()
    index_dir = reg.index_dir(reg.default_slug)
    if not (index_dir / "manifest.json").exists():
        pytest.fail(f"no knowledge index in {index_dir}: run `make install` first")
    return Searcher.load(index_dir)


@FUZZ_SLOW
@given(query=texts, lang=st.sampled_from(["nn", "nb", None]), k=st.integers(min_value=1, max_value=10))
def test_search_on_any_text_returns_ranked_calibrated_hits(searcher, query, lang, k):
    hits = searcher.search(query, k=k, lang=lang)
    assert len(hits) <= k
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert isinstance(searcher.is_answerable(hits), bool)


# -- HTTP endpoints --------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def servers_still_answer_afterwards(request):
    """After each fuzz test against the servers (whatever ran before it), a normal question
    still gets a normal answer: the fuzzing broke nothing."""
    yield
    if request.node.get_closest_marker("servers") is None:
        return
    servers = request.getfixturevalue("servers")
    body = json.dumps({"sender": servers.new_sender(), "message": "Kva tid opnar de?"})
    response = httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook", content=body,
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert response.status_code == 200 and any(r.get("text") for r in response.json()), response.text[:300]

@pytest.mark.servers
@FUZZ
@given(body=st.dictionaries(st.sampled_from(["sender", "message", "metadata", "input_channel"]), json_values)
       | json_values)
def test_rest_webhook_fuzz(servers, body):
    response = httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook", json=body, timeout=TIMEOUT)
    assert_clean(response)
    assert response.status_code in (200, 400, 403)  # 403: a sender id used before, without its token
    if response.status_code == 400:
        assert "error" in response.json()


@pytest.mark.servers
@FUZZ_SLOW
@given(message=texts)
def test_rest_webhook_text_fuzz_gets_an_answer(servers, message):
    response = httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook",
                          json={"sender": servers.new_sender(), "message": message}, timeout=TIMEOUT)
    assert_clean(response)
    assert response.status_code == 200 and any(r.get("text") for r in response.json()), response.text[:300]


@pytest.mark.servers
@FUZZ
@given(raw=st.binary(max_size=2000), content_type=st.sampled_from(["application/json", "text/plain",
                                                                  "application/octet-stream"]))
def test_rest_and_facebook_webhooks_raw_bytes_fuzz(servers, raw, content_type):
    for path in ("/webhooks/rest/webhook", "/webhooks/facebook/webhook"):
        response = httpx.post(f"{servers.rasa_url}{path}", content=raw, headers={"Content-Type": content_type},
                              timeout=TIMEOUT)
        assert_clean(response)


@pytest.mark.servers
@FUZZ
@given(form=st.dictionaries(st.sampled_from(["username", "password", "csrf_token", "next"]), texts, max_size=4))
def test_staff_login_fuzz(servers, form):
    if not servers.staff_url:
        pytest.fail("the staff portal is not running in the servers fixture")
    response = httpx.post(f"{servers.staff_url}/staff/login", data=form, timeout=TIMEOUT, follow_redirects=False)
    assert_login_refused(response)

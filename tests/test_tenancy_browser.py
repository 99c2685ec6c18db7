"""Both demo municipalities in a real browser: the staff portal's demo page of each, its
widget (data-municipality) over socket.io to the real Rasa and action servers; answers
carry that municipality's facts in its written standard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_widget import browser_type_launch_args, open_widget, run_axe, say  # noqa: F401 (fixture)

from bot.service.municipalities import registry

pytestmark = [pytest.mark.browser, pytest.mark.servers]

QUESTION = {"nn": "Kva er telefonnummeret til kommunen?", "nb": "Hva er telefonnummeret til kommunen?"}


@pytest.mark.parametrize("slug", registry().slugs)
def test_each_demo_page_talks_to_its_own_municipality(page: Page, servers, slug):
    profile = registry().get(slug)
    lang = profile.default_language
    page.set_viewport_size({"width": 1280, "height": 800})
    open_widget(page, f"{servers.staff_url}/demo/{slug}")
    say(page, QUESTION[lang])
    log = page.locator("#kommunebot .kb-log")
    expect(log).to_contain_text(profile.contact.phone, timeout=60_000)
    expect(log).to_contain_text(profile.name)
    for other in registry():
        if other.slug != slug:
            assert other.contact.phone not in log.text_content()
    for node in page.locator("#kommunebot .kb-bot").all():
        assert node.get_attribute("lang") == lang, node.text_content()
    assert run_axe(page) == []

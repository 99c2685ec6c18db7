"""The chat widget in a real browser (Debian's chromium through Playwright).

Rendering, keyboard and accessibility tests talk to the project's real socket.io channel
(bot.channels.socketio in the Rasa virtualenv, tests/channels_app.py) with a scripted
stand-in for the assistant, so each test controls what the bot says. The last test asks
the real, trained assistant through the real servers.

Screenshots go to tests/artifacts/ (not committed).
"""

from __future__ import annotations

import re

import pytest
from channels_support import ARTIFACTS, ROOT, StaticSite, channel_app_with_fake_graph, chromium_path
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
REPLY_TIMEOUT = 15_000


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"],
    }


@pytest.fixture(scope="module")
def channel_app(tmp_path_factory):
    with channel_app_with_fake_graph(tmp_path_factory.mktemp("widget")) as app:
        yield app


@pytest.fixture(scope="module")
def site(channel_app):
    static = StaticSite(channel_app.url)
    yield static
    static.close()


def run_axe(page: Page) -> list[dict]:
    """WCAG 2.1 A and AA violations axe-core finds on the page as it is now."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} missing: run `npm ci` in {ROOT} (package.json pins axe-core)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations",
        WCAG_TAGS,
    )
    return [{"id": v["id"], "help": v["help"], "nodes": [n["html"][:200] for n in v["nodes"]]}
            for v in result]


def open_widget(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Chat med kommunen").click()
    expect(page.get_by_role("dialog", name="Chat med kommunen")).to_be_visible()
    page.locator("#kommunebot .kb-dialog").evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")


def say(page: Page, text: str) -> None:
    box = page.get_by_label("Skriv spørsmålet ditt")
    box.fill(text)
    box.press("Enter")


def bot_messages(page: Page):
    return page.locator("#kommunebot .kb-log .kb-bot, #kommunebot .kb-log .kb-staff, #kommunebot .kb-log .kb-notice")


def test_axe_finds_no_wcag_violations_closed_and_open_with_messages(page: Page, site):
    page.goto(site.url)
    expect(page.get_by_role("button", name="Chat med kommunen")).to_be_visible()
    assert run_axe(page) == []

    open_widget(page, site.url)
    for command in ("/answer", "/buttons", "/handoff", "/html"):
        say(page, command)
    expect(page.locator("#kommunebot .kb-log")).to_contain_text("<script>", timeout=REPLY_TIMEOUT)
    expect(page.locator("#kommunebot .kb-choice").first).to_be_visible()
    assert run_axe(page) == []


def test_keyboard_only_open_send_answer_buttons_and_escape(page: Page, site):
    page.goto(site.url)
    launcher = page.locator("#kommunebot .kb-launcher")
    for _ in range(40):  # Tab through the page until the launcher has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the chat launcher cannot be reached with Tab")
    outline = launcher.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.startswith("solid") and float(outline.split()[1].rstrip("px")) >= 2, outline

    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Chat med kommunen")
    expect(dialog).to_be_visible()
    box = page.get_by_label("Skriv spørsmålet ditt")
    expect(box).to_be_focused()

    page.keyboard.type("Kva kostar SFO?")
    page.keyboard.press("Enter")
    expect(page.locator("#kommunebot .kb-user").last).to_contain_text("Kva kostar SFO?")
    expect(bot_messages(page).last).to_contain_text("Du spurde om: Kva kostar SFO?", timeout=REPLY_TIMEOUT)

    page.keyboard.type("/buttons")
    page.keyboard.press("Enter")
    yes = page.get_by_role("button", name="Ja")
    expect(yes).to_be_visible(timeout=REPLY_TIMEOUT)
    page.keyboard.press("Shift+Tab")  # from the text box back into the transcript: "Nei"
    page.keyboard.press("Shift+Tab")  # "Ja"
    expect(yes).to_be_focused()
    page.keyboard.press("Enter")
    expect(yes).to_be_disabled()
    expect(page.get_by_role("button", name="Nei")).to_be_disabled()
    expect(box).to_be_focused()
    expect(page.locator("#kommunebot .kb-user").last).to_have_text(re.compile(r"Ja$"))
    expect(bot_messages(page).last).to_contain_text("/affirm", timeout=REPLY_TIMEOUT)

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_reply_while_closed_is_flagged_on_the_launcher(page: Page, site):
    open_widget(page, site.url)
    say(page, "/later")
    page.keyboard.press("Escape")
    launcher = page.locator("#kommunebot .kb-launcher")
    expect(launcher).to_have_accessible_name("Chat med kommunen (ny melding)", timeout=REPLY_TIMEOUT)
    launcher.click()
    expect(launcher).to_have_accessible_name("Chat med kommunen")
    expect(bot_messages(page).last).to_contain_text("Takk for at du venta.")


def test_bokmal_page_gets_bokmal_widget_texts(page: Page, site):
    open_widget(page, site.url + "/?lang=nb")
    assert page.locator("#kommunebot").get_attribute("lang") == "nb"
    log = page.locator("#kommunebot .kb-log")
    expect(log).to_contain_text("Du skriver med en chatbot. Ikke skriv personnummer")
    expect(log).to_contain_text("Hei! Hva lurer du på?")
    say(page, " ")
    expect(page.locator("#kommunebot .kb-error")).to_have_text("Skriv et spørsmål før du sender.")
    assert run_axe(page) == []


def test_no_reply_gives_the_municipalitys_phone_number_as_a_link(page: Page, site):
    """QA finding 15: the widget's own fallback said "ring kommunen" without the number."""
    page.clock.install()
    open_widget(page, site.url)
    say(page, "/silent")
    expect(page.locator("#kommunebot .kb-user").last).to_contain_text("/silent")
    page.clock.fast_forward("00:31")  # the widget waits 30 s for a reply
    notice = page.locator("#kommunebot .kb-notice").last
    expect(notice).to_contain_text("Eg fekk ikkje svar. Prøv igjen om litt, eller ring kommunen på 56 37 50 00.",
                                   timeout=REPLY_TIMEOUT)
    expect(notice.get_by_role("link", name="56 37 50 00")).to_have_attribute("href", "tel:+4756375000")


def test_empty_message_gives_a_visible_error_not_a_send(page: Page, site):
    open_widget(page, site.url)
    before = page.locator("#kommunebot .kb-user").count()
    say(page, "   ")
    expect(page.locator("#kommunebot .kb-error")).to_have_text("Skriv eit spørsmål før du sender.")
    expect(page.get_by_label("Skriv spørsmålet ditt")).to_have_attribute("aria-invalid", "true")
    assert page.locator("#kommunebot .kb-user").count() == before


def test_hostile_html_is_shown_as_text(page: Page, site, channel_app):
    open_widget(page, site.url)
    hostile_user = '<img src=x onerror="window.__pwned=1"><b>hei</b>'
    say(page, hostile_user)
    say(page, "/html")
    log = page.locator("#kommunebot .kb-log")
    expect(log).to_contain_text("<script>window.__pwned=1</script>", timeout=REPLY_TIMEOUT)
    expect(page.locator("#kommunebot .kb-user").first).to_contain_text(hostile_user)
    assert log.locator("img, script, b").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_reply_is_announced_once_through_alternating_live_regions(page: Page, site):
    open_widget(page, site.url)
    regions = page.locator('#kommunebot [aria-live="polite"]')
    assert regions.count() == 2
    assert page.locator("#kommunebot .kb-log").get_attribute("aria-live") == "off"
    snapshots = []
    for _ in range(2):  # the same reply twice: it must be announced again, in the other region
        before = [regions.nth(i).text_content() for i in range(2)]
        say(page, "Opningstider")
        page.wait_for_function(
            """before => {
                 const now = [...document.querySelectorAll('#kommunebot [aria-live="polite"]')]
                   .map(r => r.textContent);
                 return now.join('|') !== before.join('|') && now.some(t => t.includes('Du spurde om: Opningstider'));
               }""",
            arg=before, timeout=REPLY_TIMEOUT)
        texts = [regions.nth(i).text_content() for i in range(2)]
        assert sorted(texts) == ["", "Kommunebot: Du spurde om: Opningstider"], texts
        snapshots.append(texts)
    assert snapshots[0] == snapshots[1][::-1]  # alternated


def test_messages_carry_lang_and_answer_sources(page: Page, site):
    open_widget(page, site.url)
    assert page.locator("#kommunebot").get_attribute("lang") == "nn"
    say(page, "/bokmal")
    source = page.locator("#kommunebot .kb-source").last
    expect(source).to_contain_text("Kilde:", timeout=REPLY_TIMEOUT)
    expect(source).to_contain_text("Denne teksten er maskinoversatt fra nynorsk.")
    assert source.get_attribute("lang") == "nb"
    assert page.locator("#kommunebot .kb-bot").nth(-2).get_attribute("lang") == "nb"
    assert page.locator("#kommunebot .kb-user").last.get_attribute("lang") == "nb"

    say(page, "/answer")
    source = page.locator("#kommunebot .kb-source").last
    expect(source).to_contain_text("Kjelde:", timeout=REPLY_TIMEOUT)
    assert source.get_attribute("lang") == "nn"
    link = source.get_by_role("link", name=re.compile("Barnehageopptak"))
    assert link.get_attribute("href") == "https://www.alver.kommune.no/barnehage/"
    expect(source).to_contain_text("Sjå også:")
    for node in page.locator("#kommunebot .kb-msg").all():
        assert node.get_attribute("lang") in ("nn", "nb")


def test_answer_payload_does_not_repeat_links_the_text_gave(page: Page, site):
    open_widget(page, site.url)
    say(page, "/answer-linked")
    expect(page.locator("#kommunebot .kb-related")).to_contain_text("SFO", timeout=REPLY_TIMEOUT)
    log = page.locator("#kommunebot .kb-log")
    assert log.locator('a[href="https://www.alver.kommune.no/barnehage/"]').count() == 1
    assert log.locator('a[href="https://www.alver.kommune.no/sfo/"]').count() == 1
    expect(log).not_to_contain_text("Kjelde:")


def test_handoff_states_are_shown(page: Page, site):
    open_widget(page, site.url)
    say(page, "/handoff")
    log = page.locator("#kommunebot .kb-log")
    case = page.locator("#kommunebot .kb-case")
    expect(case).to_contain_text("Saka di er registrert.", timeout=REPLY_TIMEOUT)
    facts = [t.strip() for t in case.locator("dt, dd").all_text_contents()]
    assert facts[:2] == ["Referanse:", "ALV-2026-0042"], facts  # a short card, not a wall of text
    assert facts[2] == "Svar innan:" and re.match(r"torsdag 26\. november kl\. 15\.00", facts[3]), facts
    expect(log).to_contain_text("Du står i kø for å snakke med ein person frå kommunen.")
    expect(log).to_contain_text("Ein person frå kommunen er med i samtalen no.")
    staff = page.locator("#kommunebot .kb-staff")
    expect(staff).to_contain_text("Frå kommunen:")
    expect(staff).to_contain_text("Hei, eg heiter Kari og jobbar i servicetorget.")
    expect(log).to_contain_text("Samtalen med kommunen er avslutta.")
    # case_created ends the waiting state: the status line is gone
    expect(page.locator("#kommunebot .kb-status")).to_be_hidden()


def test_reload_continues_the_same_session(page: Page, site, channel_app):
    open_widget(page, site.url)
    say(page, "Fyrste spørsmål")
    expect(bot_messages(page).last).to_contain_text("Fyrste spørsmål", timeout=REPLY_TIMEOUT)
    page.reload()
    expect(page.get_by_role("dialog", name="Chat med kommunen")).to_be_visible()
    expect(page.locator("#kommunebot .kb-log")).to_contain_text("Du spurde om: Fyrste spørsmål")
    say(page, "Andre spørsmål")
    expect(bot_messages(page).last).to_contain_text("Andre spørsmål", timeout=REPLY_TIMEOUT)
    senders = {m["sender"] for m in channel_app.received() if m["text"] in ("Fyrste spørsmål", "Andre spørsmål")}
    assert len(senders) == 1


def test_after_a_reload_the_widget_shows_the_newest_message(page: Page, site):
    """QA finding 13: after a reload the transcript opened at the oldest message."""
    page.set_viewport_size({"width": 360, "height": 640})
    open_widget(page, site.url)
    for n in range(1, 7):
        say(page, f"Spørsmål nummer {n}")
        expect(bot_messages(page).last).to_contain_text(f"Spørsmål nummer {n}", timeout=REPLY_TIMEOUT)
    log = page.locator("#kommunebot .kb-log")
    assert log.evaluate("l => l.scrollHeight > l.clientHeight + 100"), "the test needs a transcript that scrolls"
    page.reload()
    expect(log).to_contain_text("Du spurde om: Spørsmål nummer 6")
    page.wait_for_function("() => { const l = document.querySelector('#kommunebot .kb-log');"
                           " return l.scrollTop > 0 && l.scrollHeight - l.scrollTop - l.clientHeight < 4; }",
                           timeout=REPLY_TIMEOUT)
    page.wait_for_timeout(500)  # and it stays there once the style sheet and fonts have settled
    assert log.evaluate("l => l.scrollHeight - l.scrollTop - l.clientHeight < 4")


def test_reflow_at_320_px_and_200_percent_zoom(page: Page, site):
    # 320 CSS px wide (WCAG 1.4.10), then 1280x800 at 200 % zoom = 640x400 CSS px.
    for width, height in ((320, 640), (640, 400)):
        page.set_viewport_size({"width": width, "height": height})
        open_widget(page, site.url)
        say(page, "/answer")
        expect(page.locator("#kommunebot .kb-source").last).to_be_visible(timeout=REPLY_TIMEOUT)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for selector in (".kb-dialog", ".kb-input", ".kb-send", ".kb-close"):
            box = page.locator(f"#kommunebot {selector}").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, box)
            assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (selector, box)
        log_width = page.locator("#kommunebot .kb-log").evaluate("el => el.scrollWidth - el.clientWidth")
        assert log_width <= 0
        # Full screen here: Tab stays inside the chat, Escape still returns to the launcher.
        page.locator("#kommunebot .kb-send").focus()
        page.keyboard.press("Tab")
        expect(page.locator("#kommunebot .kb-close")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        expect(page.locator("#kommunebot .kb-send")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#kommunebot .kb-launcher")).to_be_focused()
        page.evaluate("sessionStorage.clear()")


def test_reduced_motion_turns_animations_off(page: Page, site):
    page.emulate_media(reduced_motion="reduce")
    open_widget(page, site.url)
    assert page.locator("#kommunebot .kb-dialog").evaluate("el => getComputedStyle(el).animationName") == "none"
    page.emulate_media(reduced_motion="no-preference")
    page.reload()
    assert page.locator("#kommunebot .kb-dialog").evaluate("el => getComputedStyle(el).animationName") != "none"


def test_screenshots_desktop_and_mobile(page: Page, site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, size in (("desktop", {"width": 1280, "height": 800}), ("mobile", {"width": 375, "height": 740})):
        page.set_viewport_size(size)
        open_widget(page, site.url)
        say(page, "Når er søknadsfristen for barnehage?")
        say(page, "/answer")
        say(page, "/buttons")
        expect(page.get_by_role("button", name="Ja")).to_be_visible(timeout=REPLY_TIMEOUT)
        path = ARTIFACTS / f"widget-{name}.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
        page.evaluate("sessionStorage.clear()")


@pytest.mark.servers
def test_question_answered_by_the_real_servers(page: Page, servers):
    """The demo page from the staff portal, the real Rasa and action servers."""
    from bot.service.profile import load_profile

    static = None if servers.staff_url else StaticSite(servers.rasa_url)
    url = servers.staff_url or static.url
    try:
        page.set_viewport_size({"width": 1280, "height": 800})
        open_widget(page, url)
        phone = load_profile().contact.phone
        say(page, "Kva er telefonnummeret til kommunen?")
        log = page.locator("#kommunebot .kb-log")
        expect(log).to_contain_text(phone, timeout=60_000)
        say(page, "Når er søknadsfristen for barnehageplass?")
        expect(log).to_contain_text("1. mars", timeout=60_000)
        expect(page.locator("#kommunebot .kb-bot").last).to_be_visible()
        for node in page.locator("#kommunebot .kb-bot").all():
            assert node.get_attribute("lang") == "nn", node.text_content()
        assert run_axe(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-real-servers.png"))
    finally:
        if static:
            static.close()


@pytest.mark.servers
def test_live_handoff_round_trip_with_the_real_servers(page: Page, servers):
    """Citizen asks for a person in the widget; a staff reply stored the way the staff
    portal stores it is relayed by Rasa (output_channel=latest) to the open widget."""
    from datetime import datetime

    import httpx
    from conftest import SERVERS_DEFAULT_NOW

    from bot.handoff.db import Database
    from bot.handoff.store import HandoffStore

    static = None if servers.staff_url else StaticSite(servers.rasa_url)
    try:
        servers.set_clock(SERVERS_DEFAULT_NOW)  # inside chat opening hours
        open_widget(page, servers.staff_url or static.url)
        say(page, "Kan eg få snakke med ein person?")
        page.get_by_role("button", name=re.compile("chat med ein person", re.I)).click(timeout=60_000)
        status = page.locator("#kommunebot .kb-status")
        expect(status).to_contain_text("Ventar på ein person frå kommunen", timeout=60_000)
        expect(status.get_by_role("button", name="Gå ut av køen")).to_be_visible()

        session_id = page.evaluate(
            "() => JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage)"
            ".find(k => k.startsWith('kommunebot:')))).sessionId")
        store = HandoffStore(Database(servers.env["KOMMUNEBOT_DATABASE_URL"]))
        item = store.active_live_chat(session_id)
        assert item is not None, "the live chat was not queued"
        now = datetime.fromisoformat(SERVERS_DEFAULT_NOW)

        def relay() -> None:
            httpx.post(f"{servers.rasa_url}/conversations/{session_id}/execute",
                       params={"output_channel": "latest", "token": servers.token},
                       json={"name": "action_relay_staff_message"}, timeout=60).raise_for_status()

        store.add_staff_message(item.reference, "kari", "Hei, dette er Kari i servicetorget.", now=now)
        relay()
        staff = page.locator("#kommunebot .kb-staff").last
        expect(staff).to_contain_text("Hei, dette er Kari i servicetorget.", timeout=30_000)
        expect(staff).to_contain_text("Frå kommunen:")
        expect(status).to_contain_text("Du snakkar med ein person frå kommunen")
        expect(status.get_by_role("button", name="Avslutt chatten")).to_be_visible()
        assert run_axe(page) == []

        store.close(item.reference, "kari", now=now)
        relay()
        expect(status).to_be_hidden(timeout=30_000)
    finally:
        if static:
            static.close()

"""The service-desk workflow in real browsers: a citizen in the chat widget (the demo page)
and two employees in the staff portal, each in their own browser context, against the
real servers (Rasa, action server, staff portal) with the clock moved through opening
and closing time. One test per problem of issue 12 (the numbers in the names).

Screenshots of the portal and the widget (desktop and phone width) go to tests/artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest
from channels_support import ARTIFACTS, ROOT, chromium_path
from conftest import SERVERS_DEFAULT_NOW
from handoff_clients import Citizen, add_staff
from playwright.sync_api import Browser, Page, expect

from bot.handoff.db import Database
from bot.handoff.store import HandoffStore

pytestmark = [pytest.mark.servers, pytest.mark.browser]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
KARI, OLA, PASSWORD = "kari.nettlesar", "ola.nettlesar", "passord-for-test-2026"
MONDAY_10 = "2026-11-23T10:00:00+01:00"
MONDAY_20 = "2026-11-23T20:00:00+01:00"
WAIT = 60_000


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path(),
            "args": ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]}


@pytest.fixture(scope="module")
def desk(servers):
    """Two employees' accounts; the clock back to the default afterwards."""
    for name in (KARI, OLA):
        add_staff(servers.env, name, PASSWORD)
    yield servers
    servers.set_clock(SERVERS_DEFAULT_NOW)


@pytest.fixture
def people(browser: Browser, desk):
    """Open browser contexts, closed after the test."""
    contexts = []

    def new(width: int = 1280, height: int = 860):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return context.new_page()

    yield new
    for context in contexts:
        context.close()
    desk.set_clock(MONDAY_10)


def store(servers) -> HandoffStore:
    return HandoffStore(Database(servers.env["KOMMUNEBOT_DATABASE_URL"]))


def run_axe(page: Page) -> list[dict]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations", WCAG_TAGS)
    return [{"id": v["id"], "nodes": [n["html"][:160] for n in v["nodes"]]} for v in found]


def log_in(page: Page, base: str, username: str) -> Page:
    page.goto(f"{base}/staff/login")
    page.get_by_label("Brukarnamn").fill(username)
    page.get_by_label("Passord").fill(PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("heading", name="Kø og saker", level=1)).to_be_visible()
    page.evaluate("window.__notReloaded = true")  # gone if the page ever reloads
    return page


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def open_widget(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Chat med kommunen").click()
    expect(page.get_by_role("dialog", name="Chat med kommunen")).to_be_visible()


def say(page: Page, text: str) -> None:
    box = page.locator("#kommunebot .kb-input")
    box.fill(text)
    box.press("Enter")


def ask_for_a_person(page: Page, url: str, question: str = "Kan eg få snakke med ein person?") -> str:
    """The citizen asks for a person and joins the queue; returns the chat's reference."""
    open_widget(page, url)
    say(page, question)
    page.get_by_role("button", name=re.compile(r"Ja, chat med (ein|en) person")).click(timeout=WAIT)
    expect(page.locator("#kommunebot .kb-status")).to_be_visible(timeout=WAIT)
    return page.evaluate("""() => {
        const key = Object.keys(sessionStorage).find(k => k.startsWith('kommunebot:'));
        const state = JSON.parse(sessionStorage.getItem(key));
        const waiting = state.events.filter(e => e.msg && e.msg.state === 'waiting').pop();
        return waiting.msg.reference;
    }""")


def open_chat(page: Page, reference: str) -> None:
    """From the queue, by the link (no address typed)."""
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(reference))
    page.evaluate("window.__notReloaded = true")


def transcript(page: Page):
    return page.locator("#transcript")


def shot(page: Page, name: str) -> None:
    """A screenshot: the whole portal page, or what the citizen sees of the widget."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page="widget" not in name)


def test_1_a_reply_sent_while_the_citizen_is_away_reaches_them_and_staff_see_who_left(people, desk):
    desk.set_clock(MONDAY_10)
    citizen, kari = people(375, 740), log_in(people(), desk.staff_url, KARI)
    reference = ask_for_a_person(citizen, desk.staff_url + "/")
    expect(kari.locator(f'[data-ref="{reference}"]')).to_be_visible(timeout=WAIT)  # the queue updated itself
    assert not_reloaded(kari)
    open_chat(kari, reference)
    kari.get_by_role("button", name="Ta chatten").click()
    expect(kari.locator("#reply")).to_be_focused()  # focus where the work is
    expect(citizen.locator("#kommunebot .kb-log")).to_contain_text("har kome inn i chatten", timeout=WAIT)

    citizen.goto("about:blank")  # the citizen navigates away
    expect(kari.locator("[data-citizen-state]")).to_contain_text("fråkopla", timeout=WAIT)
    kari.locator("#reply").fill("Er du der framleis? Eg har funne saka di.")
    kari.locator("#reply").press("Enter")
    line = transcript(kari).locator(".line.staff").last
    expect(line).to_contain_text("Er du der framleis?")
    expect(line.locator(".state")).to_have_text("Sendt, ikkje stadfesta", timeout=WAIT)  # never "levert"
    time.sleep(2)
    expect(line.locator(".state")).to_have_text("Sendt, ikkje stadfesta")

    citizen.goto(desk.staff_url + "/")  # back: the widget re-syncs and gets what it missed
    staff_message = citizen.locator("#kommunebot .kb-staff").last
    expect(staff_message).to_contain_text("Er du der framleis? Eg har funne saka di.", timeout=WAIT)
    expect(line.locator(".state")).to_have_text("Sett", timeout=WAIT)  # the chat was open and visible
    expect(kari.locator("[data-citizen-state]")).to_have_text("Innbyggjaren er tilkopla.", timeout=WAIT)
    log = citizen.locator("#kommunebot .kb-log")
    expect(log).to_be_visible()
    citizen.wait_for_function("() => { const l = document.querySelector('#kommunebot .kb-log');"
                              " return l.scrollHeight - l.scrollTop - l.clientHeight < 4; }", timeout=WAIT)
    assert not_reloaded(kari)
    shot(citizen, "handoff-widget-phone-with-a-person")
    shot(kari, "handoff-portal-chat-desktop")

    citizen.context.close()  # the tab is closed for good
    expect(kari.locator("[data-citizen-state]")).to_contain_text("fråkopla sidan kl. 10.00", timeout=WAIT)
    desk.set_clock("2026-11-23T10:05:00+01:00")  # later than live_chat.citizen_gone_after
    expect(kari.locator("[data-citizen-state]")).to_contain_text("Innbyggjaren forlét chatten", timeout=WAIT)
    assert store(desk).get(reference).end_reason == "left"
    kari.get_by_role("link", name="Tilbake til køen").first.click()
    recent = kari.locator("section", has=kari.get_by_role("heading", name="Nyleg avslutta"))
    expect(recent).to_contain_text(reference)
    expect(recent).to_contain_text("Innbyggjaren forlét chatten")


def test_2_the_citizen_leaves_the_queue_with_the_button_or_in_words(people, desk):
    desk.set_clock(MONDAY_10)
    citizen, kari = people(375, 740), log_in(people(), desk.staff_url, KARI)
    reference = ask_for_a_person(citizen, desk.staff_url + "/")
    expect(kari.locator(f'[data-ref="{reference}"]')).to_be_visible(timeout=WAIT)
    status = citizen.locator("#kommunebot .kb-status")
    expect(status).to_contain_text("i køen")
    shot(citizen, "handoff-widget-phone-waiting")
    status.get_by_role("button", name="Gå ut av køen").click()
    expect(citizen.locator("#kommunebot .kb-user").last).to_have_text(re.compile("Eg vil gå ut av køen$"))
    expect(citizen.locator("#kommunebot .kb-log")).to_contain_text("Greitt, du er ute av køen", timeout=WAIT)
    expect(status).to_be_hidden()
    expect(kari.locator(f'[data-ref="{reference}"]')).to_have_count(0, timeout=WAIT)  # gone from the queue
    assert store(desk).get(reference).end_reason == "citizen"

    bokmal = people(1280, 800)
    reference = ask_for_a_person(bokmal, desk.staff_url + "/demo/ullensaker", "Kan jeg få snakke med et menneske?")
    expect(bokmal.locator("#kommunebot .kb-status")).to_contain_text("Venter på en person fra kommunen")
    say(bokmal, "jeg orker ikke vente lenger, ha det")
    expect(bokmal.locator("#kommunebot .kb-log")).to_contain_text("Greit, du er ute av køen", timeout=WAIT)
    left = store(desk).get(reference)
    assert left.end_reason == "citizen" and left.municipality == "ullensaker" and left.lang == "nb"


def test_3_nobody_waits_across_closing_time(people, desk):
    desk.set_clock("2026-11-27T14:50:00+01:00")  # Friday: chat closes 15.00, the queue 15 minutes before
    late = people(375, 740)
    open_widget(late, desk.staff_url + "/")
    say(late, "Kan eg få snakke med ein person?")
    expect(late.locator("#kommunebot .kb-log")).to_contain_text("Chatten stengjer kl. 15.00", timeout=WAIT)
    expect(late.get_by_role("button", name="Ja, chat med ein person")).to_have_count(0)

    desk.set_clock("2026-11-27T14:40:00+01:00")
    citizen, kari = people(375, 740), log_in(people(), desk.staff_url, KARI)
    reference = ask_for_a_person(citizen, desk.staff_url + "/")
    expect(kari.locator(f'[data-ref="{reference}"]')).to_be_visible(timeout=WAIT)
    other = Citizen(desk.rasa_url)  # a second citizen who will not answer the offer
    other.say("/request_human")
    other.next()
    other.say("/affirm")
    other_ref = other.until_handoff("waiting")["reference"]

    desk.set_clock("2026-11-27T15:00:30+01:00")  # closing: waiting chats are offered a case
    log = citizen.locator("#kommunebot .kb-log")
    expect(log).to_contain_text("Chatten er stengd for i dag, og ingen rakk å svare deg", timeout=WAIT)
    expect(log).to_contain_text("måndag 30. november kl. 09.00")
    expect(citizen.locator("#kommunebot .kb-status")).to_be_hidden()
    expect(kari.locator(f'[data-ref="{reference}"]')).to_have_count(0, timeout=WAIT)
    say(citizen, "per.hansen@example.no")
    card = citizen.locator("#kommunebot .kb-case")
    expect(card).to_contain_text(reference, timeout=WAIT)
    expect(card).to_contain_text("torsdag 3. desember")
    expect(card).to_contain_text("per.hansen@example.no")
    shot(citizen, "handoff-widget-phone-case-card")
    expect(kari.locator(f'section:has(#h-cases) [data-ref="{reference}"]')).to_contain_text("frå chat", timeout=WAIT)

    assert "Chatten er stengd for i dag" in other.until_handoff("closing")["text"]
    desk.set_clock("2026-11-30T09:05:00+01:00")  # Monday: the other citizen writes again
    other.say("Hallo? Er det nokon der?")
    again = other.next(timeout=WAIT / 1000)
    assert "kan chatte med deg no" in again["text"] and store(desk).get(other_ref).status == "closed"
    other.close()


def test_4_two_employees_cannot_both_take_a_chat_and_a_transfer_is_explicit(people, desk):
    desk.set_clock(MONDAY_10)
    citizen = people(1280, 800)
    kari, ola = log_in(people(), desk.staff_url, KARI), log_in(people(), desk.staff_url, OLA)
    reference = ask_for_a_person(citizen, desk.staff_url + "/")
    for page in (kari, ola):
        expect(page.locator(f'[data-ref="{reference}"]')).to_be_visible(timeout=WAIT)
    ola.route("**/staff/api/events", lambda route: route.abort())  # Ola's copy of the page goes stale
    for page in (kari, ola):
        open_chat(page, reference)
        expect(page.get_by_role("button", name="Ta chatten")).to_be_visible()
    kari.get_by_role("button", name="Ta chatten").click()
    expect(kari.locator("#reply")).to_be_focused()
    expect(ola.get_by_role("button", name="Ta chatten")).to_be_visible()  # the older copy still offers it
    ola.get_by_role("button", name="Ta chatten").click()  # refused, and it says who has the chat
    expect(ola.get_by_role("alert")).to_contain_text(f"{KARI} har alt teke chatten", timeout=WAIT)
    expect(ola.locator("#controls")).to_contain_text(f"{KARI} har chatten", timeout=WAIT)
    ola.unroute("**/staff/api/events")  # live updates come back by themselves
    expect(ola.locator("#reply")).to_have_count(0)
    expect(ola.get_by_role("button", name=re.compile("Avslutt chatten"))).to_have_count(0)
    assert store(desk).get(reference).handled_by == KARI

    kari.get_by_label("Overfør chatten til").select_option(OLA)
    kari.get_by_role("button", name="Overfør").click()
    expect(citizen.locator("#kommunebot .kb-log")).to_contain_text("har teke over chatten", timeout=WAIT)
    expect(ola.locator("#reply")).to_be_visible(timeout=WAIT)  # Ola's page updated itself
    expect(kari.locator("#controls")).to_contain_text(f"{OLA} har chatten", timeout=WAIT)
    ola.locator("#reply").fill("Hei, eg heiter Ola og tek over no.")
    ola.locator("#reply").press("Enter")
    expect(citizen.locator("#kommunebot .kb-staff").last).to_contain_text("Ola og tek over", timeout=WAIT)
    assert not_reloaded(kari) and not_reloaded(ola)


def test_5_the_handler_sees_the_phone_number_the_citizen_wrote(people, desk):
    desk.set_clock(MONDAY_10)
    citizen, kari = people(1280, 800), log_in(people(), desk.staff_url, KARI)
    reference = ask_for_a_person(citizen, desk.staff_url + "/")
    say(citizen, "Ring meg heller på 912 34 567 i dag")
    expect(kari.locator(f'[data-ref="{reference}"]')).to_be_visible(timeout=WAIT)
    open_chat(kari, reference)
    line = transcript(kari).locator(".line.citizen").last
    expect(line).to_contain_text("Ring meg heller på +47 912 34 567 i dag", timeout=WAIT)
    expect(line.get_by_role("link", name="+47 912 34 567")).to_have_attribute("href", "tel:+4791234567")
    expect(kari.locator("#facts").get_by_role("link", name="+47 912 34 567")).to_be_visible()
    texts = [e.get("text") for e in desk.tracker(
        store(desk).get(reference).conversation_id)["events"] if e.get("event") == "user"]
    assert "Ring meg heller på [telefon] i dag" in texts  # stored redacted everywhere else


def test_6_a_case_is_answered_by_email_from_the_portal(people, desk):
    desk.set_clock(MONDAY_20)
    citizen = people(375, 740)
    open_widget(citizen, desk.staff_url + "/")
    say(citizen, "Kan eg få snakke med ein person?")
    log = citizen.locator("#kommunebot .kb-log")
    expect(log).to_contain_text("Skriv kort kva du lurer på", timeout=WAIT)
    say(citizen, "Når blir hytterenovasjonen henta på Radøy?")
    expect(log).to_contain_text("e-postadressa eller telefonnummeret", timeout=WAIT)
    say(citizen, "lise.berg@example.no")
    card = citizen.locator("#kommunebot .kb-case")
    expect(card).to_contain_text("fredag 27. november", timeout=WAIT)
    reference = card.locator("dd").first.text_content().strip()

    kari = log_in(people(), desk.staff_url, KARI)
    kari.get_by_role("link", name=reference).click()
    expect(kari.get_by_role("link", name="lise.berg@example.no")).to_have_attribute(
        "href", "mailto:lise.berg@example.no")
    assert run_axe(kari) == []
    kari.get_by_role("button", name="Ta saka").click()
    answer = "Hytterenovasjonen på Radøy blir henta kvar andre fredag frå mai til september."
    kari.locator("#reply").fill(answer)
    kari.get_by_role("button", name="Send svaret og lukk saka").click()
    expect(kari.get_by_role("status").first).to_contain_text("Svaret er sendt på e-post", timeout=WAIT)
    _, recipients, mail = desk.mailbox.wait_for(lambda m: reference in m["Subject"])
    assert recipients == ["lise.berg@example.no"] and answer in mail.get_content()
    assert "ho er no lukka" in mail.get_content()
    expect(kari.locator("#item-status")).to_contain_text("Lukka")
    expect(transcript(kari)).to_contain_text("E-post til lise.berg@example.no")
    shot(kari, "handoff-portal-case-answered-desktop")


def test_7_the_portal_is_made_for_live_chat(people, desk):
    desk.set_clock(MONDAY_10)
    citizen = people(1280, 800)
    reference = ask_for_a_person(citizen, desk.staff_url + "/")
    kari = people(1280, 860)
    kari.goto(f"{desk.staff_url}/staff/login")
    assert run_axe(kari) == []
    # keyboard only: log in, find the chat, take it, answer
    expect(kari.get_by_label("Brukarnamn")).to_be_focused()
    kari.keyboard.type(KARI)
    kari.keyboard.press("Tab")
    kari.keyboard.type(PASSWORD)
    kari.keyboard.press("Enter")
    expect(kari.get_by_role("heading", name="Kø og saker", level=1)).to_be_visible()
    assert kari.locator("meta[http-equiv]").count() == 0  # no meta refresh
    expect(kari.locator(f'[data-ref="{reference}"]')).to_be_visible(timeout=WAIT)
    assert run_axe(kari) == []
    shot(kari, "handoff-portal-queue-desktop")
    kari.get_by_role("link", name=reference).focus()
    kari.keyboard.press("Enter")
    expect(kari.get_by_role("heading", level=1)).to_have_text(f"Chat {reference}")
    kari.evaluate("window.__notReloaded = true")
    expect(kari.get_by_role("button", name="Ta chatten")).to_be_focused()
    kari.keyboard.press("Enter")
    expect(kari.locator("#reply")).to_be_focused()
    kari.keyboard.type("Hei! Kva kan eg hjelpe deg med?")
    kari.keyboard.press("Enter")
    expect(citizen.locator("#kommunebot .kb-staff").last).to_contain_text("Kva kan eg hjelpe deg med?", timeout=WAIT)
    expect(kari.locator("#reply")).to_be_focused()

    say(citizen, "Eg lurer på kvifor fakturaen min er så høg.")
    newest = transcript(kari).locator(".line").last
    expect(newest).to_contain_text("kvifor fakturaen min er så høg", timeout=WAIT)  # no reload, no button
    expect(kari.locator("[data-announcer]").filter(has_text="Innbyggjaren skreiv")).to_have_count(1, timeout=WAIT)
    # the newest message sits right above the reply box, both in view
    order = kari.evaluate("""() => {
        const t = document.getElementById('transcript'), r = document.getElementById('reply');
        const last = t.lastElementChild.getBoundingClientRect(), box = r.getBoundingClientRect();
        return {after: !!(t.compareDocumentPosition(r) & Node.DOCUMENT_POSITION_FOLLOWING),
                gap: box.top - last.bottom, visible: box.bottom <= window.innerHeight && last.top >= 0};
    }""")
    assert order["after"] and 0 <= order["gap"] < 120 and order["visible"], order
    assert "/affirm" not in transcript(kari).text_content()
    expect(transcript(kari)).to_contain_text("Ja, chat med ein person")
    assert run_axe(kari) == []

    # closing is distinct and confirmed
    close = kari.get_by_role("button", name="Avslutt chatten …")
    close.click()
    assert store(desk).get(reference).status == "claimed"
    expect(kari.get_by_role("button", name="Nei, hald fram")).to_be_visible()
    assert run_axe(kari) == []
    kari.get_by_role("button", name="Nei, hald fram").click()
    expect(close).to_be_focused()
    close.click()
    kari.get_by_role("button", name="Ja, avslutt chatten").click()
    expect(kari.locator("#item-status")).to_contain_text("Avslutta", timeout=WAIT)
    expect(kari.locator("#item-status .status-line")).to_be_focused()
    expect(citizen.locator("#kommunebot .kb-log")).to_contain_text("No svarar chatboten igjen", timeout=WAIT)
    assert not_reloaded(kari)

    for width in (320, 400):
        kari.set_viewport_size({"width": width, "height": 720})
        for path in ("/staff/", f"/staff/cases/{reference}"):
            kari.goto(desk.staff_url + path)
            kari.wait_for_load_state("networkidle")
            assert kari.evaluate("document.documentElement.scrollWidth") <= width, (width, path)
            assert run_axe(kari) == [], (width, path)
        shot(kari, f"handoff-portal-chat-{width}px")
    kari.goto(desk.staff_url + "/staff/")
    shot(kari, "handoff-portal-queue-400px")


def test_8_the_citizen_sees_the_place_in_the_queue_and_one_promise(people, desk):
    desk.set_clock(MONDAY_10)
    for item in store(desk).waiting_chats():  # an empty queue to start from
        store(desk).end_live_chat(item.reference, reason="citizen", now=item.created_at, notify=False)
    log_in(people(), desk.staff_url, KARI)
    log_in(people(), desk.staff_url, OLA)  # two employees on duty (their pages are open)
    ahead = []
    for _ in range(2):
        other = Citizen(desk.rasa_url)
        other.say("/request_human")
        other.next()
        other.say("/affirm")
        other.until_handoff("waiting")
        ahead.append(other)
    citizen = people(375, 740)
    ask_for_a_person(citizen, desk.staff_url + "/")
    waiting = citizen.locator("#kommunebot .kb-msg").filter(has_text="Du står no i kø").last
    text = waiting.text_content()
    assert "Du er nummer 3 i køen." in text, text
    assert len(re.findall(r"Du må truleg vente om lag \d+ minutt|Du får truleg svar innan eitt minutt", text)) == 1
    assert "Ein person svarar deg innan" not in text  # one promise, not two
    expect(citizen.locator("#kommunebot .kb-status")).to_contain_text(
        re.compile(r"Du er nummer 3 i køen, (om lag \d+ min|under eitt minutt)"), timeout=WAIT)
    for other in ahead:
        other.say("avbryt")
        other.until_handoff("ended")
        other.close()
    # the citizens ahead left: the place in the queue follows (the widget asks every 20 s)
    expect(citizen.locator("#kommunebot .kb-status")).to_contain_text("Du er først i køen", timeout=WAIT)
    citizen.locator("#kommunebot .kb-status").get_by_role("button", name="Gå ut av køen").click()

"""What the bot saves (contact costs from the profile, assumptions stated), the annual
channel report (`kommunebot report`: HTML with PNG charts), the open-data exports, and
privacy: no national id, e-mail address or phone number ever reaches the stats, the
exports or the report, even when citizens wrote them into the questions the bot could
not answer (grouped with the real e5 query encoder, so the examples are shown)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from bot.config import ROOT
from bot.insight import costs as cost_model
from bot.insight import record_event
from bot.insight.export import csv_text, open_data
from bot.insight.generate import generate
from bot.insight.grouping import Grouper
from bot.insight.stats import details, summary
from bot.insight.store import InsightStore
from bot.privacy import find_national_ids
from bot.privacy.patterns import email_spans, phone_spans
from bot.service.profile import ProfileError, load_profile, parse_profile

YEAR = 2026
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli(*args: str, db: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, KOMMUNEBOT_DATABASE_URL=db, PYTHONPATH=str(ROOT), KOMMUNEBOT_HOME=str(ROOT))
    run = subprocess.run([str(ROOT / "bin" / "kommunebot"), *args], env=env, capture_output=True, text=True,
                         timeout=300)
    if check:
        assert run.returncode == 0, run.stderr
    return run


# --- what it saves ---------------------------------------------------------------------


def test_saving_follows_the_profiles_costs_and_states_its_assumptions():
    alver = load_profile(ROOT / "municipalities" / "alver.yml")
    costs = alver.contact_costs
    assert costs.per_contact == {"self_service": 3.0, "phone": 40.0, "desk": 80.0, "letter_email": 110.0}
    # otherwise: 0.6 x 40 + 0.3 x 110 + 0.1 x 80 = 65 kr; minus self-service 3 kr = 62 kr per conversation
    result = cost_model.saving(costs, self_served=1000)
    assert result["per_conversation"] == 62.0
    assert result["upper_bound"] == 62_000 and result["estimate"] == 31_000  # substitution 0.5
    assert result["defaults"] == []  # Alver states all three
    # A profile without contact_costs: the defaults, and it says they are defaults.
    ullensaker = load_profile(ROOT / "municipalities" / "ullensaker.yml")
    assert ullensaker.contact_costs.per_contact == cost_model.DEFAULT_PER_CONTACT
    assert cost_model.saving(ullensaker.contact_costs, 10)["defaults"] == ["per_contact", "otherwise",
                                                                          "substitution"]


def test_wrong_contact_costs_are_refused_with_the_field_and_what_to_write():
    data = yaml.safe_load((ROOT / "municipalities" / "alver.yml").read_text(encoding="utf-8"))
    data["contact_costs"] = {"per_contact": {"phone": "førti", "fax": 10},
                             "otherwise": {"phone": 0.5, "desk": 0.2}, "substitution": 2}
    with pytest.raises(ProfileError) as err:
        parse_profile(data, Path("alver.yml"))
    message = str(err.value)
    assert "contact_costs.per_contact.phone: 'førti' is not an amount" in message
    assert "contact_costs.per_contact.fax: unknown channel" in message
    assert "contact_costs.otherwise: the shares add up to 0.7; they must add up to 1" in message
    assert "contact_costs.substitution: 2 is not a share" in message


# --- the annual report -------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict] = []
        self.tables = 0
        self.lang = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self.tables += 1
        elif tag == "html":
            self.lang = attrs.get("lang")

    def handle_data(self, data):
        self.text.append(data)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def year_db(tmp_path_factory) -> str:
    """A generated year (2026) for Alver and for Ullensaker, in one database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('year') / 'insight.db'}"
    store = InsightStore(url)
    generate(store, "alver", date(YEAR, 1, 1), date(YEAR, 12, 31), conversations=6000, seed=1)
    generate(store, "ullensaker", date(YEAR, 1, 1), date(YEAR, 12, 31), conversations=2000, seed=2)
    store.dispose()
    return url


@pytest.mark.parametrize("slug, lang, words", [
    ("alver", "nn", ("Samtalar", "Sjølvbeteningsgrad", "Føresetnader", "Kva chatboten sparar", "innbyggjarservice")),
    ("ullensaker", "nb", ("Samtaler", "Selvbetjeningsgrad", "Forutsetninger", "Hva chatboten sparer", "servicetorget")),
])
def test_the_annual_report_is_html_with_png_charts_and_tables_in_the_standard(year_db, tmp_path, slug, lang, words):
    out = tmp_path / "rapport"
    run = cli("report", "--year", str(YEAR), "--out", str(out), "--municipality", slug, db=year_db)
    assert f"wrote {out / 'index.html'}" in run.stdout
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<bound method" not in html and "object at 0x" not in html
    page = _Page()
    page.feed(html)
    assert page.lang == lang
    assert len(page.images) == 6
    for image in page.images:
        assert image["alt"].strip() and "/" not in image["src"]
        width, height = _png_size(out / image["src"])
        assert width > 300 and height > 100
    assert page.tables >= len(page.images) + 1  # every chart has its table, plus the key numbers
    text = " ".join(page.text)
    for word in words:
        assert word in text
    store = InsightStore.open(year_db)
    data = details(store, slug, date(YEAR, 1, 1), date(YEAR, 12, 31), by="month")
    expected = f"{data['totals']['conversations']:,}".replace(",", "\u00a0")
    assert expected in text
    # The saving and its assumptions: the estimate and the upper bound, the costs, NAV's finding.
    profile = load_profile(ROOT / "municipalities" / f"{slug}.yml")
    saving = cost_model.saving(profile.contact_costs, data["totals"]["self_served"])
    assert f"{saving['estimate']:,}".replace(",", "\u00a0") + "\u00a0kr" in text
    assert f"{saving['upper_bound']:,}".replace(",", "\u00a0") + "\u00a0kr" in text
    assert "NAV" in text and "Digital agenda for Norge" in text
    assert len([m for m in page.text if "januar" in m.lower()]) >= 1


def test_report_refuses_an_unknown_municipality_and_a_bad_out_folder(year_db, tmp_path):
    run = cli("report", "--year", str(YEAR), "--out", str(tmp_path / "r"), "--municipality", "atlantis",
              db=year_db, check=False)
    assert run.returncode == 2 and "unknown municipality 'atlantis'" in run.stderr and "alver" in run.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    run = cli("report", "--year", str(YEAR), "--out", str(blocker), db=year_db, check=False)
    assert run.returncode == 2 and run.stderr.startswith("error:") and "Traceback" not in run.stderr


def test_stats_over_the_generated_year_equal_the_sum_of_the_months(year_db):
    store = InsightStore.open(year_db)
    year = summary(store, "alver", date(YEAR, 1, 1), date(YEAR, 12, 31))
    months = details(store, "alver", date(YEAR, 1, 1), date(YEAR, 12, 31), by="month")["series"]
    assert len(months) == 12
    assert sum(m["conversations"] for m in months) == year["conversations"] == 6000
    assert sum(m["not_found"] for m in months) == year["not_found"]
    # The other municipality's year is its own.
    assert summary(store, "ullensaker", date(YEAR, 1, 1), date(YEAR, 12, 31))["conversations"] == 2000


# --- privacy ---------------------------------------------------------------------------------


def _national_id() -> str:
    from bot.privacy.national_id import is_national_id

    for individual in range(100, 999):
        candidate = f"010190{individual:03d}"
        for k1 in range(10):
            for k2 in range(10):
                if is_national_id(f"{candidate}{k1}{k2}"):
                    return f"{candidate}{k1}{k2}"
    raise AssertionError("no valid national id found")


FNR = _national_id()
PLANTED = [
    f"kan eg ha kamel i hagen? fødselsnummeret mitt er {FNR}",
    "kan eg ha kamel i hagen? ring meg på 912 34 567",
    "kan eg halde kamel i hagen min? svar til ola.nordmann@example.no",
    f"kan jeg ha kamel i hagen? mitt personnummer {FNR[:6]} {FNR[6:]}, tlf +47 41234567",
]
SECRETS = [FNR, f"{FNR[:6]} {FNR[6:]}", "912 34 567", "91234567", "41234567", "ola.nordmann", "example.no"]


def assert_no_personal_data(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in {where}"
    assert not find_national_ids(text), f"a national id in {where}"
    assert not email_spans(text), f"an e-mail address in {where}: {[text[a:b] for a, b in email_spans(text)]}"
    assert not phone_spans(text), f"a phone number in {where}: {[text[a:b] for a, b in phone_spans(text)]}"


def test_no_national_id_email_or_phone_in_stats_exports_or_report(tmp_path):
    db = f"sqlite:///{tmp_path / 'privacy.db'}"
    at = datetime(2026, 6, 3, 8, 0, tzinfo=timezone.utc)
    for i, question in enumerate(PLANTED):
        sender = f"citizen-{i}"
        for kind in ("message", "not_found"):
            assert record_event(kind, conversation=sender, municipality="alver", session_start=float(i),
                                channel="rest", lang="nn", at=at + timedelta(minutes=i), question=question,
                                database_url=db)
    assert record_event("answered", conversation="citizen-9", municipality="alver", session_start=9.0,
                        channel="rest", lang="nn", at=at, url="https://www.alver.kommune.no/renovasjon/",
                        title="Renovasjon", database_url=db)
    assert record_event("feedback_negative", conversation="citizen-9", municipality="alver", session_start=9.0,
                        channel="rest", lang="nn", at=at, url="https://www.alver.kommune.no/renovasjon/",
                        question=f"nei, send svaret til kari@example.no eller {FNR}", database_url=db)
    store = InsightStore.open(db)
    assert Grouper(store).run_pending() == 5
    day = date(2026, 6, 3)

    result = summary(store, "alver", day, day)
    camel = result["unanswered"][0]
    assert camel["count"] == 4 and camel["example"], result["unanswered"]  # shown: 4 conversations
    assert "[telefon]" in json.dumps(result, ensure_ascii=False) or "[fødselsnummer]" in json.dumps(
        result, ensure_ascii=False) or "[e-post]" in json.dumps(result, ensure_ascii=False)
    assert_no_personal_data(json.dumps(result, ensure_ascii=False), "stats --json")
    assert_no_personal_data(cli("stats", "--from", "2026-06-03", "--to", "2026-06-03", db=db).stdout, "stats")

    data = details(store, "alver", day, day)
    data["saving"] = cost_model.saving(cost_model.ContactCosts(), data["totals"]["self_served"])
    exported = json.dumps(open_data(data), ensure_ascii=False)
    assert_no_personal_data(exported, "the JSON export")
    assert "kamel" not in exported  # open data: no text from citizens at all
    csv = csv_text(data)
    assert_no_personal_data(csv, "the CSV export")
    assert "kamel" not in csv

    out = tmp_path / "report"
    cli("report", "--year", "2026", "--out", str(out), db=db)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "kamel" in html  # the example of a group of 4 conversations is shown, redacted
    assert_no_personal_data(html, "the report")
    for png in out.glob("*.png"):
        assert_no_personal_data(png.read_bytes().decode("latin-1"), png.name)

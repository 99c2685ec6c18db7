"""Loading and validating the municipality profile (bot.service.profile)."""

from __future__ import annotations

import copy
from datetime import time
from pathlib import Path

import pytest
import yaml

from bot.service.profile import ProfileError, load_profile

ROOT = Path(__file__).resolve().parent.parent
ALVER = yaml.safe_load((ROOT / "municipalities" / "alver.yml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "municipality.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True) if not isinstance(data, str) else data,
                    encoding="utf-8")
    return path


def broken(tmp_path: Path, change) -> str:
    data = copy.deepcopy(ALVER)
    change(data)
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, data))
    message = str(info.value)
    assert str(tmp_path / "municipality.yml") in message
    return message


def test_alver_profile_loads_with_facts():
    p = load_profile(ROOT / "municipalities" / "alver.yml")
    assert (p.name, p.number, p.written_standard, p.default_language) == ("Alver kommune", "4631", "nn", "nn")
    assert p.contact.phone == "56 37 50 00" and p.contact.email == "post@alver.kommune.no"
    assert "Postboks 4, 5906 Frekhaug" in p.contact.postal_address
    assert str(p.timezone) == "Europe/Oslo"
    assert [d.name for d in p.service_desks] == ["Knarvik", "Manger", "Frekhaug"]
    assert p.desk("manger").hours.weekdays == [0, 1, 3]
    assert p.desk("Frekhaug").hours.weekdays == [2, 4]
    assert p.schedule("chat").periods[0].opens == time(9) and p.schedule("chat").periods[0].closes == time(15)
    assert {(c.month, c.day) for c in p.closed_days} == {(12, 24), (12, 31)}
    assert set(p.channels) >= {"chat", "phone", "email", "messenger", "meeting"}
    assert p.standard("messenger").case_processing is False
    assert p.case_deadlines["building"].amount == 12
    assert [e.number for e in p.emergency_numbers] == ["113", "112", "110", "116 117"]
    assert {a.key for a in p.other_authorities} == {"skatteetaten", "nav", "vegvesen"}
    assert (p.slug, p.reference_prefix) == ("alver", "ALV")
    assert p.service_name == {"nn": "innbyggjarservice", "nb": "innbyggerservice"}


def test_default_path_comes_from_settings(monkeypatch, tmp_path):
    path = write(tmp_path, ALVER)
    monkeypatch.setenv("KOMMUNEBOT_MUNICIPALITY_FILE", str(path))
    assert load_profile().source == path


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ProfileError, match="not found.*KOMMUNEBOT_MUNICIPALITY_FILE"):
        load_profile(tmp_path / "nope.yml")


def test_invalid_yaml(tmp_path):
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(write(tmp_path, "name: [unclosed\n"))


def test_missing_field_names_the_field(tmp_path):
    message = broken(tmp_path, lambda d: d["contact"].pop("phone"))
    assert "contact.phone: missing; add this field" in message


def test_bad_time(tmp_path):
    message = broken(tmp_path, lambda d: d["opening_hours"]["phone"][0].update(close="25:00"))
    assert "opening_hours.phone[0].close: '25:00' is not a time" in message
    assert '"HH:MM"' in message


def test_unquoted_time_read_as_number(tmp_path):
    text = (ROOT / "municipalities" / "alver.yml").read_text(encoding="utf-8")
    text = text.replace('close: "15:00"', "close: 15:00", 1)
    with pytest.raises(ProfileError, match=r'got the number 900.*"15:00"'):
        load_profile(write(tmp_path, text))


def test_unknown_weekday(tmp_path):
    message = broken(tmp_path, lambda d: d["service_desks"][1]["hours"][0].update(days=["mon", "funday"]))
    assert "service_desks[1].hours[0].days[1]: unknown weekday 'funday'" in message
    assert "mon, tue, wed" in message


def test_norwegian_weekday_names_are_accepted(tmp_path):
    data = copy.deepcopy(ALVER)
    data["service_desks"][1]["hours"][0]["days"] = ["måndag", "tirsdag", "torsdag"]
    assert load_profile(write(tmp_path, data)).desk("Manger").hours.weekdays == [0, 1, 3]


def test_unknown_channel(tmp_path):
    message = broken(tmp_path, lambda d: d["service_standard"].update(fax={"hours": "office",
                                                                          "answer_within": "1 working day"}))
    assert "service_standard.fax: unknown channel 'fax'" in message


def test_closing_before_opening(tmp_path):
    message = broken(tmp_path, lambda d: d["opening_hours"]["chat"][0].update(open="15:00", close="09:00"))
    assert "opening_hours.chat[0].close: closes at 09:00, not after it opens at 15:00" in message


def test_bad_duration_and_unknown_hours_name(tmp_path):
    def change(d):
        d["service_standard"]["email"]["answer_within"] = "soon"
        d["service_standard"]["meeting"]["hours"] = "lunch"
    message = broken(tmp_path, change)
    assert "service_standard.email.answer_within: 'soon' is not a duration" in message
    assert "service_standard.meeting.hours: no opening hours named 'lunch'" in message


def test_required_channel_missing(tmp_path):
    message = broken(tmp_path, lambda d: d["service_standard"].pop("messenger"))
    assert "service_standard.messenger: missing" in message


def test_bad_language_closed_day_and_timezone(tmp_path):
    def change(d):
        d["written_standard"] = "se"
        d["closed_days"][0]["date"] = "12-32"
        d["timezone"] = "Europe/Atlantis"
    message = broken(tmp_path, change)
    assert "written_standard: 'se' is not a written standard" in message
    assert "closed_days[0].date: '12-32' is not a date" in message
    assert "timezone: unknown time zone 'Europe/Atlantis'" in message


def test_all_problems_are_reported_at_once(tmp_path):
    def change(d):
        d.pop("name")
        d["opening_hours"]["phone"][0]["open"] = "9am"
        d["bogus"] = 1
    message = broken(tmp_path, change)
    assert "3 problem(s)" in message
    assert "name: missing" in message and "opening_hours.phone[0].open" in message and "bogus: unknown field" in message


def test_not_a_mapping(tmp_path):
    with pytest.raises(ProfileError, match="must be a mapping"):
        load_profile(write(tmp_path, "- just\n- a list\n"))


def test_wrong_shapes_do_not_crash(tmp_path):
    def change(d):
        d["service_desks"] = "Knarvik"
        d["emergency_numbers"] = ["113"]
        d["busy_times"] = {"phone": "often"}
        d["contact"] = "call us"
    message = broken(tmp_path, change)
    assert "service_desks: expected a list" in message
    assert "emergency_numbers[0]: expected fields" in message
    assert "contact.phone: missing" in message


def test_misspelt_optional_field_and_bad_contact(tmp_path):
    def change(d):
        d["service_standard"]["phone"]["callback_witin"] = d["service_standard"]["phone"].pop("callback_within")
        d["contact"]["email"] = "post at alver"
        d["contact"]["website"] = "www.alver.kommune.no"
        d["number"] = "46 31"
    message = broken(tmp_path, change)
    assert "service_standard.phone.callback_witin: unknown field" in message
    assert "contact.email: 'post at alver' is not an e-mail address" in message
    assert "contact.website: 'www.alver.kommune.no' is not a web address" in message
    assert "number: '46 31' is not a municipality number" in message


def test_after_hours_must_not_loop(tmp_path):
    message = broken(tmp_path, lambda d: d["service_standard"]["chat"].update(after_hours="chat"))
    assert "service_standard.chat.after_hours: 'chat' must be a channel without after_hours" in message


def test_one_off_closed_date(tmp_path):
    from datetime import date

    from bot.service.calendar import WorkCalendar

    data = copy.deepcopy(ALVER)
    data["closed_days"].append({"date": "2026-12-28", "note": "planleggingsdag"})
    cal = WorkCalendar(load_profile(write(tmp_path, data)))
    assert not cal.is_working_day(date(2026, 12, 28)) and cal.is_working_day(date(2027, 12, 28))


def test_retention_is_configured_and_validated(tmp_path):
    assert load_profile(ROOT / "municipalities" / "alver.yml").retention.conversations_days == 30
    message = broken(tmp_path, lambda d: d["retention"].update(closed_cases_days="forever"))
    assert "retention.closed_cases_days: 'forever' is not a number of days" in message
    data = copy.deepcopy(ALVER)
    data.pop("retention")
    assert load_profile(write(tmp_path, data)).retention.closed_cases_days == 90   # defaults


def test_new_tenancy_fields_are_validated(tmp_path):
    def change(d):
        d["reference_prefix"] = "alv-1"
        d["service_name"] = "innbyggjarservice"
        d["messenger_page_ids"] = ["my page"]
    message = broken(tmp_path, change)
    assert "reference_prefix: 'alv-1' is not a case reference prefix; write 2-5 capital letters" in message
    assert "service_name: write the name of the citizen service in both standards" in message
    assert "messenger_page_ids[0]: 'my page' is not a Facebook page id" in message


def test_optional_tenancy_fields_have_defaults(tmp_path):
    data = copy.deepcopy(ALVER)
    for key in ("reference_prefix", "service_name", "messenger_page_ids"):
        data.pop(key)
    p = load_profile(write(tmp_path, data))
    assert p.reference_prefix == "ALV"             # from the name
    assert p.service_name == {"nn": "kommunen", "nb": "kommunen"}
    assert p.messenger_page_ids == ()
    assert p.slug == "alver"                        # municipality.yml: from the name

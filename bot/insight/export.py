"""The Innsikt numbers as open data (CSV and JSON): aggregates only, never any text a
citizen wrote (no examples of unanswered questions, no staff names), so a municipality
can publish them as they are.

    data = details(store, "alver", start, end, by="month")
    data["saving"] = costs.saving(profile.contact_costs, data["totals"]["self_served"])
    open_data(data)      # a JSON-ready dict
    csv_text(data)       # long format: section, period_start, key, measure, value
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime


def _plain(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def open_data(data: dict) -> dict:
    """The period's numbers as plain JSON, without any text citizens wrote."""
    out = {k: v for k, v in data.items() if k != "unanswered"}
    out["unanswered_groups"] = [{"group": g["group"], "questions": g["count"], "conversations": g["conversations"],
                                 "not_found": g["not_found"], "negative_feedback": g["negative"],
                                 "status": g["status"], "handled_url": g["handled_url"]} for g in data["unanswered"]]
    out["definitions"] = "docs/INSIGHT.md"
    return _plain(out)


def csv_rows(data: dict) -> list[list]:
    """Long format: section, period start, key, measure, value (no text from citizens)."""
    rows: list[list] = [["section", "period_start", "key", "measure", "value"]]
    for item in data["series"]:
        for measure, value in item.items():
            if measure != "start":
                rows.append(["series", item["start"].isoformat(), "", measure, value])
    for measure, value in data["totals"].items():
        rows.append(["total", "", "", measure, value])
    for section in ("by_channel", "by_language"):
        for key, values in data[section].items():
            for measure, value in values.items():
                rows.append([section[3:], "", key, measure, value])
    for item in data["hours"]:
        for measure in ("conversations", "messages"):
            rows.append(["hour", "", item["hour"], measure, item[measure]])
    for reason, kinds in data["handoff_reasons"].items():
        for kind, n in kinds.items():
            rows.append(["handoff_reason", "", reason, kind, n])
    for standard, values in data["waiting"].items():
        for measure, value in values.items():
            rows.append(["waiting", "", standard, measure, value])
    for page in data["top_pages"]:
        for measure in ("count", "feedback_positive", "feedback_negative"):
            rows.append(["page", "", page["url"], measure, page[measure]])
    for group in data["unanswered"]:
        for measure in ("count", "conversations", "not_found", "negative"):
            rows.append(["unanswered_group", "", group["group"], measure, group[measure]])
        rows.append(["unanswered_group", "", group["group"], "status", group["status"]])
    saving = data.get("saving") or {}
    for measure in ("self_served", "estimate", "upper_bound", "substitution", "per_conversation"):
        if measure in saving:
            rows.append(["saving", "", saving.get("currency", ""), measure, saving[measure]])
    return [[("" if v is None else v) for v in row] for row in rows]


def csv_text(data: dict) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv_rows(data))
    return out.getvalue()

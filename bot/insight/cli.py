"""Commands `stats`, `report` and `insight`.

    bin/kommunebot stats --from 2026-01-01 --to 2026-12-31 [--municipality alver] [--json]
    bin/kommunebot report --year 2026 --out report/ [--municipality alver]
    bin/kommunebot insight group          # group unanswered questions that wait for it
    bin/kommunebot insight expire         # delete what is past the retention times
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from typing import Any

from bot.config import settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD, e.g. 2026-03-01") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    stats = subparsers.add_parser(
        "stats", help="the municipality's numbers for a period",
        description="Conversations, answers, self-service rate, handoffs, feedback, languages, channels, "
                    "top pages, unanswered questions and the service standard for a period. Dates are "
                    "inclusive, in the municipality's time zone. See docs/INSIGHT.md for the definitions.")
    stats.add_argument("--from", dest="start", type=_date,
                       help="first day, YYYY-MM-DD (default: the 1st of this month)")
    stats.add_argument("--to", dest="end", type=_date, help="last day, YYYY-MM-DD (default: today)")
    stats.add_argument("--municipality", help="municipality slug (default: the deployment's default municipality)")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.add_argument("--database-url", help="default: KOMMUNEBOT_DATABASE_URL")
    stats.add_argument("--timing", action="store_true", help="say how long the queries took (on stderr)")
    stats.set_defaults(func=run_stats)

    report = subparsers.add_parser(
        "report", help="the annual channel report (HTML with PNG charts) for the council",
        description="Write DIR/index.html and its PNG charts: the year's numbers per month, channels, "
                    "written standards, busiest hours, handoffs, service standard, feedback, top pages, "
                    "unanswered questions and what the bot saves, with its assumptions.")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--out", required=True, help="folder to write (created if missing)")
    report.add_argument("--municipality", help="municipality slug (default: the deployment's default municipality)")
    report.add_argument("--database-url", help="default: KOMMUNEBOT_DATABASE_URL")
    report.set_defaults(func=run_report)

    insight = subparsers.add_parser(
        "insight", help="maintenance of the insight data (grouping, retention)",
        description="group: put unanswered questions that wait for it into groups by meaning (the action "
                    "server does this as they come; run it after the embedding model was unavailable). "
                    "expire: delete conversation keys, question texts and case references past the "
                    "retention times (also done by `forget --expired`).")
    insight.add_argument("task", choices=("group", "expire"))
    insight.add_argument("--database-url", help="default: KOMMUNEBOT_DATABASE_URL")
    insight.set_defaults(func=run_insight)


def _open(url: str | None):
    from bot.insight.store import InsightStore

    return InsightStore.open(url or settings().database_url)


def _period(args) -> tuple[str, Any, date, date]:
    from bot.handoff import clock
    from bot.insight import municipal

    slug = args.municipality or municipal.default_slug()
    profile = municipal.profile(slug)
    today = clock.now().astimezone(profile.timezone).date()
    end = args.end or today
    start = args.start or end.replace(day=1)
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    return slug, profile, start, end


def run_stats(args: argparse.Namespace) -> int:
    from bot.insight.municipal import UnknownMunicipalityError
    from bot.insight.stats import summary
    from bot.insight.store import InsightUnavailable

    try:
        slug, profile, start, end = _period(args)
        store = _open(args.database_url)
        began = time.perf_counter()
        result = summary(store, slug, start, end)
        took = time.perf_counter() - began
    except (UnknownMunicipalityError, InsightUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.timing:
        print(f"stats: queries took {took * 1000:.0f} ms", file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(table(result, profile.name, slug, start, end, str(profile.timezone)))
    return 0


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def table(r: dict, name: str, slug: str, start: date, end: date, tz: str) -> str:
    """The plain-text report of `stats` (what --json prints, readable)."""
    lines = [f"Kommunebot statistics: {name} ({slug}), {start} to {end} inclusive ({tz})", ""]
    rate = r["self_service_rate"]
    rows = [
        ("Conversations", _n(r["conversations"])),
        ("Messages from citizens", _n(r["messages"])),
        ("Questions answered from the content", _n(r["answered"])),
        ("Questions not found", _n(r["not_found"])),
        ("Self-service rate", "-" if rate is None else f"{100 * rate:.1f} %"),
        ("Handoffs: live chat", _n(r["handoffs"]["live"])),
        ("Handoffs: case", _n(r["handoffs"]["case"])),
        ("Feedback: helpful", _n(r["feedback"]["positive"])),
        ("Feedback: not helpful", _n(r["feedback"]["negative"])),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines += [f"{label:<{width}}{value:>12}" for label, value in rows]
    total = r["conversations"]
    lines += ["", "Conversations by written standard"]
    lines += [f"  {lang:<{width - 2}}{_n(n):>12}  {_pct(n, total):>7}" for lang, n in r["by_language"].items()]
    lines += ["", "Conversations by channel"]
    lines += [f"  {ch:<{width - 2}}{_n(n):>12}  {_pct(n, total):>7}" for ch, n in r["by_channel"].items()] or ["  -"]
    lines += ["", "Service standard (first reply from a person)", f"  {'channel':<{width - 2}}{'handled':>12}  "
              f"{'within promise':>14}"]
    lines += [f"  {ch:<{width - 2}}{_n(v['handled']):>12}  {_n(v['within_promise']):>8} "
              f"{_pct(v['within_promise'], v['handled']):>7}"
              for ch, v in r["service_standard"].items()] or ["  -"]
    lines += ["", "Top pages (answers)"]
    lines += [f"  {p['count']:>8}  {p['title']}  {p['url']}" for p in r["top_pages"]] or ["  -"]
    lines += ["", "Unanswered questions, biggest groups (examples only for groups of 3+ conversations)"]
    lines += [f"  {g['count']:>8}  {g['example'] or '(no example: fewer than 3 conversations)'}"
              for g in r["unanswered"]] or ["  -"]
    lines += ["", "Self-service rate = conversations with an answer and neither a handoff nor a 'no' to "
                  "\"did you get an answer?\", over conversations with a question (docs/INSIGHT.md)."]
    return "\n".join(lines)


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.insight.municipal import UnknownMunicipalityError
    from bot.insight.report import write_report
    from bot.insight.store import InsightUnavailable

    try:
        if not 2000 <= args.year <= 2200:
            raise ValueError(f"--year {args.year} is not a plausible year")
        args.start, args.end = date(args.year, 1, 1), date(args.year, 12, 31)
        slug, profile, start, end = _period(args)
        page = write_report(_open(args.database_url), profile, slug, args.year, Path(args.out))
    except (UnknownMunicipalityError, InsightUnavailable, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {page}")
    return 0


def run_insight(args: argparse.Namespace) -> int:
    from bot.handoff import clock
    from bot.insight.store import InsightUnavailable

    try:
        store = _open(args.database_url)
        if args.task == "group":
            from bot.insight.grouping import Grouper

            grouped = Grouper(store).run_pending()
            print(f"grouped {grouped} question(s)")
        else:
            done = store.expire(clock.now())
            print(f"deleted {done['conversations']} conversation key(s), {done['question_texts']} question "
                  f"text(s) and {done['references']} case reference(s) past the retention times")
    except (InsightUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

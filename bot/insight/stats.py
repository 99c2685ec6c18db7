"""The numbers: one period of one municipality, read from the pre-aggregated tables.

    from bot.insight.stats import summary, details
    summary(store, "alver", date(2026, 1, 1), date(2026, 12, 31))   # what `stats --json` prints
    details(store, "alver", start, end, by="month")                 # the Innsikt page, the report

Dates are inclusive, in the municipality's time zone; a conversation and everything in it
count on the day and hour it started. No query reads more than the period's rows of
insight_counts (at most days x 24 x channels x 2), insight_pages (days x pages) and the
period's handoffs and unanswered questions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, select

from bot.insight import schema as t
from bot.insight.store import InsightStore

TOP_PAGES = 10
TOP_UNANSWERED = 10
MIN_CONVERSATIONS_FOR_EXAMPLES = 3  # smaller groups show no example text (privacy)
MAX_EXAMPLES = 3
GRANULARITIES = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    municipality: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _in(table, period: Period):
    return and_(table.c.municipality == period.municipality, table.c.day >= period.start, table.c.day <= period.end)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def totals(conn, period: Period) -> dict[str, int]:
    c = t.counts
    row = conn.execute(select(*[func.coalesce(func.sum(c.c[name]), 0) for name in t.COUNT_COLUMNS])
                       .where(_in(c, period))).one()
    return {name: int(value) for name, value in zip(t.COUNT_COLUMNS, row)}


def totals_by(conn, period: Period) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Totals, conversations by written standard and by channel, in one read of the counts."""
    c = t.counts
    rows = conn.execute(select(c.c.lang, c.c.channel, *[func.sum(c.c[name]) for name in t.COUNT_COLUMNS])
                        .where(_in(c, period)).group_by(c.c.lang, c.c.channel)).all()
    total = {name: 0 for name in t.COUNT_COLUMNS}
    langs: dict[str, int] = defaultdict(int)
    channels: dict[str, int] = defaultdict(int)
    for lang, channel, *values in rows:
        for name, value in zip(t.COUNT_COLUMNS, values):
            total[name] += int(value or 0)
        conversations = int(values[0] or 0)
        langs[lang] += conversations
        channels[channel] += conversations
    return total, dict(langs), dict(channels)


def _grouped(conn, period: Period, column, *names: str) -> dict:
    c = t.counts
    rows = conn.execute(select(c.c[column], *[func.sum(c.c[n]) for n in names])
                        .where(_in(c, period)).group_by(c.c[column])).all()
    if len(names) == 1:
        return {key: int(values[0]) for key, *values in rows}
    return {key: {n: int(v) for n, v in zip(names, values)} for key, *values in rows}


def top_pages(conn, period: Period, limit: int = TOP_PAGES) -> list[dict]:
    p = t.pages
    answers = func.sum(p.c.answers)
    rows = conn.execute(select(p.c.url, func.max(p.c.title), answers, func.sum(p.c.feedback_positive),
                               func.sum(p.c.feedback_negative))
                        .where(_in(p, period)).group_by(p.c.url)
                        .order_by(answers.desc(), p.c.url).limit(limit)).all()
    return [{"url": url, "title": title or url, "count": int(n), "feedback_positive": int(pos),
             "feedback_negative": int(neg)} for url, title, n, pos, neg in rows if n]


def unanswered(conn, period: Period, limit: int = TOP_UNANSWERED) -> list[dict]:
    """Groups of questions the bot could not answer (or answered unhelpfully), biggest
    first; example texts only for groups of at least 3 conversations."""
    q, g = t.questions, t.groups
    count = func.count()
    rows = conn.execute(select(q.c.group_id, count, func.sum(q.c.first_in_group),
                               func.sum(case((q.c.kind == "not_found", 1), else_=0)))
                        .where(_in(q, period), q.c.group_id.isnot(None))
                        .group_by(q.c.group_id).order_by(count.desc(), q.c.group_id).limit(limit)).all()
    info = {}
    if rows:
        info = {r.id: r for r in conn.execute(
            select(g.c.id, g.c.status, g.c.handled_url, g.c.handled_at, g.c.handled_by, g.c.size)
            .where(g.c.id.in_([r[0] for r in rows])))}
    out = []
    for group_id, n, conversations, not_found in rows:
        group = info[group_id]
        examples: list[str] = []
        if conversations >= MIN_CONVERSATIONS_FOR_EXAMPLES:
            examples = _examples(conn, period, group_id)
        since = 0
        if group.handled_at is not None:
            since = int(conn.execute(select(func.count()).where(
                q.c.group_id == group_id, q.c.created_at > group.handled_at, _in(q, period))).scalar() or 0)
        out.append({"group": int(group_id), "count": int(n), "conversations": int(conversations or 0),
                    "not_found": int(not_found or 0), "negative": int(n) - int(not_found or 0), "examples": examples,
                    "example": examples[0] if examples else None, "status": group.status,
                    "handled_url": group.handled_url, "handled_at": group.handled_at, "handled_by": group.handled_by,
                    "since_handled": since, "size": int(group.size)})
    return out


def _examples(conn, period: Period, group_id: int) -> list[str]:
    """Up to three redacted texts of different conversations, the closest to the group's
    meaning among its newest (texts past the retention time are gone)."""
    q = t.questions
    rows = conn.execute(select(q.c.text, q.c.conversation_id, q.c.similarity)
                        .where(q.c.group_id == group_id, q.c.text.isnot(None), _in(q, period))
                        .order_by(q.c.created_at.desc()).limit(30)).all()
    seen: set[int] = set()
    texts: list[str] = []
    for text, conversation, _ in sorted(rows, key=lambda r: -(r.similarity or 0)):
        if conversation in seen or text.lower() in {x.lower() for x in texts}:
            continue
        seen.add(conversation)
        texts.append(text)
        if len(texts) == MAX_EXAMPLES:
            break
    return texts


def ungrouped(conn, period: Period) -> int:
    q = t.questions
    return int(conn.execute(select(func.count()).where(_in(q, period), q.c.group_id.is_(None))).scalar() or 0)


def service_standard(conn, period: Period) -> dict[str, dict[str, int]]:
    h = t.handoffs
    rows = conn.execute(select(h.c.standard, func.count(), func.count(h.c.wait_minutes),
                               func.coalesce(func.sum(h.c.within_promise), 0))
                        .where(_in(h, period), h.c.standard.isnot(None)).group_by(h.c.standard)).all()
    return {standard: {"handled": int(done), "within_promise": int(within), "total": int(total)}
            for standard, total, done, within in rows}


def waiting_times(conn, period: Period) -> dict[str, dict]:
    """Minutes from the handoff to the first staff reply, per service standard channel:
    median, 90th percentile, how many answered within the promise, late, still waiting."""
    h = t.handoffs
    rows = conn.execute(select(h.c.standard, func.count(), func.count(h.c.wait_minutes),
                               func.coalesce(func.sum(h.c.within_promise), 0))
                        .where(_in(h, period), h.c.standard.isnot(None)).group_by(h.c.standard)).all()
    out = {}
    for standard, total, handled, within in sorted(rows, key=lambda r: r[0]):
        out[standard] = {"handled": int(handled), "within_promise": int(within), "late": int(handled) - int(within),
                         "open": int(total) - int(handled),
                         "median_minutes": _nth_wait(conn, period, standard, int(handled), 0.5),
                         "p90_minutes": _nth_wait(conn, period, standard, int(handled), 0.9)}
    return out


def _nth_wait(conn, period: Period, standard: str, n: int, q: float) -> float | None:
    """The q-quantile of the waits (linear between the two nearest ranks, so the median
    of 3 and 9 minutes is 6), two rows read from the database's sorted index."""
    if not n:
        return None
    h = t.handoffs
    k = (n - 1) * q
    lo = math.floor(k)
    values = [float(v) for v in conn.execute(
        select(h.c.wait_minutes).where(_in(h, period), h.c.standard == standard, h.c.wait_minutes.isnot(None))
        .order_by(h.c.wait_minutes).offset(lo).limit(2)).scalars()]
    if not values:
        return None
    upper = values[1] if len(values) > 1 else values[0]
    return round(values[0] + (upper - values[0]) * (k - lo), 1)


def handoff_reasons(conn, period: Period) -> dict[str, dict[str, int]]:
    h = t.handoffs
    rows = conn.execute(select(h.c.reason, h.c.kind, func.count()).where(_in(h, period))
                        .group_by(h.c.reason, h.c.kind)).all()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for reason, kind, n in rows:
        out[reason][kind] = int(n)
    return dict(out)


def summary(store: InsightStore, municipality: str, start: date, end: date) -> dict:
    """What `kommunebot stats --json` prints: exactly the keys of issue 16."""
    period = Period(municipality, start, end)
    with store.engine.connect() as conn:
        total, langs, channels = totals_by(conn, period)
        pages_ = top_pages(conn, period)
        groups_ = unanswered(conn, period)
        standard = service_standard(conn, period)
    return {
        "conversations": total["conversations"],
        "messages": total["messages"],
        "answered": total["answered"],
        "not_found": total["not_found"],
        "self_service_rate": rate(total["self_served"], total["with_question"]),
        "handoffs": {"live": total["handoff_live"], "case": total["handoff_case"]},
        "feedback": {"positive": total["feedback_positive"], "negative": total["feedback_negative"]},
        "by_language": {"nn": langs.get("nn", 0), "nb": langs.get("nb", 0)},
        "by_channel": {name: n for name, n in sorted(channels.items()) if n},
        "top_pages": [{"url": p["url"], "title": p["title"], "count": p["count"]} for p in pages_],
        "unanswered": [{"example": g["example"], "count": g["count"]} for g in groups_],
        "service_standard": {k: {"handled": v["handled"], "within_promise": v["within_promise"]}
                             for k, v in sorted(standard.items())},
    }


def bucket(day: date, by: str) -> date:
    """The first day of the week (Monday) or month `day` is in; the day itself for "day"."""
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def series(conn, period: Period, by: str) -> list[dict]:
    """The counts per day, week or month, every bucket of the period present (zeros too)."""
    if by not in GRANULARITIES:
        raise ValueError(f"unknown granularity {by!r}; use one of {', '.join(GRANULARITIES)}")
    c = t.counts
    names = ("conversations", "messages", "with_question", "self_served", "answered", "not_found",
             "handoff_live", "handoff_case", "feedback_positive", "feedback_negative")
    rows = conn.execute(select(c.c.day, *[func.sum(c.c[n]) for n in names])
                        .where(_in(c, period)).group_by(c.c.day)).all()
    buckets: dict[date, dict[str, int]] = {}
    day = period.start
    while day <= period.end:
        buckets.setdefault(bucket(day, by), {n: 0 for n in names})
        day += timedelta(days=1)
    for day, *values in rows:
        if isinstance(day, str):
            day = date.fromisoformat(day)
        target = buckets[bucket(day, by)]
        for n, v in zip(names, values):
            target[n] += int(v or 0)
    return [{"start": start, **values, "self_service_rate": rate(values["self_served"], values["with_question"])}
            for start, values in sorted(buckets.items())]


def details(store: InsightStore, municipality: str, start: date, end: date, by: str = "day",
            unanswered_limit: int = 50) -> dict:
    """Everything the Innsikt page and the annual report show (aggregates only)."""
    period = Period(municipality, start, end)
    with store.engine.connect() as conn:
        total = totals(conn, period)
        by_lang = _grouped(conn, period, "lang", "conversations", "with_question", "self_served")
        by_channel = _grouped(conn, period, "channel", "conversations", "messages", "with_question", "self_served",
                              "handoff_live", "handoff_case")
        hours = _grouped(conn, period, "hour", "conversations", "messages")
        out = {
            "municipality": municipality, "from": start, "to": end, "by": by,
            "totals": total,
            "self_service_rate": rate(total["self_served"], total["with_question"]),
            "series": series(conn, period, by),
            "by_language": {lang: {**v, "self_service_rate": rate(v["self_served"], v["with_question"])}
                            for lang, v in sorted(by_lang.items())},
            "by_channel": {ch: {**v, "self_service_rate": rate(v["self_served"], v["with_question"])}
                           for ch, v in sorted(by_channel.items(), key=lambda kv: -kv[1]["conversations"])},
            "hours": [{"hour": h, **hours.get(h, {"conversations": 0, "messages": 0})} for h in range(24)],
            "handoff_reasons": handoff_reasons(conn, period),
            "waiting": waiting_times(conn, period),
            "top_pages": top_pages(conn, period),
            "unanswered": unanswered(conn, period, limit=unanswered_limit),
            "ungrouped": ungrouped(conn, period),
        }
    return out

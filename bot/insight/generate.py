"""Generated insight data: a year (or any period) of a municipality's conversations, for the
benchmark (`make bench`: a year of a large municipality, 1,000,000 conversations) and for
demonstrations and browser tests of the Innsikt pages.

    generate(store, "alver", date(2026, 1, 1), date(2026, 12, 31), conversations=1_000_000)

Realistic shapes, not real data: weekdays busier than weekends, office hours busiest,
January and August busier (school and kindergarten starts), 70 % of conversations in the
web chat, answers on a long tail of pages, unanswered questions on a long tail of topics.
Rows go in with bulk inserts, and insight_counts is computed from the conversation rows
(`InsightStore.recount`), which gives the same numbers as counting event by event.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import insert

from bot.insight import municipal
from bot.insight import schema as t
from bot.insight.grouping import to_bytes
from bot.insight.store import InsightStore, conversation_key, sender_hash

CHUNK = 20_000
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1.5, 4, 8, 11, 12, 11, 10, 11, 10, 8, 6, 5, 5, 5, 4, 3, 2, 1.5]
MONTH_WEIGHTS = [1.25, 1.15, 1.05, 1.0, 0.95, 0.9, 0.6, 1.2, 1.15, 1.0, 0.95, 0.8]
WEEKDAY_WEIGHTS = [1.2, 1.15, 1.1, 1.05, 0.95, 0.4, 0.35]
CHANNELS = (("socketio", 0.70), ("facebook", 0.22), ("rest", 0.08))
UNANSWERED_TOPICS = [
    "kan eg ha kamel i hagen", "kvifor er fakturaen for vatn så høg", "når kjem bosset i påska",
    "kan eg få parkeringsløyve for rørslehemma", "kven er ordførar", "kor mykje kostar bustadskatten",
    "når opnar symjehallen i Knarvik", "kan eg søkje om tilskot til lag og foreining",
    "korleis melder eg frå om hol i vegen", "kvar kan eg levere gamle møblar",
    "hvor kan jeg lade elbilen", "når er det skulestart", "kan eg få hjelp med snømåking",
    "korleis får eg tilgang til Min side", "kvar finn eg kart over eigedomen min",
]


def _weights(start: date, end: date) -> tuple[list[date], np.ndarray]:
    days, weights = [], []
    day = start
    while day <= end:
        days.append(day)
        weights.append(MONTH_WEIGHTS[day.month - 1] * WEEKDAY_WEIGHTS[day.weekday()])
        day += timedelta(days=1)
    w = np.array(weights)
    return days, w / w.sum()


def _pages(municipality: str, n: int = 120) -> list[tuple[str, str]]:
    """The municipality's real pages (titles and addresses from its knowledge folder)
    when there are any, else made-up ones."""
    from bot.config import settings

    found: list[tuple[str, str]] = []
    root = settings().knowledge_dir / municipality
    for path in sorted(root.glob("*/*.md"))[: n * 2]:
        title = url = ""
        for line in path.read_text(encoding="utf-8").splitlines()[:12]:
            if line.startswith("title:"):
                title = line.split(":", 1)[1].strip()
            elif line.startswith("url:"):
                url = line.split(":", 1)[1].strip()
        if title and url and url not in {u for u, _ in found}:
            found.append((url, title))
    while len(found) < n:
        i = len(found) + 1
        found.append((f"https://www.example.kommune.no/side-{i}/", f"Side {i}"))
    return found[:n]


def generate(store: InsightStore, municipality: str, start: date, end: date, conversations: int,
             seed: int = 16, with_vectors: bool = False, progress=None) -> dict[str, int]:
    """Insert `conversations` generated conversations (and their pages, handoffs and
    unanswered questions) between `start` and `end`; returns what was inserted."""
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    tz = municipal.timezone(municipality)
    days, day_p = _weights(start, end)
    hour_p = np.array(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS)
    pages = _pages(municipality)
    page_p = 1 / np.arange(1, len(pages) + 1) ** 1.1
    page_p /= page_p.sum()
    topic_p = 1 / np.arange(1, 400 + 1) ** 1.2
    topic_p /= topic_p.sum()
    topic_vectors = rng.normal(size=(400, 384)).astype(np.float32)
    topic_vectors /= np.linalg.norm(topic_vectors, axis=1, keepdims=True)
    now = datetime.now(timezone.utc)
    groups: dict[int, int] = {}
    group_sizes: dict[int, int] = {}
    inserted = {"conversations": 0, "questions": 0, "handoffs": 0, "pages": 0}
    page_counts: dict[tuple, list] = {}
    next_id = _next_id(store)
    with store.engine.begin() as conn:
        for topic in range(400):
            groups[topic] = int(conn.execute(insert(t.groups).values(
                municipality=municipality, lang="nn", centroid=to_bytes(topic_vectors[topic]), size=0,
                created_at=now, status="handled" if topic % 11 == 3 else "open",
                handled_url=pages[topic % len(pages)][0] if topic % 11 == 3 else None,
                handled_at=now if topic % 11 == 3 else None, handled_by="redaktor" if topic % 11 == 3 else None,
            )).inserted_primary_key[0])
            group_sizes[topic] = 0
    done = 0
    while done < conversations:
        n = min(CHUNK, conversations - done)
        day_index = rng.choice(len(days), size=n, p=day_p)
        hours = rng.choice(24, size=n, p=hour_p)
        minutes = rng.integers(0, 60, size=n)
        conv_rows, question_rows, handoff_rows = [], [], []
        for i in range(n):
            conv_id = next_id + done + i
            day = days[day_index[i]]
            local = datetime.combine(day, time(int(hours[i]), int(minutes[i])), tzinfo=tz)
            at = local.astimezone(timezone.utc)
            channel = _pick(pyrng, CHANNELS)
            lang = "nn" if pyrng.random() < 0.66 else "nb"
            c = {name: 0 for name in t.EVENT_COUNTERS}
            topics: set[int] = set()
            c["messages"] = 1 + int(rng.geometric(0.45))
            kind = pyrng.random()
            if kind < 0.08:          # greeting or thanks only
                pass
            elif kind < 0.13:        # out of scope
                c["out_of_scope"] = 1
            elif kind < 0.27:        # opening hours, contact, desks
                c["service_answers"] = 1
            else:                    # knowledge questions
                for _ in range(1 + (pyrng.random() < 0.25)):
                    if pyrng.random() < 0.78:
                        c["answered"] += 1
                        url, title = pages[int(rng.choice(len(pages), p=page_p))]
                        key = (day, url)
                        counts = page_counts.setdefault(key, [title, 0, 0, 0])
                        counts[1] += 1
                        if pyrng.random() < 0.3:
                            good = pyrng.random() < 0.82
                            c["feedback_positive" if good else "feedback_negative"] += 1
                            counts[2 if good else 3] += 1
                            if not good:
                                question_rows.append(_question(conv_id, municipality, day, at, lang, "negative",
                                                               url, rng, topic_p, topic_vectors, groups, group_sizes,
                                                               with_vectors, topics))
                    else:
                        c["not_found"] += 1
                        question_rows.append(_question(conv_id, municipality, day, at, lang, "not_found", None,
                                                       rng, topic_p, topic_vectors, groups, group_sizes, with_vectors,
                                                       topics))
            if pyrng.random() < 0.035:
                c["own_case"] = 1
            wants_person = c["own_case"] or (c["not_found"] and pyrng.random() < 0.4) or pyrng.random() < 0.03
            if wants_person:
                c["handoff_offered"] = 1
                reason = "own_case" if c["own_case"] else "not_found" if c["not_found"] else "asked"
                in_hours = day.weekday() < 5 and 9 <= int(hours[i]) < 15
                if channel == "facebook":
                    c["handoff_referred"] = 1
                    handoff_rows.append(_handoff(conv_id, municipality, day, int(hours[i]), at, "referred", channel,
                                                 None, reason, None, None))
                elif pyrng.random() < 0.8:
                    if in_hours and channel == "socketio" and pyrng.random() < 0.6:
                        c["handoff_live"] = 1
                        promised = at + timedelta(minutes=5)
                        wait = timedelta(minutes=float(rng.lognormal(math.log(3), 0.8)))
                        handoff_rows.append(_handoff(conv_id, municipality, day, int(hours[i]), at, "live", channel,
                                                     "chat", reason, promised, at + wait))
                    else:
                        c["handoff_case"] = 1
                        promised = at + timedelta(days=3)
                        wait = timedelta(hours=float(rng.lognormal(math.log(20), 0.9)))
                        replied = at + wait if pyrng.random() < 0.95 else None
                        handoff_rows.append(_handoff(conv_id, municipality, day, int(hours[i]), at, "case", channel,
                                                     "email", reason, promised, replied))
            conv_rows.append({"id": conv_id, "key": conversation_key(f"gen-{seed}-{conv_id}", at.timestamp()),
                              "sender_hash": sender_hash(f"gen-{seed}-{conv_id}"), "municipality": municipality,
                              "channel": channel, "lang": lang, "started_at": at,
                              "last_at": at + timedelta(minutes=2 * c["messages"]), "day": day, "hour": int(hours[i]),
                              **c})
        with store.engine.begin() as conn:
            conn.execute(insert(t.conversations), conv_rows)
            if question_rows:
                conn.execute(insert(t.questions), question_rows)
            if handoff_rows:
                conn.execute(insert(t.handoffs), handoff_rows)
        inserted["conversations"] += len(conv_rows)
        inserted["questions"] += len(question_rows)
        inserted["handoffs"] += len(handoff_rows)
        done += n
        if progress:
            progress(done)
    with store.engine.begin() as conn:
        rows = [{"municipality": municipality, "day": day, "url": url, "title": title, "answers": a,
                 "feedback_positive": pos, "feedback_negative": neg}
                for (day, url), (title, a, pos, neg) in page_counts.items()]
        for i in range(0, len(rows), CHUNK):
            conn.execute(insert(t.pages), rows[i:i + CHUNK])
        inserted["pages"] = len(rows)
        for topic, group_id in groups.items():  # a group keeps the sum of its members' vectors
            conn.execute(t.groups.update().where(t.groups.c.id == group_id).values(
                size=group_sizes[topic], centroid=to_bytes(topic_vectors[topic] * max(1, group_sizes[topic]))))
        if store.dialect == "postgresql":  # the ids were given: move the sequence past them
            from sqlalchemy import text

            conn.execute(text("SELECT setval(pg_get_serial_sequence('insight_conversations', 'id'), "
                              "(SELECT max(id) FROM insight_conversations))"))
    store.recount(municipality)
    return inserted


def _next_id(store: InsightStore) -> int:
    from sqlalchemy import func, select

    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(t.conversations.c.id), 0))).scalar()) + 1


def _pick(rng: random.Random, options) -> str:
    x, total = rng.random(), 0.0
    for name, share in options:
        total += share
        if x < total:
            return name
    return options[-1][0]


def _question(conv_id, municipality, day, at, lang, kind, url, rng, topic_p, topic_vectors, groups, group_sizes,
              with_vectors, topics: set[int]) -> dict:
    topic = int(rng.choice(len(topic_p), p=topic_p))
    first = topic not in topics
    topics.add(topic)
    group_sizes[topic] += 1
    text = f"{UNANSWERED_TOPICS[topic % len(UNANSWERED_TOPICS)]} ({topic})?"
    vector = None
    if with_vectors:
        v = topic_vectors[topic] + rng.normal(scale=0.05, size=384).astype(np.float32)
        vector = to_bytes(v / np.linalg.norm(v))
    return {"municipality": municipality, "conversation_id": conv_id, "day": day, "kind": kind, "lang": lang,
            "url": url, "created_at": at, "text": text, "vector": vector, "group_id": groups[topic],
            "similarity": 0.95, "first_in_group": int(first)}


def _handoff(conv_id, municipality, day, hour, at, kind, channel, standard, reason, promised, replied) -> dict:
    wait = None if replied is None else (replied - at).total_seconds() / 60
    within = None if replied is None or promised is None else int(replied <= promised)
    return {"municipality": municipality, "conversation_id": conv_id, "day": day, "hour": hour, "kind": kind,
            "channel": channel, "standard": standard, "reason": reason, "created_at": at, "promised_by": promised,
            "first_reply_at": replied, "wait_minutes": wait, "within_promise": within, "reference": None}

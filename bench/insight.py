"""Insight at scale: `stats` over a year of a large municipality (1,000,000 generated
conversations) on SQLite and PostgreSQL, the cost of counting one event, and how well
unanswered questions are grouped by meaning.

For each database: generate the year 2026 (bot.insight.generate: realistic shapes, real
Alver page titles), then apply the retention times as `forget --expired` would on
1 January 2027 (conversation rows and question texts older than 30 days go; the counts
stay), then measure
- `summary` (what `kommunebot stats --json` computes) over the whole year, in process,
  first call and the median of the next five;
- `kommunebot stats --from 2026-01-01 --to 2026-12-31 --json` as a command, wall clock
  (Python start-up included);
- `details` (the Innsikt page's data) for the year by month and for one month by day;
- recording: ms per event through InsightStore.record (a conversation of 6 events).
Grouping: pairwise precision/recall/F1 of the groups against the page each question
belongs to, on the retrieval dev set (where the threshold was chosen) and the held-out set.

PostgreSQL: KOMMUNEBOT_BENCH_POSTGRES_URL, else a throw-away cluster from Debian's
postgresql package (as the tests use).

Run: python -m bench.insight [--conversations 1000000] [--backends sqlite,postgresql] [--skip-grouping]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import subprocess
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bench.common import machine, write_json
from bot.config import ROOT

YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)
MUNICIPALITY = "alver"


def _timed(fn, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return {"first_s": round(times[0], 3), "median_s": round(statistics.median(times[1:] or times), 3),
            "max_s": round(max(times), 3), "runs": repeat}


def _sizes(store) -> dict:
    from sqlalchemy import func, select

    from bot.insight import schema as t

    with store.engine.connect() as conn:
        return {table.name: int(conn.execute(select(func.count()).select_from(table)).scalar())
                for table in (t.conversations, t.counts, t.pages, t.handoffs, t.questions, t.groups)}


def _analyze(store) -> None:
    if store.dialect == "sqlite":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def run_backend(name: str, url: str, conversations: int) -> dict:
    from bot.insight.generate import generate
    from bot.insight.stats import details, summary
    from bot.insight.store import InsightStore

    print(f"==> insight on {name}: generating {conversations:,} conversations", flush=True)
    store = InsightStore(url)
    began = time.perf_counter()
    inserted = generate(store, MUNICIPALITY, YEAR_START, YEAR_END, conversations,
                        progress=lambda n: print(f"    {n:,}", flush=True) if n % 200_000 == 0 else None)
    generated_s = time.perf_counter() - began
    expired = store.expire(datetime(2027, 1, 1, tzinfo=timezone.utc), {MUNICIPALITY: (30, 90)})
    _analyze(store)
    result: dict = {"generated": inserted, "generate_s": round(generated_s, 1), "expired": expired,
                    "rows": _sizes(store)}
    year = summary(store, MUNICIPALITY, YEAR_START, YEAR_END)
    assert year["conversations"] == conversations, (year["conversations"], conversations)
    result["year"] = {k: year[k] for k in ("conversations", "messages", "answered", "not_found",
                                           "self_service_rate", "handoffs", "feedback")}
    result["summary_year"] = _timed(lambda: summary(store, MUNICIPALITY, YEAR_START, YEAR_END), 6)
    result["details_year_by_month"] = _timed(lambda: details(store, MUNICIPALITY, YEAR_START, YEAR_END, "month"), 3)
    result["details_month_by_day"] = _timed(
        lambda: details(store, MUNICIPALITY, date(2026, 11, 1), date(2026, 11, 30), "day"), 3)
    env = dict(os.environ, PYTHONPATH=str(ROOT), KOMMUNEBOT_HOME=str(ROOT))
    command = [str(ROOT / "bin" / "kommunebot"), "stats", "--from", YEAR_START.isoformat(), "--to",
               YEAR_END.isoformat(), "--json", "--database-url", url]
    walls, cpus = [], []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
        walls.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    # Wall clock depends on what else the machine runs; CPU time is what the command costs.
    result["cli_year_wall_s"] = {"first_s": round(walls[0], 3), "median_s": round(statistics.median(walls), 3)}
    result["cli_year_cpu_s"] = {"median_s": round(statistics.median(cpus), 3)}
    result["record_event_ms"] = _record_cost(store)
    store.dispose()
    print(f"    summary {result['summary_year']}; command {result['cli_year_wall_s']}", flush=True)
    return result


def _record_cost(store, n: int = 300) -> dict:
    """ms per event for n conversations of six events each (message, answer, message,
    feedback, message, not found)."""
    from bot.insight.store import Event

    at = datetime(2027, 1, 5, 10, 0, tzinfo=timezone.utc)
    kinds = ("message", "answered", "message", "feedback_positive", "message", "not_found")
    began = time.perf_counter()
    for i in range(n):
        for kind in kinds:
            store.record(Event(kind=kind, municipality=MUNICIPALITY, sender_id=f"bench-{i}", at=at,
                               session_start=1.0, channel="socketio", lang="nn",
                               url="https://www.alver.kommune.no/x/", title="X", question="kan eg ha kamel i hagen?"))
    per_event = (time.perf_counter() - began) / (n * len(kinds)) * 1000
    return {"events": n * len(kinds), "ms_per_event": round(per_event, 2)}


def grouping_quality() -> dict:
    """Pairwise precision/recall/F1 of the groups against the questions' pages."""
    import numpy as np
    import yaml

    from bot.insight.grouping import THRESHOLD, _Groups, embed

    def load(path: Path) -> list[tuple[str, str]]:
        out = []
        for q in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
            pages = q.get("pages") or ([q["page"]] if q.get("page") else [])
            if pages:
                out.append((q["text"], pages[0]))
        return out

    data = ROOT / "tests" / "data"
    sets = {"dev": load(data / "search_dev.yml"),
            "holdout": load(data / "search_holdout.yml") + load(data / "conversation_questions.yml")}
    result = {"threshold": THRESHOLD}
    for name, questions in sets.items():
        vectors = embed([text for text, _ in questions], MUNICIPALITY)
        groups = _Groups(vectors.shape[1])
        labels = []
        for v in vectors:
            i, sim = groups.best(v)
            if i is not None and sim >= THRESHOLD:
                groups.sums[i] += v
                groups.sizes[i] += 1
                labels.append(i)
            else:
                groups.add(len(groups.ids), v.copy(), 1)
                labels.append(len(groups.ids) - 1)
        gold = [page for _, page in questions]
        tp = fp = fn = 0
        for a, b in itertools.combinations(range(len(labels)), 2):
            same, truth = labels[a] == labels[b], gold[a] == gold[b]
            tp += same and truth
            fp += same and not truth
            fn += truth and not same
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        result[name] = {"questions": len(questions), "pages": len(set(gold)), "groups": len(set(labels)),
                        "groups_of_2_plus": int(np.sum(np.bincount(labels) >= 2)),
                        "precision": round(precision, 3), "recall": round(recall, 3),
                        "f1": round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0}
    return result


def _postgres():
    url = os.environ.get("KOMMUNEBOT_BENCH_POSTGRES_URL")
    if url:
        return url, None
    from tests.scaleout_services import PG_BIN, Postgres

    if not (PG_BIN / "initdb").exists():
        return None, None
    server = Postgres().start()
    server.create_database("insight_bench")
    return server.url("insight_bench"), server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--skip-grouping", action="store_true")
    parser.add_argument("--work", help="keep the SQLite database in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    out: dict = {"machine": machine(), "conversations": args.conversations, "backends": {}}
    with tempfile.TemporaryDirectory(prefix="insight-bench-") as tmp:
        if args.work:
            tmp = args.work
            Path(tmp).mkdir(parents=True, exist_ok=True)
            (Path(tmp) / "insight.db").unlink(missing_ok=True)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                try:
                    out["backends"]["sqlite"] = run_backend("SQLite", f"sqlite:///{Path(tmp) / 'insight.db'}",
                                                            args.conversations)
                except Exception as exc:  # the other backend and the grouping still run
                    out["backends"]["sqlite"] = {"skipped": f"failed: {exc}"[:300]}
            elif backend == "postgresql":
                url, server = _postgres()
                if url is None:
                    out["backends"]["postgresql"] = {"skipped": "PostgreSQL is not installed"}
                    continue
                try:
                    out["backends"]["postgresql"] = run_backend("PostgreSQL", url, args.conversations)
                except Exception as exc:
                    out["backends"]["postgresql"] = {"skipped": f"failed: {exc}"[:300]}
                finally:
                    if server is not None:
                        server.stop()
    write_json("insight", out)  # the databases' numbers are kept even if the grouping fails
    if not args.skip_grouping:
        print("==> grouping quality", flush=True)
        try:
            out["grouping"] = grouping_quality()
        except Exception as exc:
            out["grouping"] = {"skipped": f"failed: {exc}"[:300]}
        print(f"    {out['grouping']}", flush=True)
    print(f"==> wrote {write_json('insight', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

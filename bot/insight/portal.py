"""The staff portal's "Innsikt" pages: one more blueprint of the portal (bot.staff.app).

    from bot.insight.portal import extension
    create_app(settings, extensions=[extension()])     # python -m bot.staff does this

- GET  /staff/innsikt/                    the numbers of a period (?from=&to=&by=day|week|month)
- GET  /staff/innsikt/innsikt.csv|.json   the same as open data: no text from citizens
- GET  /staff/innsikt/sporsmal            unanswered questions grouped by meaning
- POST /staff/innsikt/sporsmal/<id>/handtert   mark a group handled (the page that answers it)
- POST /staff/innsikt/sporsmal/<id>/opne       open it again

The portal app does logins, CSRF tokens (every form posts `csrf_token`) and security
headers for every /staff path. Everyone sees only their own municipality's numbers
(`Portal.municipality_of`: the account's municipality), in that municipality's written
standard. No JavaScript: every chart is a table with bars drawn as inline SVG beside the
numbers. Questions still waiting for a group (the action server groups them as they come)
are grouped here before the list is shown, with the same e5 query encoder.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, response
from sanic.request import Request

from bot.insight import costs as cost_model
from bot.insight import municipal
from bot.insight.export import csv_text, open_data
from bot.insight.grouping import mark_handled, reopen
from bot.insight.stats import GRANULARITIES, details
from bot.insight.store import InsightStore
from bot.insight.texts import Words

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PREFIX = "/staff/innsikt"
NAV = ("Innsikt", f"{PREFIX}/")
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
BAR_WIDTH = 160
GROUP_ON_PAGE = 500  # at most this many waiting questions are grouped when the page is opened


def _now() -> datetime:
    from bot.handoff import clock

    return clock.now()


def words_for(profile) -> Words:
    return Words(getattr(profile, "written_standard", "nn"))


def parse_period(args, today: date) -> tuple[date, date, str, bool]:
    """(start, end, by, valid) from ?from=&to=&by=; the last 30 days by day by default."""
    valid = True
    try:
        end = date.fromisoformat(args.get("to", "")) if args.get("to") else today
        start = date.fromisoformat(args.get("from", "")) if args.get("from") else end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start or (end - start).days > MAX_DAYS:
            raise ValueError
    except ValueError:
        valid = False
        end, start = today, today - timedelta(days=DEFAULT_DAYS - 1)
    by = args.get("by") or ("day" if (end - start).days < 62 else "week" if (end - start).days < 200 else "month")
    if by not in GRANULARITIES:
        by, valid = "day", False
    return start, end, by, valid


def bar(value: float | int | None, largest: float | int | None) -> int:
    """Width in pixels of a bar for `value` (at least 1 for a value above zero)."""
    if not value or not largest:
        return 0
    return max(1, round(BAR_WIDTH * float(value) / float(largest)))


def savings(profile, self_served: int) -> dict:
    costs = getattr(profile, "contact_costs", None) or cost_model.ContactCosts()
    return cost_model.saving(costs, self_served)


def _templates() -> Environment:
    """The Innsikt templates, extending the portal's base.html (its header, navigation,
    skip link and log-out form)."""
    staff_templates = Path(__file__).resolve().parents[1] / "staff" / "templates"
    env = Environment(loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(staff_templates)]),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals.update(bar=bar, BAR_WIDTH=BAR_WIDTH, PREFIX=PREFIX)
    return env


def blueprint(portal) -> Blueprint:
    """The Innsikt pages on the portal's database (see the module docstring)."""
    bp = Blueprint("insight", url_prefix=PREFIX, strict_slashes=False)
    templates = _templates()

    def store() -> InsightStore:
        return InsightStore.open(portal.settings.database_url)

    def whose(request: Request) -> tuple[str, Any]:
        slug = portal.municipality_of(request.ctx.staff)
        return slug, portal.profile_for(slug)

    def render(name: str, **values) -> response.HTTPResponse:
        return response.html(templates.get_template(name).render(nav=portal.nav, **values))

    async def period_data(request: Request) -> tuple[str, Any, dict, bool]:
        slug, profile = whose(request)
        today = _now().astimezone(profile.timezone).date()
        start, end, by, valid = parse_period(request.args, today)
        data = await asyncio.to_thread(details, store(), slug, start, end, by)
        data["saving"] = savings(profile, data["totals"]["self_served"])
        return slug, profile, data, valid

    def page_values(request: Request, profile, data: dict, valid: bool, active: str) -> dict:
        w = words_for(profile)
        query = urlencode({"from": data["from"].isoformat(), "to": data["to"].isoformat(), "by": data["by"]})
        mix = ", ".join(f"{w.channel_name(channel)} {w.percent(share)}"
                        for channel, share in data["saving"]["otherwise"].items())
        return {"w": w, "staff": request.ctx.staff, "profile": profile, "d": data, "valid": valid, "query": query,
                "lang": w.lang, "active": active, "page": f"insight-{active}", "mix_text": mix,
                "now": _now().astimezone(profile.timezone)}

    @bp.get("/")
    async def overview(request: Request):
        slug, profile, data, valid = await period_data(request)
        return render("overview.html", **page_values(request, profile, data, valid, "insight"))

    def attachment(body: str, content_type: str, slug: str, data: dict, ext: str) -> response.HTTPResponse:
        filename = f"innsikt-{slug}-{data['from']}-{data['to']}.{ext}"
        return response.text(body, content_type=content_type,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @bp.get("/innsikt.json")
    async def export_json(request: Request):
        slug, profile, data, _ = await period_data(request)
        body = json.dumps({"municipality": slug, **open_data(data)}, ensure_ascii=False, indent=1)
        return attachment(body, "application/json; charset=utf-8", slug, data, "json")

    @bp.get("/innsikt.csv")
    async def export_csv(request: Request):
        slug, profile, data, _ = await period_data(request)
        return attachment(csv_text(data), "text/csv; charset=utf-8", slug, data, "csv")

    def group_waiting() -> None:
        from bot.insight.grouping import Grouper

        try:
            Grouper(store()).run_pending(limit=GROUP_ON_PAGE)
        except Exception:  # the model or index is missing: the page says how many wait
            log.exception("insight: grouping the waiting questions for the portal failed")

    @bp.get("/sporsmal")
    async def unanswered(request: Request):
        slug, profile = whose(request)
        today = _now().astimezone(profile.timezone).date()
        start, end, by, _ = parse_period(request.args, today)
        from bot.insight.stats import Period, ungrouped

        with store().engine.connect() as conn:
            waiting = ungrouped(conn, Period(slug, start, end))
        if waiting:
            await asyncio.to_thread(group_waiting)
        slug, profile, data, valid = await period_data(request)
        w = words_for(profile)
        groups = data["unanswered"]
        notice = {"marked": w.marked, "reopened": w.reopened}.get(request.args.get("done", ""), "")
        error = {"url": w.bad_url, "unknown": w.unknown_group}.get(request.args.get("error", ""), "")
        return render("unanswered.html", **page_values(request, profile, data, valid, "unanswered"),
                      notice=notice, error=error, focus_group=request.args.get("group", ""),
                      open_groups=[g for g in groups if g["status"] != "handled"],
                      handled_groups=[g for g in groups if g["status"] == "handled"],
                      retention_days=municipal.retention_days(slug))

    def back(request: Request, group_id: int, **args: str) -> response.HTTPResponse:
        form = request.form or {}
        keep = {k: form.get(k) for k in ("from", "to", "by") if form.get(k)}
        anchor = "#melding"
        return response.redirect(f"{PREFIX}/sporsmal?{urlencode({**keep, **args, 'group': group_id})}{anchor}",
                                 status=303)

    @bp.post("/sporsmal/<group_id:int>/handtert")
    async def handled(request: Request, group_id: int):
        slug, _ = whose(request)
        url = str((request.form or {}).get("url", ""))
        try:
            done = await asyncio.to_thread(mark_handled, store(), slug, group_id, url, request.ctx.staff.username,
                                           _now())
        except ValueError:
            return back(request, group_id, error="url")
        return back(request, group_id, done="marked") if done else back(request, group_id, error="unknown")

    @bp.post("/sporsmal/<group_id:int>/opne")
    async def reopened(request: Request, group_id: int):
        slug, _ = whose(request)
        done = await asyncio.to_thread(reopen, store(), slug, group_id)
        return back(request, group_id, done="reopened") if done else back(request, group_id, error="unknown")

    bp.static("/static/", HERE / "static", name="insight_static")
    return bp


def extension():
    """The Innsikt pages as a portal extension, with their link in the portal's navigation."""
    from bot.staff.app import Extension

    return Extension(blueprint, nav=NAV)

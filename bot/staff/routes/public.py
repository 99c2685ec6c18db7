"""Public routes: the demo pages with the chat widget (one per municipality), the widget's
files, /healthz, and the portal's own static files (style sheet, script)."""

from __future__ import annotations

from sanic import Blueprint, response
from sanic.request import Request

from bot.demo_page import demo_page as render_demo
from bot.service.municipalities import UnknownMunicipality, registry
from bot.staff.app import HERE, Portal


def blueprint(portal: Portal) -> Blueprint:
    bp = Blueprint("public")

    def municipality_demo(slug: str) -> response.HTTPResponse:
        """A municipality's demo page (bot/demo_page.py); the widget connects to the Rasa
        server this deployment runs (KOMMUNEBOT_RASA_URL)."""
        reg = registry()
        if slug not in reg:
            return response.text(f"No demo page: {UnknownMunicipality(slug, reg.slugs)}", status=404)
        return response.html(render_demo(reg.get(slug), portal.settings.rasa_url, list(reg)))

    @bp.get("/")
    async def demo_page(request: Request):
        return municipality_demo(registry().default_slug)

    @bp.get("/demo/<slug>")
    async def demo_page_of(request: Request, slug: str):
        return municipality_demo(slug)

    if portal.widget_dir.is_dir():
        bp.static("/widget/", portal.widget_dir, name="widget")
    bp.static("/staff/static/", HERE / "static", name="staff_static")

    @bp.get("/healthz")
    async def health(request: Request):
        return response.json({"status": "ok"})

    return bp

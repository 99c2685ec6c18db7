"""The portal's pages: the queue, a chat, a case. Server-rendered and complete without
JavaScript (forms post and come back); with it (static/portal.js), actions go through
the JSON API, and the pages update themselves from server-sent events through the
`.../live` routes, which return the changed parts as HTML rendered here."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import quote

from sanic import Blueprint, response
from sanic.request import Request

from bot.handoff import clock
from bot.handoff.store import HandoffView
from bot.staff import views
from bot.staff.app import Portal
from bot.staff.operations import OperationError, explain
from bot.staff.rasa_client import RasaUnavailable

NOTICES = {
    "claimed": "Du har teke han. Skriv svaret nedanfor.",
    "sent": "Meldinga er sendt til chatten.",
    "stored": "Meldinga er lagra. Ho blir send til innbyggjaren så snart chatten svarar igjen.",
    "transferred": "Overført.",
    "closed": "Avslutta. Innbyggjaren har fått beskjed.",
    "answered": "Svaret er sendt, og saka er lukka.",
    "noted": "Saka er merkt som svart og lukka.",
}
RECENT = timedelta(hours=8)
log = logging.getLogger(__name__)


def blueprint(portal: Portal) -> Blueprint:
    bp = Blueprint("pages", url_prefix="/staff")
    ops = portal.operations

    # --- the queue ----------------------------------------------------------------

    def queue_values(request: Request) -> dict:
        now = clock.now()
        store = portal.store_for(request.ctx.staff)  # the staff member's municipality only
        live = store.live_chats()
        cases = [c for c in store.open_items(now) if c.kind == "case"]
        recent = [c for c in store.recently_closed(now - RECENT, limit=10)]
        waiting = [c for c in live if c.status == "open"]
        return {"staff": request.ctx.staff, "now": now, "live": live, "waiting": waiting,
                "claimed": [c for c in live if c.status != "open"], "cases": cases, "recent": recent,
                "positions": {c.reference: i for i, c in enumerate(waiting, start=1)}}

    @bp.get("/")
    async def queue(request: Request):
        return portal.render("queue.html", page="queue", **queue_values(request))

    @bp.get("/queue/live")
    async def queue_live(request: Request):
        values = queue_values(request)
        return response.json({"html": portal.render_text("_queue_lists.html", **values),
                              "waiting": [{"ref": c.reference, "lang": c.lang} for c in values["waiting"]],
                              "mine": [c.reference for c in values["claimed"]
                                       if c.handled_by == request.ctx.staff.username]})

    # --- a chat or a case -------------------------------------------------------------

    async def item_values(request: Request, item: HandoffView) -> dict:
        tracker, transcript_error = None, ""
        try:
            tracker = await portal.rasa.tracker(item.conversation_id)
        except RasaUnavailable as exc:
            log.warning("transcript of %s not available: %s", item.reference, exc)
            transcript_error = ("Fekk ikkje tak i samtalen frå chatboten akkurat no, så berre meldingane frå "
                                "sakshandsamarane blir viste. Prøv igjen om litt.")
        staff = request.ctx.staff
        messages = portal.store_for(staff).messages(item.reference)
        mine = item.may_act(staff.username, staff.is_lead)
        return {"staff": staff, "now": clock.now(), "item": item, "lines": views.transcript(tracker, messages, item),
                "transcript_error": transcript_error, "mine": mine,
                "citizen_state": views.citizen_state(item, clock.now()),
                "colleagues": [u for u in portal.accounts.colleagues(portal.municipality_of(staff))
                               if u != item.handled_by],
                "contacts": item.contacts(),
                "controls_key": f"{item.kind}|{item.status}|{item.handled_by}|{mine}"}

    def find(request: Request, reference: str) -> HandoffView | None:
        try:
            return ops.item(reference, request.ctx.staff)
        except OperationError:
            return None

    async def item_page(request: Request, reference: str):
        item = find(request, reference)
        if item is None:
            return response.text("Fann ikkje saka.", status=404)
        refused = explain(request.args.get("error", ""), reference, item, item.handled_by)
        return portal.render("item.html", page="item", notice=NOTICES.get(request.args.get("done", ""), ""),
                             error=refused.message if refused else "", **(await item_values(request, item)))

    bp.add_route(item_page, "/cases/<reference:str>", methods=["GET"], name="case_page")
    bp.add_route(item_page, "/chats/<reference:str>", methods=["GET"], name="chat_page")

    @bp.get("/cases/<reference:str>/live")
    async def item_live(request: Request, reference: str):
        item = find(request, reference)
        if item is None:
            return response.json({"error": "Fann ikkje saka."}, status=404)
        values = await item_values(request, item)
        items = [{"key": line.key, "who": line.who, "text": line.text, "state": line.state, "version": line.version,
                  "html": portal.render_text("_line.html", line=line)} for line in values["lines"]]
        return response.json({
            "status_html": portal.render_text("_item_status.html", **values),
            "status_text": values["citizen_state"],
            "items": items,
            "controls_key": values["controls_key"],
            "controls_html": portal.render_text("_item_controls.html", **values),
            "facts_html": portal.render_text("_item_facts.html", **values),
            "transcript_error": values["transcript_error"],
        })

    # --- forms (the same actions as the API, for pages without JavaScript) --------------

    def back(reference: str, done: str = "", error: str = "", anchor: str = "") -> response.HTTPResponse:
        if error == "unknown":  # no such reference in the staff member's municipality: as for the page
            return response.text("Fann ikkje saka.", status=404)
        query = f"?done={done}" if done else f"?error={quote(error)}" if error else ""
        return response.redirect(f"/staff/cases/{quote(reference)}{query}{anchor}", status=303)

    @bp.post("/cases/<reference:str>/claim")
    async def claim(request: Request, reference: str):
        try:
            await ops.claim(reference, request.ctx.staff)
        except OperationError as exc:
            return back(reference, error=exc.code)
        return back(reference, "claimed", anchor="#reply")

    @bp.post("/cases/<reference:str>/reply")
    async def reply(request: Request, reference: str):
        try:
            _, state = await ops.write(reference, request.ctx.staff, str(request.form.get("text", "")))
        except OperationError as exc:
            return back(reference, error=exc.code)
        return back(reference, "stored" if state == "queued" else "sent", anchor="#reply")

    @bp.post("/cases/<reference:str>/transfer")
    async def transfer(request: Request, reference: str):
        try:
            await ops.transfer(reference, request.ctx.staff, str(request.form.get("to", "")))
        except OperationError as exc:
            return back(reference, error=exc.code)
        return back(reference, "transferred")

    @bp.post("/cases/<reference:str>/close")
    async def close(request: Request, reference: str):
        item = find(request, reference)
        if item is None:
            return response.text("Fann ikkje saka.", status=404)
        if request.form.get("confirm") != "yes":  # closing is never one click away
            return portal.render("confirm_close.html", page="confirm", staff=request.ctx.staff, item=item)
        try:
            await ops.close(reference, request.ctx.staff)
        except OperationError as exc:
            return back(reference, error=exc.code)
        return back(reference, "closed")

    @bp.post("/cases/<reference:str>/answer")
    async def answer(request: Request, reference: str):
        phone = request.form.get("by") == "phone"
        try:
            await ops.answer(reference, request.ctx.staff, str(request.form.get("text", "")), phone_call=phone)
        except OperationError as exc:
            return back(reference, error=exc.code)
        return back(reference, "noted" if phone else "answered")

    @bp.post("/cases/<reference:str>/answered")
    async def answered_api(request: Request, reference: str):
        """JSON variant of answering by phone, for the page's script (same CSRF header rule)."""
        try:
            data = json.loads(request.body or b"{}")
            item = await ops.answer(reference, request.ctx.staff, str(data.get("text", "")), phone_call=True)
        except OperationError as exc:
            return response.json(exc.to_json(), status=exc.status)
        except (ValueError, AttributeError):
            return response.json({"error": 'Send JSON, til dømes {"text": "..."}.', "code": "bad_json"}, status=400)
        return response.json({"ref": item.reference, "status": item.status})

    return bp

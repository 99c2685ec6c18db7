"""The JSON API: what the portal's pages call, and what a municipality's case system can
call with `Authorization: Bearer <token>` (`kommunebot staff token NAME`).

| method and path | body | answer |
|---|---|---|
| GET /staff/api/queue | | 200 {"chats": [{"ref", "status": "waiting"/"claimed", "handler", "language",
  "waiting_since"}]} |
| GET /staff/api/chats/{ref} | | 200 the chat with its messages and their delivery state |
| POST /staff/api/chats/{ref}/claim | | 200 {"ref", "handler"}; 409 {"error", "handler"} when someone else has it |
| POST /staff/api/chats/{ref}/messages | {"text"} | 201 {"id", "status"} (status: queued, sent, delivered, seen) |
| POST /staff/api/chats/{ref}/transfer | {"to"} | 200 {"ref", "handler"} |
| POST /staff/api/chats/{ref}/close | | 200 {"ref", "status": "closed"} |
| GET /staff/api/cases | | 200 {"cases": [{"ref", "status", "question", "contact", "created", "due"}]} |
| POST /staff/api/cases/{ref}/claim | | as for chats |
| POST /staff/api/cases/{ref}/reply | {"text"} | 200 {"sent_to"}: e-mailed and closed; 503 when e-mail is not set up |
| POST /staff/api/cases/{ref}/close | | 200 {"ref", "status": "closed"} |
| GET /staff/api/events | | text/event-stream: `change` events {"refs": [...]} |

Errors are JSON {"error": "what to do, in Nynorsk", "code": "..."}; 401 without credentials.
Calls from the portal's pages (session cookie) send the page's CSRF token in X-CSRF-Token.
"""

from __future__ import annotations

import asyncio
import json

from sanic import Blueprint, response
from sanic.request import Request

from bot.handoff.store import HandoffView, wall_clock
from bot.staff.app import Portal
from bot.staff.operations import OperationError

SSE_STREAM_SECONDS = 55.0     # the browser reconnects by itself (EventSource)
SSE_HEARTBEAT_SECONDS = 15.0


def iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def error(exc: OperationError) -> response.HTTPResponse:
    return response.json(exc.to_json(), status=exc.status)


def body_text(request: Request, key: str = "text") -> str:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise OperationError(400, "bad_json", f'Send JSON, til dømes {{"{key}": "..."}}.') from None
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise OperationError(400, "bad_json", f'Send JSON med feltet «{key}», til dømes {{"{key}": "..."}}.')
    return value


def chat_json(item: HandoffView) -> dict:
    return {"ref": item.reference, "status": "waiting" if item.status == "open" else "claimed",
            "handler": item.handled_by, "language": item.lang, "waiting_since": iso(item.created_at)}


def case_json(item: HandoffView) -> dict:
    return {"ref": item.reference, "status": item.status, "question": item.question,
            "contact": item.contact.display() if item.contact else None,
            "created": iso(item.created_at), "due": iso(item.promised_by)}


def blueprint(portal: Portal) -> Blueprint:
    bp = Blueprint("api", url_prefix="/staff/api")
    ops = portal.operations

    @bp.get("/queue")
    async def queue(request: Request):
        chats = portal.store_for(request.ctx.staff).live_chats()
        return response.json({"chats": [chat_json(c) for c in chats]})

    @bp.get("/cases")
    async def cases(request: Request):
        items = portal.store_for(request.ctx.staff).cases()
        return response.json({"cases": [case_json(c) for c in items]})

    @bp.get("/chats/<ref:str>")
    async def chat(request: Request, ref: str):
        try:
            item = ops.item(ref, request.ctx.staff)
        except OperationError as exc:
            return error(exc)
        left = bool(item.citizen_left_at or item.status == "closed")
        messages = [{"id": m.id, "author": m.author, "text": m.text, "created": iso(m.created_at),
                     "status": m.state(left)} for m in portal.store_for(request.ctx.staff).messages(ref)
                    if m.kind == "message"]
        body = {**chat_json(item), "status": item.status if item.status == "closed" else chat_json(item)["status"],
                "kind": item.kind, "question": item.question,
                "contacts": [c.display() for c in item.contacts()],
                "citizen": {"connected": item.kind == "live" and item.status != "closed"
                            and item.citizen_away_since is None,
                            "away_since": iso(item.citizen_away_since), "left_at": iso(item.citizen_left_at)},
                "queue_position": item.queue_position, "estimate_minutes": item.queue_estimate,
                "messages": messages}
        return response.json(body)

    async def claim(request: Request, ref: str):
        try:
            item = await ops.claim(ref, request.ctx.staff)
        except OperationError as exc:
            return error(exc)
        return response.json({"ref": item.reference, "handler": item.handled_by})

    bp.add_route(claim, "/chats/<ref:str>/claim", methods=["POST"], name="claim_chat")
    bp.add_route(claim, "/cases/<ref:str>/claim", methods=["POST"], name="claim_case")

    @bp.post("/chats/<ref:str>/messages")
    async def write(request: Request, ref: str):
        try:
            message, state = await ops.write(ref, request.ctx.staff, body_text(request))
        except OperationError as exc:
            return error(exc)
        return response.json({"id": message.id, "status": state}, status=201)

    @bp.post("/chats/<ref:str>/transfer")
    async def transfer(request: Request, ref: str):
        try:
            item = await ops.transfer(ref, request.ctx.staff, body_text(request, "to"))
        except OperationError as exc:
            return error(exc)
        return response.json({"ref": item.reference, "handler": item.handled_by})

    async def close(request: Request, ref: str):
        try:
            item = await ops.close(ref, request.ctx.staff)
        except OperationError as exc:
            return error(exc)
        return response.json({"ref": item.reference, "status": item.status})

    bp.add_route(close, "/chats/<ref:str>/close", methods=["POST"], name="close_chat")
    bp.add_route(close, "/cases/<ref:str>/close", methods=["POST"], name="close_case")

    @bp.post("/cases/<ref:str>/reply")
    async def reply(request: Request, ref: str):
        try:
            item = await ops.answer(ref, request.ctx.staff, body_text(request))
        except OperationError as exc:
            return error(exc)
        sent = [m for m in portal.store_for(request.ctx.staff).messages(item.reference) if m.kind == "email"]
        return response.json({"sent_to": sent[-1].sent_to if sent else None})

    @bp.get("/events")
    async def events(request: Request):
        """Server-sent events: `change` with the references that changed. The stream ends
        after about a minute; EventSource reconnects by itself."""
        staff = request.ctx.staff
        municipality = portal.municipality_of(staff)
        stream = await request.respond(content_type="text/event-stream",
                                       headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        portal.accounts.seen(staff.username, wall_clock())
        version = portal.hub.version
        await stream.send("retry: 2000\n\n")
        loop = asyncio.get_running_loop()
        started = last_beat = loop.time()
        while loop.time() - started < SSE_STREAM_SECONDS:
            newer = await portal.hub.wait(version, timeout=SSE_HEARTBEAT_SECONDS)
            refs = portal.hub.changes_after(version, municipality) if newer > version else []
            version = newer
            if refs:
                await stream.send(f"event: change\ndata: {json.dumps({'refs': refs})}\n\n")
            if loop.time() - last_beat >= SSE_HEARTBEAT_SECONDS:
                last_beat = loop.time()
                portal.accounts.seen(staff.username, wall_clock())
                await stream.send(": still here\n\n")
        await stream.eof()

    return bp

"""Test server for the channel tests: the project's real channel classes in a Rasa Sanic
app (Rasa venv, Python 3.10), with a scripted stand-in for the trained assistant.

The channels (socket.io, Facebook webhook, REST) are the code under test; the stand-in lets a
test make the bot say exactly what a rendering test needs (hostile HTML, buttons, answer
and handoff payloads) through Rasa's own output channel classes. The end-to-end tests
against the trained assistant use the real servers instead (tests/conftest.py).

    .venv/rasa/bin/python tests/channels_app.py --port 5105

GET /_received lists what reached the "assistant" (to check redaction).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.channels.channel import UserMessage, register  # noqa: E402
from sanic import Sanic, response  # noqa: E402

from bot.channels.facebook import HardenedFacebookInput  # noqa: E402
from bot.channels.rest import CheckedRestInput  # noqa: E402
from bot.channels.socketio import HardenedSocketIOInput  # noqa: E402

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script><b>feit</b>'

received: list[dict[str, str]] = []


async def scripted_assistant(message: UserMessage) -> None:
    """Answer commands with the message kinds the real assistant sends."""
    received.append({"channel": message.input_channel or "", "sender": message.sender_id,
                     "text": message.text or "", "municipality": (message.metadata or {}).get("municipality")})
    out, to, text = message.output_channel, message.sender_id, message.text or ""
    if text == "/html":
        await out.send_text_message(to, HOSTILE)
    elif text == "/buttons":
        await out.send_text_with_buttons(to, "Fekk du svar på spørsmålet ditt?", [
            {"title": "Ja", "payload": "/affirm"}, {"title": "Nei", "payload": "/deny"}])
    elif text == "/answer":
        await out.send_text_message(
            to, "Søknadsfristen for barnehageplass i hovudopptaket er 1. mars.")
        await out.send_custom_json(to, {"data": {
            "type": "answer", "lang": "nn", "url": "https://www.alver.kommune.no/barnehage/",
            "title": "Barnehageopptak", "machine_converted": False,
            "related": [{"title": "SFO", "url": "https://www.alver.kommune.no/sfo/"}]}})
    elif text == "/answer-linked":  # as the real assistant: source as text, then the payload
        await out.send_text_message(to, "Søknadsfristen er 1. mars.")
        await out.send_text_message(
            to, "Les meir: Barnehageopptak – https://www.alver.kommune.no/barnehage/")
        await out.send_custom_json(to, {"data": {
            "type": "answer", "lang": "nn", "url": "https://www.alver.kommune.no/barnehage/",
            "title": "Barnehageopptak", "machine_converted": False,
            "related": [{"title": "SFO", "url": "https://www.alver.kommune.no/sfo/"}]}})
    elif text == "/bokmal":
        await out.send_text_message(to, "Søknadsfristen er 1. mars.")
        await out.send_custom_json(to, {"data": {
            "type": "answer", "lang": "nb", "url": "https://www.alver.kommune.no/nb/barnehage/",
            "title": "Barnehageopptak", "machine_converted": True, "related": []}})
    elif text == "/handoff":
        for state, extra in (
            ("waiting", {"expected_by": "2026-11-23T14:05:00+01:00"}),
            ("joined", {}),
            ("staff_message", {"text": "Hei, eg heiter Kari og jobbar i servicetorget."}),
            ("ended", {}),
            ("case_created", {"reference": "ALV-2026-0042",
                              "expected_by": "2026-11-26T15:00:00+01:00"}),
        ):
            await out.send_custom_json(to, {"data": {
                "type": "handoff", "state": state, "lang": "nn", "expected_by": None,
                "reference": None, **extra}})
    elif text == "/later":  # a reply that comes while the citizen has closed the chat
        await asyncio.sleep(1.5)
        await out.send_text_message(to, "Takk for at du venta. Her er svaret.")
    elif text == "/silent":  # the assistant never answers (as when Rasa cannot be reached)
        pass
    elif text == "/feedback":
        await out.send_custom_json(to, {"data": {"type": "feedback", "lang": "nn"}})
    else:
        await out.send_text_message(to, f"Du spurde om: {text}")


def build_app() -> Sanic:
    app = Sanic("kommunebot_channel_test")
    channels = [
        HardenedSocketIOInput.from_credentials({"session_persistence": True}),
        HardenedFacebookInput.from_credentials(None),
        CheckedRestInput.from_credentials(None),
    ]
    register(channels, app, route="/webhooks/")
    # rasa.core.channels.channel.register hands messages to app.ctx.agent.handle_message
    app.ctx.agent = SimpleNamespace(handle_message=scripted_assistant)

    @app.get("/_received")
    async def list_received(_request):
        return response.json(received)

    @app.post("/_relay/<session_id>")
    async def relay(request, session_id: str):
        """What Rasa does for the staff portal's POST /conversations/{id}/execute?output_channel=latest."""
        await channels[0].get_output_channel().send_text_message(session_id, request.body.decode())
        return response.text("sent")

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    build_app().run(host="127.0.0.1", port=args.port, access_log=False)

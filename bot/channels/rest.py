"""The REST channel, checked: Rasa's `rest` channel with the same input checks as the widget.

Rasa's `RestInput` trusts the request: a body that is not a JSON object fails with HTTP
500, a missing `sender` files the message under the shared conversation "default", a
non-text `message` fails inside the NLU pipeline (the client gets `[]`), a 100 kB message
goes through the whole pipeline, and the client may claim any `input_channel`. This
subclass keeps the URL (/webhooks/rest/webhook), the request and the reply format (also
`?stream=true`), and:

- answers 400 with a JSON error saying what is expected when the body is not a JSON
  object, `sender` is not a short id, `message` is missing or not text, or
  `metadata.municipality` names no municipality of this deployment;
- answers empty, control-character-only and over-long messages (bot.channels.user_text,
  MAX_MESSAGE_CHARS) with a friendly reply in the citizen's standard, without running them;
- always records the channel as "rest";
- (bot.channels.guard) refuses bodies over 64 KB with 413 before reading them, binds
  each conversation to the token its first reply carries (header X-Kommunebot-Session):
  a new sender id works without one, an existing conversation only with its token; keeps
  only the metadata keys a client may set and adds the server's facts (the client's
  address key) for the limits; answers a client over the message rate with 429.

credentials.yml::

    bot.channels.rest.CheckedRestInput:
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import guard, municipality
from bot.channels.user_text import check_text, default_language, language_of, reply_for
from bot.privacy.metadata import client_metadata, with_server

# Conversation ids REST clients may use: printable, no spaces, at most 128 characters.
_SENDER = re.compile(r"[\w.:@+\-]{1,128}")

EXPECTED = 'expected a JSON object {"sender": "<conversation id>", "message": "<text>"}'


def problem_with(body: Any) -> str | None:
    """Why a REST request body cannot be processed, or None when it can."""
    if not isinstance(body, dict):
        return f"the body is not a JSON object: {EXPECTED}"
    sender = body.get("sender")
    if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
        return ("'sender' must be a conversation id of 1-128 letters, digits or ._:@+- "
                f"(one per citizen): {EXPECTED}")
    if not isinstance(body.get("message"), str):
        return f"'message' must be text: {EXPECTED}"
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "'metadata' must be a JSON object when given"
    return municipality.problem(metadata)


def _json_body(request: Request) -> Any:
    try:
        return request.json
    except Exception:  # Sanic raises InvalidUsage/BadRequest for malformed JSON
        return None


class CheckedRestInput(RestInput):
    """REST channel (name "rest") that validates every request before Rasa sees it."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = guard.limited(Blueprint("checked_rest_webhook", __name__))

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = _json_body(request)
            problem = problem_with(body)
            if problem:
                return response.json({"error": problem}, status=400)
            sender, raw = body["sender"], body["message"]
            refused = await guard.rest_session(request, sender, body)
            if refused:
                return refused
            metadata = body.get("metadata")
            client = guard.client_key_of(request)
            if not guard.message_rate().allow(sender, client):
                lang = language_of(raw[:200], default_language(metadata))
                return response.json([{"recipient_id": sender, "text": guard.TOO_FAST[lang]}], status=429,
                                     headers={"Retry-After": "60"})
            checked = check_text(raw)
            if checked.problem:
                lang = language_of(raw[:200], default_language(metadata))
                return guard.with_session_header(
                    response.json([{"recipient_id": sender, "text": reply_for(checked.problem, lang)}]), sender)
            metadata = with_server(client_metadata(body.get("metadata")), client=client)
            if bool_arg(request, "stream", default=False):
                return response.stream(self.stream_response(on_new_message, checked.text, sender, self.name(),
                                                            metadata), content_type="text/event-stream",
                                       headers={guard.SESSION_HEADER: guard.rest_token(sender)})
            collector = CollectingOutputChannel()
            await on_new_message(UserMessage(checked.text, collector, sender, input_channel=self.name(),
                                             metadata=metadata))
            return guard.with_session_header(response.json(collector.messages), sender)

        return webhook

"""Facebook Messenger channel, hardened (replaces Rasa's `facebook` connector).

Rasa's own connector reads only the SHA-1 `X-Hub-Signature`, compares it with `==`,
answers a forged request with HTTP 200, forwards custom JSON to the Graph API and sends
with a blocking request without timeout on the event loop. This one:

- verifies `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret) with
  `hmac.compare_digest`; missing or wrong signature -> 403, malformed JSON -> 400,
  oversized body -> 413, channel not configured -> 503;
- never sends our custom payloads to the Graph API: `answer` becomes a "read more" link
  text, `handoff` its text, others are dropped; buttons become quick replies;
- sends in a worker thread with a timeout, so a slow Graph API never blocks the server;
- answers 200 before it handles the events, and handles each delivery once (Facebook's
  retries carry the same message id; bot.channels.messenger_delivery);
- limits message length (in and out) and warns a citizen who writes a national identity
  number; such numbers are redacted before the text reaches the assistant or any log;
- routes each message to the municipality whose profile lists the Facebook page it was
  sent to (`messenger_page_ids`); when profiles list pages, a message to another page is
  logged and dropped (answered 200, so Facebook does not disable the webhook); when none
  do, every message is the default municipality's.

Configuration (environment variables; credentials.yml values are used when a variable
is unset):

    KOMMUNEBOT_FACEBOOK_VERIFY_TOKEN       the verify token typed into the app's webhook setup
    KOMMUNEBOT_FACEBOOK_APP_SECRET         the Meta app's secret (signs every webhook call)
    KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKEN  the page's access token (sends the answers)
    KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKENS several municipalities' pages: a JSON object
                                           {"<page id>": "<that page's token>", ...}; pages
                                           not listed use the single token above
    KOMMUNEBOT_FACEBOOK_GRAPH_URL          Graph API base URL (default https://graph.facebook.com/v19.0)
    KOMMUNEBOT_FACEBOOK_TIMEOUT            seconds per Graph API call (default 10)

Webhook URL: https://<your host>/webhooks/facebook/webhook
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Awaitable, Callable, Iterable

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.guard import TOO_FAST, message_rate
from bot.channels.messenger_delivery import Handler
from bot.channels.user_text import check_text, default_language, language_of, reply_for

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v19.0"
MAX_BODY_BYTES = 256 * 1024      # webhook calls are small; Facebook batches at most a few events
MAX_OUT_CHARS = 2000             # Graph API limit for a text message
MAX_QUICK_REPLIES = 13           # Graph API limit
MAX_QUICK_REPLY_TITLE = 20       # Graph API limit (characters)

ENV = {
    "verify": "KOMMUNEBOT_FACEBOOK_VERIFY_TOKEN",
    "secret": "KOMMUNEBOT_FACEBOOK_APP_SECRET",
    "page-access-token": "KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKEN",
}

NATIONAL_ID_WARNING = {
    "nn": ("Det ser ut som du skreiv eit personnummer. Vi har fjerna det frå meldinga di. "
           "Ikkje skriv personnummer eller andre personopplysningar i Messenger: "
           "Messenger er ikkje for saksbehandling."),
    "nb": ("Det ser ut som du skrev et personnummer. Vi har fjernet det fra meldingen din. "
           "Ikke skriv personnummer eller andre personopplysninger i Messenger: "
           "Messenger er ikke for saksbehandling."),
}
READ_MORE = {"nn": "Les meir: ", "nb": "Les mer: "}


def valid_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """`header` is `sha256=<hex HMAC-SHA256 of body>` made with `app_secret` (constant time)."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    given = header[len("sha256="):].strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode("ascii"), given)


def split_text(text: str, limit: int = MAX_OUT_CHARS) -> list[str]:
    """Split `text` into parts of at most `limit` characters, at paragraph or word breaks."""
    parts: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        while len(paragraph) > limit:
            cut = max(paragraph.rfind("\n", 0, limit), paragraph.rfind(" ", 0, limit))
            cut = cut if cut > limit // 2 else limit
            parts.append(paragraph[:cut].rstrip())
            paragraph = paragraph[cut:].lstrip()
        if paragraph:
            parts.append(paragraph)
    return parts


class GraphClient:
    """Sends messages through the Graph API's Send API, in a worker thread with a timeout."""

    def __init__(self, page_access_token: str, base_url: str, timeout: float) -> None:
        self._token = page_access_token
        self._url = base_url.rstrip("/") + "/me/messages"
        self.timeout = timeout

    async def send(self, recipient_id: str, message: dict[str, Any]) -> bool:
        """Send one message; log (without the token or the text) and return False on failure."""
        body = json.dumps({
            "recipient": {"id": recipient_id}, "messaging_type": "RESPONSE", "message": message,
        }).encode("utf-8")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._post, body)

    def _post(self, body: bytes) -> bool:
        url = self._url + "?" + urllib.parse.urlencode({"access_token": self._token})
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                reply.read()
            return True
        except urllib.error.HTTPError as error:
            detail = error.read(500).decode("utf-8", "replace")
            logger.error("facebook: Graph API refused a message: HTTP %s %s", error.code, detail)
        except (urllib.error.URLError, OSError) as error:  # timeouts and refused connections
            logger.error("facebook: Graph API not reachable at %s: %s; check "
                         "KOMMUNEBOT_FACEBOOK_GRAPH_URL and the network", self._url, error)
        return False


class HardenedMessengerOutput(OutputChannel):
    """Output to Messenger: only message kinds the Graph API accepts."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    def __init__(self, graph: GraphClient) -> None:
        super().__init__()
        self.graph = graph
        self.sent_text = ""  # what this turn has sent, so a payload does not repeat a link

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.sent_text += "\n" + text
        for part in split_text(text):
            await self.graph.send(recipient_id, {"text": part})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        titles = [str(b.get("title", "")) for b in buttons]
        fits = (0 < len(buttons) <= MAX_QUICK_REPLIES
                and all(0 < len(t) <= MAX_QUICK_REPLY_TITLE for t in titles))
        if not fits:  # the Graph API would reject them: list the choices as text instead
            await self.send_text_message(recipient_id, "\n".join([text, *(f"- {t}" for t in titles)]))
            return
        parts = split_text(text) or [" "]
        for part in parts[:-1]:
            await self.graph.send(recipient_id, {"text": part})
        await self.graph.send(recipient_id, {"text": parts[-1], "quick_replies": [
            {"content_type": "text", "title": t, "payload": str(b.get("payload", t))[:1000]}
            for t, b in zip(titles, buttons)
        ]})

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        if image.startswith("https://"):
            await self.graph.send(recipient_id, {"attachment": {
                "type": "image", "payload": {"url": image, "is_reusable": True}}})

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        logger.debug("facebook: attachment not sent (not supported in Messenger)")

    async def send_elements(
        self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any
    ) -> None:
        logger.debug("facebook: carousel elements not sent (not supported in Messenger)")

    async def send_custom_json(self, recipient_id: str, json_message: Any, **kwargs: Any) -> None:
        """Our payloads (`{"data": {"type": ...}}`) become plain text or are dropped: an
        answer's source link unless the turn's text gave it already, a handoff's text."""
        data = json_message.get("data") if isinstance(json_message, dict) else None
        if not isinstance(data, dict):
            data = {}
        kind = data.get("type")
        lang = "nb" if data.get("lang") == "nb" else "nn"
        url = data.get("url") if kind == "answer" else None
        if isinstance(url, str) and url.startswith("http") and url not in self.sent_text:
            await self.send_text_message(recipient_id, READ_MORE[lang] + url)
        elif kind == "handoff" and isinstance(data.get("text"), str) and data["text"].strip():
            await self.send_text_message(recipient_id, data["text"])
        else:
            logger.debug("facebook: custom payload of type %r not sent to Messenger", kind)


def _events(payload: Any) -> list[dict[str, Any]] | None:
    """The messaging events of a webhook call, or None if it is not a page webhook call."""
    if not isinstance(payload, dict) or payload.get("object") != "page":
        return None
    entries = payload.get("entry")
    if not isinstance(entries, list):
        return None
    events: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        messaging = entry.get("messaging", [])  # absent in e.g. "standby" entries: nothing for us
        if not isinstance(messaging, list):
            return None
        events.extend(e for e in messaging if isinstance(e, dict))
    return events


def _citizen_text(event: dict[str, Any]) -> tuple[bool, Any]:
    """(is a citizen message, its text) for one messaging event; echoes and receipts are not."""
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return False, None
        quick_reply = message.get("quick_reply")
        if isinstance(quick_reply, dict) and quick_reply.get("payload"):
            return True, quick_reply["payload"]
        return True, message.get("text")  # None for stickers, images, files: not text
    postback = event.get("postback")
    if isinstance(postback, dict):
        return True, postback.get("payload")
    return False, None


def _page_tokens() -> dict[str, str]:
    """Page id -> access token from KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKENS (a JSON object)."""
    raw = os.environ.get("KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKENS", "").strip()
    if not raw:
        return {}
    try:
        tokens = json.loads(raw)
    except ValueError:
        tokens = None
    if not isinstance(tokens, dict) or not all(isinstance(v, str) and v for v in tokens.values()):
        logger.error('facebook: KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKENS must be a JSON object '
                     '{"<page id>": "<token>", ...}; ignored, every page uses KOMMUNEBOT_FACEBOOK_PAGE_ACCESS_TOKEN')
        return {}
    return {str(page): token for page, token in tokens.items()}


def _municipality_metadata(event: dict[str, Any]) -> dict[str, str] | None:
    """{"municipality": slug} for the page the event was sent to; {} when no profile maps
    pages (the default municipality); None (drop it) for a page no profile lists."""
    from bot.service.municipalities import registry

    reg = registry()
    if not reg.uses_messenger_pages:
        return {}
    recipient = event.get("recipient")
    page_id = recipient.get("id") if isinstance(recipient, dict) else None
    profile = reg.for_messenger_page(page_id)
    if profile is None:
        logger.error("facebook: message to page %r dropped: no municipality lists it in messenger_page_ids "
                     "(municipalities/<slug>.yml)", str(page_id)[:64])
        return None
    return {"municipality": profile.slug}


class HardenedFacebookInput(InputChannel):
    """Messenger webhook (name "facebook", route /webhooks/facebook/webhook)."""

    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> HardenedFacebookInput:
        credentials = credentials or {}

        def setting(key: str) -> str:
            return os.environ.get(ENV[key]) or str(credentials.get(key) or "")

        return cls(
            verify_token=setting("verify"),
            app_secret=setting("secret"),
            page_access_token=setting("page-access-token"),
            graph_url=os.environ.get("KOMMUNEBOT_FACEBOOK_GRAPH_URL") or DEFAULT_GRAPH_URL,
            timeout=float(os.environ.get("KOMMUNEBOT_FACEBOOK_TIMEOUT") or 10),
        )

    def __init__(self, verify_token: str, app_secret: str, page_access_token: str,
                 graph_url: str = DEFAULT_GRAPH_URL, timeout: float = 10.0) -> None:
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.graph = GraphClient(page_access_token, graph_url, timeout)
        self.page_graphs = {page: GraphClient(token, graph_url, timeout)
                            for page, token in _page_tokens().items()}
        self.deliveries = Handler()
        self.missing = [ENV[k] for k, v in (("verify", verify_token), ("secret", app_secret),
                                             ("page-access-token", page_access_token)) if not v]
        if self.missing:
            logger.warning("facebook: channel not configured, the webhook answers 503; set %s",
                           ", ".join(self.missing))

    def get_output_channel(self) -> OutputChannel:
        return HardenedMessengerOutput(self.graph)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("hardened_facebook_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if not self.missing else "not configured"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if (self.verify_token and request.args.get("hub.mode") == "subscribe"
                    and hmac.compare_digest(token.encode(), self.verify_token.encode())):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("facebook: webhook verification with a wrong verify token; it must "
                           "equal %s", ENV["verify"])
            return response.text("wrong verify token", status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.missing:
                return response.json({"error": "Facebook channel not configured: set "
                                      + ", ".join(self.missing)}, status=503)
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return response.json({"error": "request body too large"}, status=413)
            if not valid_signature(self.app_secret, body, request.headers.get("X-Hub-Signature-256")):
                logger.warning("facebook: webhook call with a missing or wrong X-Hub-Signature-256 "
                               "refused; if genuine, check %s", ENV["secret"])
                return response.json({"error": "missing or wrong X-Hub-Signature-256"}, status=403)
            try:
                events = _events(json.loads(body.decode("utf-8")))
            except (UnicodeDecodeError, ValueError):
                events = None
            if events is None:
                return response.json({"error": "expected a JSON page webhook: "
                                      '{"object": "page", "entry": [{"messaging": [...]}]}'},
                                     status=400)
            metadata = self.get_metadata(request)
            # Answer 200 now and handle each citizen message once, in the background
            # (bot.channels.messenger_delivery): a slow answer must not make Facebook retry.
            for event in events:
                if _citizen_text(event)[0]:
                    self.deliveries.schedule(event, lambda e: self._handle_event(e, on_new_message, metadata))
            return response.text("EVENT_RECEIVED")

        return webhook

    async def _handle_event(self, event: dict[str, Any],
                            on_new_message: Callable[[UserMessage], Awaitable[Any]],
                            metadata: dict[str, Any] | None) -> None:
        from bot.privacy import find_national_ids, redact

        is_message, raw = _citizen_text(event)
        sender = event.get("sender")
        sender_id = sender.get("id") if isinstance(sender, dict) else None
        if not is_message or not isinstance(sender_id, str) or not sender_id.isdigit() or len(sender_id) > 64:
            return
        routed = _municipality_metadata(event)
        if routed is None:
            return
        metadata = {**(metadata or {}), **routed}
        recipient = event.get("recipient")
        page_id = str(recipient.get("id")) if isinstance(recipient, dict) else ""
        output = HardenedMessengerOutput(self.page_graphs.get(page_id, self.graph))
        if not message_rate().allow(f"facebook:{sender_id}", None):  # per citizen; all come from Facebook
            lang = (language_of(raw[:200], default_language(metadata)) if isinstance(raw, str)
                    else default_language(metadata))
            await output.send_text_message(sender_id, TOO_FAST[lang])
            return
        checked = check_text(raw)
        if checked.problem:
            lang = (language_of(raw[:200], default_language(metadata)) if isinstance(raw, str)
                    else default_language(metadata))
            await output.send_text_message(sender_id, reply_for(checked.problem, lang))
            return
        text = checked.text
        if find_national_ids(text):
            text = redact(text)
            lang = language_of(text, default_language(metadata))
            await output.send_text_message(sender_id, NATIONAL_ID_WARNING[lang])
            logger.info("facebook: national identity number redacted from a message")
        await on_new_message(UserMessage(
            text, output, sender_id, input_channel=self.name(), metadata=metadata))

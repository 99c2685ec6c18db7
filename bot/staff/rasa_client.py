"""The portal's calls to Rasa's HTTP API: read a transcript, run the relay actions.

Rasa runs with `--enable-api --auth-token TOKEN`; the token comes from
KOMMUNEBOT_RASA_TOKEN or the file var/rasa-token that `kommunebot run` writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

import httpx

from bot.config import Settings

log = logging.getLogger(__name__)


def rasa_token(settings: Settings) -> str:
    """KOMMUNEBOT_RASA_TOKEN, else the contents of var/rasa-token, else ""."""
    if settings.rasa_token:
        return settings.rasa_token
    path = settings.var_dir / "rasa-token"
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


class RasaUnavailable(RuntimeError):
    """Rasa did not answer or refused; the message says what to check."""


@dataclass(frozen=True)
class TranscriptLine:
    who: str       # "citizen" | "bot" | "staff"
    text: str
    at: datetime | None


def transcript_lines(tracker: dict) -> list[TranscriptLine]:
    """Citizen and bot messages from a tracker's events, oldest first."""
    out: list[TranscriptLine] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        stamp = event.get("timestamp")
        at = datetime.fromtimestamp(stamp, timezone.utc) if isinstance(stamp, int | float) else None
        if kind == "user" and event.get("text"):
            out.append(TranscriptLine("citizen", str(event["text"]), at))
        elif kind == "bot":
            data = event.get("data") or {}
            payload = ((data.get("custom") or {}).get("data")) or {}
            text = event.get("text") or payload.get("text") or ""
            buttons = data.get("buttons") or []
            if buttons:
                text += " [" + " | ".join(str(b.get("title", "")) for b in buttons) + "]"
            if text:
                who = "staff" if payload.get("type") == "handoff" and payload.get("state") == "staff_message" else "bot"
                out.append(TranscriptLine(who, text, at))
    return out


class RasaClient:
    """Async client for the parts of Rasa's HTTP API the portal needs."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def _request(self, method: str, url: str, **kwargs) -> httpx.Response:
        params = dict(kwargs.pop("params", {}))
        if self.token:
            params["token"] = self.token
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.request(method, url, params=params, **kwargs)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self.base_url} did not answer ({type(exc).__name__}). "
                                  "Is the Rasa server running (kommunebot run)?") from None
        if response.status_code in (401, 403):
            raise RasaUnavailable("Rasa refused the token: set KOMMUNEBOT_RASA_TOKEN to the token Rasa runs with.")
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code} for {method} {url}.")
        return response

    async def tracker(self, conversation_id: str) -> dict:
        response = await self._request("GET", self._url(conversation_id, "tracker"),
                                       params={"include_events": "ALL"})
        return response.json()

    async def execute(self, conversation_id: str, action: str) -> None:
        """Run `action` in the conversation; its messages go to the citizen's latest channel."""
        await self._request("POST", self._url(conversation_id, "execute"),
                            params={"output_channel": "latest"}, json={"name": action})

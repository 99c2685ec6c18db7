"""What the portal shows: the transcript of a chat or case, and the words for states.

The transcript merges Rasa's tracker (citizen and bot messages, text redacted by the
tracker store) with the staff messages in SQL (with their delivery state). Staff
messages are placed where the chat received them: each one the relay action sent carries
its id in the tracker. For the handler, the phone numbers and e-mail addresses the
citizen wrote in the chat are put back in place of "[telefon]" / "[e-post]" (from the
handoff row, never from the tracker). Buttons the citizen pressed show their titles,
not payloads ("Ja, chat med ein person", not "/affirm").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.handoff import clock
from bot.handoff.store import ChatContact, HandoffView, MessageView

LANG_NAMES = {"nn": "nynorsk", "nb": "bokmål"}
STATUS_NAMES = {"open": "Ventar", "claimed": "Teken", "closed": "Avslutta"}
CASE_STATUS_NAMES = {"open": "Ny", "claimed": "Teken", "closed": "Lukka"}
MESSAGE_STATES = {
    "queued": "Ventar på sending",
    "sent": "Sendt, ikkje stadfesta",
    "delivered": "Levert",
    "seen": "Sett",
    "undelivered": "Ikkje levert",
}
END_REASONS = {  # why a chat or case closed, as a label
    "staff": "avslutta av sakshandsamar",
    "answered": "svart",
    "citizen": "innbyggjaren gjekk ut",
    "left": "innbyggjaren forlét chatten",
    "idle": "innbyggjaren svarte ikkje",
    "closing": "chatten stengde for dagen",
    "abandoned": "ingen aktivitet på lenge",  # ended by `kommunebot forget --expired` (bot.privacy.forget)
}
ENDED_LINES = {  # the same, as the transcript's last line
    "staff": "{author} avslutta chatten.",
    "citizen": "Innbyggjaren avslutta chatten.",
    "left": "Chatten vart avslutta fordi innbyggjaren forlét han.",
    "idle": "Chatten vart avslutta fordi innbyggjaren ikkje svarte.",
    "closing": "Chatten vart avslutta fordi chatten stengde for dagen.",
}
PLACEHOLDERS = {"phone": "[telefon]", "email": "[e-post]"}


def local(moment: datetime | None, with_date: bool = True) -> str:
    if moment is None:
        return "–"
    moment = moment.astimezone(clock.LOCAL)
    return moment.strftime("%d.%m.%Y kl. %H.%M") if with_date else moment.strftime("kl. %H.%M")


def age(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} t {minutes % 60} min"
    return f"{minutes // (24 * 60)} d"


@dataclass(frozen=True)
class Line:
    """One line of a transcript."""

    key: str                 # stable id for live updates ("e12" tracker event, "m7" staff message)
    who: str                 # citizen | bot | staff | system
    text: str
    at: datetime | None
    author: str = ""
    state: str = ""          # for staff messages: queued | sent | delivered | seen | undelivered
    contacts: tuple[tuple[str, str], ...] = ()  # (kind, value) put back for the handler

    @property
    def version(self) -> str:
        """What may change in a line already shown: its delivery state, and the contacts
        put back once the action server has recorded them (it may lag the transcript)."""
        return f"{self.state}|{len(self.contacts)}"

    @property
    def who_label(self) -> str:
        if self.who == "staff":
            return f"Medarbeidar ({self.author})" if self.author else "Medarbeidar"
        return {"citizen": "Innbyggjar", "bot": "Kommunebot", "system": "Hending"}[self.who]

    @property
    def state_label(self) -> str:
        return MESSAGE_STATES.get(self.state, "")


def _timestamp(event: dict) -> datetime | None:
    stamp = event.get("timestamp")
    return datetime.fromtimestamp(stamp, timezone.utc) if isinstance(stamp, int | float) else None


def _buttons(event: dict) -> list[dict]:
    data = event.get("data") or {}
    return list(data.get("buttons") or data.get("quick_replies") or [])


def _unredact(text: str, stamp: float | None, contacts: tuple[ChatContact, ...]) -> tuple[str, tuple]:
    """Put the contacts recorded for this message back where the tracker store redacted them."""
    if stamp is None or not contacts:
        return text, ()
    mine = [c for c in contacts if abs(c.at - stamp) < 1.0]
    put = []
    for contact in mine:
        placeholder = PLACEHOLDERS[contact.kind]
        if placeholder in text:
            shown = contact.contact().display()
            text = text.replace(placeholder, shown, 1)
            put.append((contact.kind, shown))
    return text, tuple(put)


def _message_line(message: MessageView, citizen_left: bool) -> Line | None:
    key = f"m{message.id}"
    if message.kind == "message":
        return Line(key, "staff", message.text, message.created_at, message.author, message.state(citizen_left))
    if message.kind == "joined":
        text = (f"{message.author} tok over chatten" if message.text == "transfer"
                else f"{message.author} tok chatten")
        return Line(key, "system", text, message.created_at, message.author, message.state(citizen_left))
    if message.kind == "ended":
        reason, _, became = message.text.partition(":")
        text = ENDED_LINES.get(reason, "Chatten vart avslutta.").format(author=message.author)
        if became == "case":
            text += " Han vart ei sak, med kontaktinformasjonen innbyggjaren skreiv."
        return Line(key, "system", text, message.created_at, message.author, message.state(citizen_left))
    if message.kind == "email":
        return Line(key, "staff", f"E-post til {message.sent_to}:\n{message.text}", message.created_at, message.author)
    if message.kind == "note":
        if message.text.startswith("transfer:"):
            _, before, after = message.text.split(":", 2)
            text = f"{message.author} overførte til {after}" + (f" (frå {before})" if before else "")
            return Line(key, "system", text, message.created_at, message.author)
        return Line(key, "staff", f"Notat (svart på telefon):\n{message.text}", message.created_at, message.author)
    return None


def transcript(tracker: dict | None, messages: list[MessageView], item: HandoffView | None = None) -> list[Line]:
    """The conversation as the handler should read it, oldest first."""
    contacts = item.chat_contacts if item else ()
    citizen_left = bool(item and (item.citizen_left_at or item.status == "closed"))
    ours = {m.id: m for m in messages}
    placed: set[int] = set()
    out: list[Line] = []

    def place(message_id: int) -> None:
        if message_id in placed:
            return
        placed.add(message_id)
        line = _message_line(ours[message_id], citizen_left)
        if line:
            out.append(line)

    def place_relayed(message_id: int) -> None:
        """A message the chat received here; the staff notes written before it first."""
        for mid in sorted(ours):
            if mid >= message_id:
                break
            if ours[mid].kind in ("note", "email"):
                place(mid)
        place(message_id)

    last_buttons: list[dict] = []
    for index, event in enumerate((tracker or {}).get("events") or []):
        kind = event.get("event")
        at = _timestamp(event)
        if kind == "user":
            text = str(event.get("text") or "")
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            if not text or intent.startswith("EXTERNAL"):
                continue
            if text.startswith("/"):
                title = next((str(b.get("title")) for b in last_buttons if str(b.get("payload")) == text), None)
                text = title if title else f"(knapp: {text.lstrip('/')})"
            text, put = _unredact(text, event.get("timestamp"), contacts)
            out.append(Line(f"e{index}", "citizen", text, at, contacts=put))
        elif kind == "bot":
            data = event.get("data") or {}
            payload = ((data.get("custom") or {}).get("data")) or {}
            message_id = payload.get("id") if isinstance(payload, dict) else None
            if isinstance(message_id, int) and message_id in ours:
                place_relayed(message_id)
                continue
            text = event.get("text") or (payload.get("text") if isinstance(payload, dict) else "") or ""
            buttons = _buttons(event)
            if buttons:
                last_buttons = buttons
                text += "\n[" + " | ".join(str(b.get("title", "")) for b in buttons) + "]"
            if text:
                out.append(Line(f"e{index}", "bot", text, at))
    for mid in sorted(ours):  # not handed to the chat yet, and notes after the last one
        place(mid)
    return out


def citizen_state(item: HandoffView, now: datetime) -> str:
    """How the citizen's chat is doing, for the status line of a live chat."""
    if item.kind != "live":
        return ""
    if item.citizen_left_at:
        return f"Innbyggjaren forlét chatten {local(item.citizen_left_at)}."
    if item.status == "closed":
        return ""  # the status line says why it closed
    if item.citizen_away_since:
        return f"Innbyggjaren er fråkopla sidan {local(item.citizen_away_since, with_date=False)}."
    return "Innbyggjaren er tilkopla."


def contact_href(kind: str, value: str) -> str:
    return f"mailto:{value}" if kind == "email" else "tel:" + re.sub(r"[^+0-9]", "", value)

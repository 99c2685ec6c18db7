"""What staff do, in one place for the JSON API and the portal's forms: take a chat or
case, write in the chat, hand it to a colleague, close it, answer a case by e-mail.

Each operation raises OperationError with an HTTP status, a stable `code` and a message
in Nynorsk that says what to do; the API returns it as JSON, the pages show it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.handoff import clock
from bot.handoff.mail import MailFailed, MailNotConfigured, MailSettings, send_mail
from bot.handoff.store import HandoffError, HandoffStore, HandoffView, MessageView
from bot.staff.accounts import Accounts, SessionInfo

log = logging.getLogger(__name__)


@dataclass
class OperationError(Exception):
    status: int
    code: str
    message: str
    handler: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict:
        body: dict[str, str | None] = {"error": self.message, "code": self.code}
        if self.handler is not None or self.code == "claimed":
            body["handler"] = self.handler
        return body


def _noun(item: HandoffView | None) -> tuple[str, str]:
    """("chatten", "han") or ("saka", "ho"): the definite form and its pronoun."""
    return ("saka", "ho") if item is not None and item.kind == "case" else ("chatten", "han")


def refusal(exc: HandoffError, reference: str, item: HandoffView | None = None, to_user: str = "") -> OperationError:
    """The store's refusal as an OperationError that says what to do."""
    return explain(exc.reason, reference, item, exc.handler, to_user) or OperationError(400, exc.reason, str(exc))


def explain(reason: str, reference: str, item: HandoffView | None = None, handler: str | None = None,
            to_user: str = "") -> OperationError | None:
    """The error for a refusal code (None for an unknown code); the pages rebuild their
    error text from the code this way, never from text in the address."""
    noun, pronoun = _noun(item)
    handler = handler or (item.handled_by if item else None) or "ein annan"
    if reason == "claimed":
        return OperationError(409, "claimed", f"{handler} har alt teke {noun}. Be {handler} eller ein leiar "
                                              f"om å overføre {pronoun} til deg.", handler)
    if reason == "not_handler":
        return OperationError(403, "not_handler", f"Berre {handler} (eller ein leiar) kan svare i og avslutte {noun}. "
                                                  f"Be {handler} om å overføre {pronoun} til deg.", handler)
    if reason == "not_claimed":
        return OperationError(409, "not_claimed", f"Ingen har teke {noun} enno. Ta {pronoun} først.")
    if reason == "closed":
        return OperationError(409, "closed", f"{noun.capitalize()} er alt avslutta.")
    if reason == "unknown":
        return OperationError(404, "unknown", f"Fann ingen chat eller sak med referansen {reference}. "
                                              "Sjekk referansen i køen.")
    if reason == "empty":
        return OperationError(400, "empty", "Skriv eit svar før du sender.")
    if reason == "too_long":
        return OperationError(400, "too_long", "Svaret er for langt (høgst 4000 teikn). Del det i fleire meldingar.")
    if reason == "is_case":
        return OperationError(409, "is_case", "Dette er ei sak, ikkje ein chat: svar på e-post eller telefon "
                                              "på sida til saka.")
    if reason == "is_live":
        return OperationError(409, "is_live", "Dette er ein chat: svar innbyggjaren i chatten.")
    if reason == "no_user":
        return OperationError(404, "no_user", f"Fann ingen medarbeidar med brukarnamnet «{to_user}».")
    if reason == "same_user":
        return OperationError(409, "same_user", f"{to_user or handler} har alt {noun}.")
    return OTHER_ERRORS.get(reason)


OTHER_ERRORS = {
    "mail_not_configured": OperationError(
        503, "mail_not_configured", "E-post er ikkje sett opp på denne serveren, så svaret er ikkje sendt. Ring "
        "innbyggjaren, eller be driftsansvarleg om å setje KOMMUNEBOT_SMTP_HOST og KOMMUNEBOT_MAIL_FROM."),
    "mail_failed": OperationError(
        502, "mail_failed", "E-posten kunne ikkje sendast, så saka er ikkje lukka. Prøv igjen om litt, eller ring "
        "innbyggjaren."),
    "no_email": OperationError(409, "no_email", "Innbyggjaren har ikkje gitt e-postadresse: ring, og merk saka som "
                                                "svart i portalen etterpå."),
}


def email_text(item: HandoffView, answer: str, profile) -> tuple[str, str]:
    """(subject, body) of a case answer, in the citizen's written standard, with the
    municipality's name, service name and phone number from its profile."""
    municipality, phone = profile.name, profile.contact.phone
    service = (profile.service_name or {}).get(item.lang) or ("innbyggerservice" if item.lang == "nb"
                                                             else "innbyggjarservice")
    if item.lang == "nb":
        subject = f"Svar fra {municipality} – {item.reference}"
        body = (f"Hei!\n\nHer er svaret på spørsmålet ditt til {service} i {municipality}.\n\n"
                f"Du spurte:\n{item.question}\n\nSvar:\n{answer}\n\n"
                f"Saken din har referanse {item.reference}, og den er nå lukket. Har du flere spørsmål, "
                f"kan du svare på denne e-posten eller ringe oss på {phone}.\n\n"
                f"Hilsen\n{service}, {municipality}\n")
    else:
        subject = f"Svar frå {municipality} – {item.reference}"
        body = (f"Hei!\n\nHer er svaret på spørsmålet ditt til {service} i {municipality}.\n\n"
                f"Du spurde:\n{item.question}\n\nSvar:\n{answer}\n\n"
                f"Saka di har referanse {item.reference}, og ho er no lukka. Har du fleire spørsmål, "
                f"kan du svare på denne e-posten eller ringje oss på {phone}.\n\n"
                f"Helsing\n{service}, {municipality}\n")
    return subject, body


class Operations:
    """The staff actions, with their permission checks and their effect on the citizen."""

    def __init__(self, store: HandoffStore, accounts: Accounts, deliver, profile_for, municipality_of) -> None:
        """`profile_for(slug)`: a municipality's profile (its name, phone and e-mail in answers);
        `municipality_of(staff)`: the municipality a staff member works for."""
        self._store, self.accounts, self.deliver, self.profile_for = store, accounts, deliver, profile_for
        self.municipality_of = municipality_of

    def store_for(self, staff: SessionInfo) -> HandoffStore:
        """The store as the staff member may see it: their municipality's rows only."""
        return self._store.scoped(self.municipality_of(staff))

    def item(self, reference: str, staff: SessionInfo) -> HandoffView:
        """The chat or case, if it exists and belongs to the staff member's municipality
        (another municipality's reference is answered as unknown: 404, not 403)."""
        item = self.store_for(staff).get(reference)
        if item is None:
            raise OperationError(404, "unknown", f"Fann ingen chat eller sak med referansen {reference}. "
                                                 "Sjekk referansen i køen.")
        return item

    async def claim(self, reference: str, staff: SessionInfo) -> HandoffView:
        item = self.item(reference, staff)
        try:
            taken = self.store_for(staff).claim(reference, staff.username, now=clock.now())
        except HandoffError as exc:
            raise refusal(exc, reference, item) from None
        if taken.kind == "live":
            await self.deliver(taken.conversation_id)
        return taken

    async def write(self, reference: str, staff: SessionInfo, text: str) -> tuple[MessageView, str]:
        """A message in the chat; returns it and its state after the hand-over to the chat."""
        item = self.item(reference, staff)
        try:
            message = self.store_for(staff).add_staff_message(reference, staff.username, text, now=clock.now(),
                                                   is_lead=staff.is_lead)
        except HandoffError as exc:
            raise refusal(exc, reference, item) from None
        await self.deliver(message.conversation_id)
        current = next((m for m in self.store_for(staff).messages(reference) if m.id == message.id), message)
        return current, current.state()

    async def transfer(self, reference: str, staff: SessionInfo, to_user: str) -> HandoffView:
        item = self.item(reference, staff)
        to_user = (to_user or "").strip().lower()
        if not to_user:
            raise OperationError(400, "no_user", "Vel kven som skal ta over.")
        if to_user not in self.accounts.colleagues(self.municipality_of(staff)):  # never to another municipality
            raise OperationError(404, "no_user", f"Fann ingen medarbeidar med brukarnamnet «{to_user}».")
        try:
            moved = self.store_for(staff).transfer(reference, staff.username, to_user, now=clock.now(),
                                                   is_lead=staff.is_lead)
        except HandoffError as exc:
            raise refusal(exc, reference, item, to_user) from None
        if moved.kind == "live":
            await self.deliver(moved.conversation_id)
        return moved

    async def close(self, reference: str, staff: SessionInfo) -> HandoffView:
        item = self.item(reference, staff)
        try:
            closed = self.store_for(staff).close(reference, staff.username, now=clock.now(), is_lead=staff.is_lead)
        except HandoffError as exc:
            raise refusal(exc, reference, item) from None
        if closed.kind == "live":
            await self.deliver(closed.conversation_id)
        return closed

    async def answer(self, reference: str, staff: SessionInfo, text: str, phone_call: bool = False) -> HandoffView:
        """Answer a case: by e-mail through SMTP when the contact is an e-mail address
        (the citizen is told the case is closed), or, with `phone_call`, record what was
        said on the phone; then close it."""
        item = self.item(reference, staff)
        try:
            item = self.store_for(staff).check_may_answer(reference, staff.username, staff.is_lead)
        except HandoffError as exc:
            raise refusal(exc, reference, item) from None
        if not (text or "").strip():
            raise OperationError(400, "empty", "Skriv eit svar før du sender.")
        sent_to = None
        profile = self.profile_for(item.municipality)
        if item.contact is not None and item.contact.kind == "email":
            try:
                settings = MailSettings.from_env(default_sender=profile.contact.email)
            except MailNotConfigured:
                raise OTHER_ERRORS["mail_not_configured"] from None
            except ValueError as exc:
                raise OperationError(503, "mail_not_configured",
                                     f"E-postoppsettet er feil ({exc}), så svaret er ikkje sendt. "
                                     "Be driftsansvarleg rette det.") from None
            subject, body = email_text(item, text.strip(), profile)
            try:
                await asyncio.to_thread(send_mail, settings, to=item.contact.value, subject=subject, body=body,
                                        reply_to=profile.contact.email, reference=item.reference)
            except MailFailed as exc:
                log.warning("case %s: e-mail not sent: %s", reference, exc)
                raise OTHER_ERRORS["mail_failed"] from None
            sent_to = item.contact.value
        elif not phone_call:
            how = item.contact.display() if item.contact else "telefon"
            raise OperationError(409, "no_email", f"Innbyggjaren har ikkje gitt e-postadresse: ring {how}, "
                                                  "og merk saka som svart i portalen etterpå.")
        try:
            return self.store_for(staff).record_answer(reference, staff.username, text, now=clock.now(),
                                                       sent_to=sent_to, is_lead=staff.is_lead)
        except HandoffError as exc:
            raise refusal(exc, reference, item) from None

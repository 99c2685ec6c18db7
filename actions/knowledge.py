"""action_answer_question: answer from the knowledge index, or say honestly it was not found.

Above the calibrated threshold: the most relevant sentences of the best passage in the
citizen's standard, the page link, up to two related pages, the `answer` payload and
"Fekk du svar?/Fikk du svar?". Below it: ask for a rephrase once; the second miss in a
row sets `search_result: not_found_again` and the dialogue offers a person.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import language, municipality
from actions.insight import record
from bot.knowledge.answer import excerpt
from bot.knowledge.search import Hit, Searcher
from bot.privacy import redact

log = logging.getLogger(__name__)

MAX_RELATED = 2
SEARCH_DEPTH = 8


def searcher(slug: str) -> Searcher:
    """The municipality's knowledge index, loaded once per process (Searcher.load caches it)."""
    return Searcher.load(slug)


def _warm_up() -> None:
    from bot.service.municipalities import registry

    try:
        slugs = registry().slugs
    except Exception:
        log.exception("Could not read the municipality profiles at start-up")
        return
    for slug in slugs:
        try:
            searcher(slug)
        except Exception:  # reported again, with what to do, on the first question
            log.exception("Could not load the knowledge index of %s at start-up", slug)


_warm_up_once = threading.Lock()


def related_pages(hits: list[Hit], best: Hit, threshold: float) -> list[dict[str, str]]:
    """Up to two other pages (not the answer's page) that also clear the answer threshold."""
    pages: list[dict[str, str]] = []
    seen = {best.page_id}
    for hit in hits[1:]:
        if hit.page_id in seen or hit.score < threshold:
            continue
        seen.add(hit.page_id)
        pages.append({"title": hit.title, "url": hit.url})
        if len(pages) == MAX_RELATED:
            break
    return pages


def answer_payload(best: Hit, lang: str, related: list[dict[str, str]]) -> dict:
    """The custom `answer` payload (contract in the team brief), sent after the answer text."""
    return {"data": {"type": "answer", "lang": best.lang or lang, "url": best.url, "title": best.title,
                     "machine_converted": bool(best.machine_converted), "related": related}}


class ActionAnswerQuestion(Action):
    def __init__(self) -> None:
        # rasa_sdk creates the action when the server starts: load the embedding model and
        # index in the background then, so the first citizen does not wait for it. Only in
        # a Sanic worker (which serves the requests), not in Sanic's managing process.
        if os.environ.get("SANIC_WORKER_NAME") and _warm_up_once.acquire(blocking=False):
            threading.Thread(target=_warm_up, name="knowledge-warm-up", daemon=True).start()

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        question = (tracker.latest_message or {}).get("text") or ""
        lang = language(tracker)
        try:
            # CPU-bound work runs in a worker thread, never on the server's event loop.
            index = await asyncio.to_thread(searcher, municipality(tracker))
            hits = await asyncio.to_thread(index.search, question, SEARCH_DEPTH, lang)
        except Exception:
            log.exception("Knowledge search failed for a question")
            dispatcher.utter_message(response="utter_technical_problem")
            return [SlotSet("search_result", "not_found_again")]
        if not index.is_answerable(hits):
            return self.not_found(dispatcher, tracker)
        best = hits[0]
        related = related_pages(hits, best, index.threshold)
        text = await asyncio.to_thread(functools.partial(excerpt, best, question, same_page=hits[1:],
                                                         similarity=index.similarities))
        dispatcher.utter_message(text=text)
        if best.machine_converted:
            dispatcher.utter_message(response="utter_answer_machine_converted")
        dispatcher.utter_message(response="utter_answer_source", title=best.title, url=best.url)
        if related:
            listed = "\n".join(f"- {page['title']}: {page['url']}" for page in related)
            dispatcher.utter_message(response="utter_answer_related", related=listed)
        dispatcher.utter_message(json_message=answer_payload(best, lang, related))
        dispatcher.utter_message(response="utter_ask_feedback")
        dispatcher.utter_message(json_message={"data": {"type": "feedback", "lang": lang}})
        record(tracker, "answered", url=best.url, title=best.title)
        return [SlotSet("search_result", "found"), SlotSet("answer_url", best.url),
                SlotSet("answer_question", redact(question))]

    @staticmethod
    def not_found(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """Rephrase once; after a second miss in a row the dialogue offers a person."""
        missed_before = tracker.get_slot("search_result") in ("not_found", "not_found_again")
        record(tracker, "not_found", question=(tracker.latest_message or {}).get("text"))
        if missed_before:
            dispatcher.utter_message(response="utter_not_found")
            result = "not_found_again"
        else:
            dispatcher.utter_message(response="utter_not_found_rephrase")
            result = "not_found"
        return [SlotSet("search_result", result), SlotSet("answer_url", None), SlotSet("answer_question", None)]

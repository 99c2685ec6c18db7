"""End to end: the share of the project's conversation test questions
(tests/data/conversation_questions.yml) answered with the right fact in the right written
standard, through the REST channel of the real servers.

"Right fact": the reply text matches the question's `expect` pattern. "Right standard":
the answer payload's `lang` (or, without one, the detected standard of the reply text)
is the question's `lang`. Each question starts a new conversation.

Run: python -m bench.e2e [--url http://127.0.0.1:5005]  (no --url: starts its own servers)
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid

import httpx
import yaml

from bench.common import machine, write_json
from bench.servers import running_stack
from bot.config import ROOT

QUESTIONS = ROOT / "tests" / "data" / "conversation_questions.yml"


def reply_language(replies: list[dict], text: str) -> str | None:
    for reply in replies:
        data = (reply.get("custom") or {}).get("data") if isinstance(reply.get("custom"), dict) else None
        if isinstance(data, dict) and data.get("type") == "answer" and data.get("lang"):
            return data["lang"]
    from bot.language import detect

    return detect(text).lang if text else None


def evaluate(url: str) -> dict:
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    per_lang: dict[str, dict[str, int]] = {}
    misses = []
    with httpx.Client(timeout=60) as client:
        for q in questions:
            response = client.post(f"{url}/webhooks/rest/webhook",
                                   json={"sender": f"e2e-{uuid.uuid4().hex[:10]}", "message": q["text"]})
            replies = response.json() if response.status_code == 200 else []
            text = "\n".join(r.get("text", "") for r in replies if r.get("text"))
            fact = bool(re.search(q["expect"], text, re.IGNORECASE))
            lang_ok = reply_language(replies, text) == q["lang"]
            row = per_lang.setdefault(q["lang"], {"questions": 0, "fact": 0, "standard": 0, "both": 0})
            row["questions"] += 1
            row["fact"] += fact
            row["standard"] += lang_ok
            row["both"] += fact and lang_ok
            if not (fact and lang_ok):
                misses.append({"text": q["text"], "lang": q["lang"], "fact": fact, "standard": lang_ok,
                               "reply": text[:200]})
    total = {k: sum(r[k] for r in per_lang.values()) for k in ("questions", "fact", "standard", "both")}
    share = {k: round(total[k] / total["questions"], 3) for k in ("fact", "standard", "both")}
    return {"by_lang": per_lang, "total": total, "share": share, "misses": misses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an already running Rasa server (default: start the servers)")
    args = parser.parse_args(argv)
    print(f"e2e: {QUESTIONS.relative_to(ROOT)} through REST", flush=True)
    if args.url:
        result = evaluate(args.url.rstrip("/"))
    else:
        with running_stack(["actions", "rasa"], progress=lambda line: None) as stack:
            result = evaluate(stack.config.rasa_url)
    for lang, row in sorted(result["by_lang"].items()):
        print(f"  {lang}: {row['both']}/{row['questions']} right fact in the right standard "
              f"(fact {row['fact']}, standard {row['standard']})")
    print(f"  all: {result['share']['both']:.1%} right fact in the right standard")
    result["machine"] = machine()
    print(f"e2e: wrote {write_json('e2e', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

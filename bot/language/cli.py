"""Command `lang`: detect Nynorsk or Bokmål for each line read on stdin.

    echo "kva kostar det" | bin/kommunebot lang --json
    {"text": "kva kostar det", "lang": "nn", "confidence": 0.99}

Without --json each line prints as `lang<TAB>confidence<TAB>text` (lang "-" for no
evidence). Output is flushed per line so the command can sit in a pipe.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "lang", help="detect Nynorsk or Bokmål, one line at a time",
        description="Read lines on stdin; print the written standard (nn, nb or none) of each.",
    )
    parser.add_argument("--json", action="store_true", help='one JSON object a line: {"text", "lang", "confidence"}')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.language import detect

    try:
        for raw in sys.stdin:
            text = raw.rstrip("\r\n")
            found = detect(text)
            if args.json:
                fields = {"text": text, "lang": found.lang, "confidence": found.confidence}
                line = json.dumps(fields, ensure_ascii=False)
            else:
                line = f"{found.lang or '-'}\t{found.confidence:.3f}\t{text}"
            print(line, flush=True)
    except RuntimeError as exc:  # the model file is missing or broken
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0

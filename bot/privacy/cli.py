"""Command `forget`: delete everything kept about one conversation.

    bin/kommunebot forget CONVERSATION_ID [--database-url URL] [--tracker-url URL]
"""

from __future__ import annotations

import argparse
import sys

from bot.config import settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forget", help="delete everything kept about one conversation",
        description="Delete a conversation's Rasa tracker events, handoff cases, queue entries "
                    "and staff messages. See docs/PRIVACY.md.")
    parser.add_argument("conversation_id", help="Rasa sender id (shown in the staff portal's transcript)")
    parser.add_argument("--database-url", help="cases database (default: KOMMUNEBOT_DATABASE_URL)")
    parser.add_argument("--tracker-url", help="Rasa's SQL tracker store, if it is another database")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bot.handoff.db import DatabaseUnavailable
    from bot.privacy.forget import forget_conversation

    try:
        result = forget_conversation(args.conversation_id, args.database_url or settings().database_url,
                                     args.tracker_url)
    except (DatabaseUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"deleted {result.tracker_events} tracker event(s), {result.handoffs} case(s)/queue entr(ies) "
          f"and {result.staff_messages} staff message(s) of conversation {args.conversation_id!r}")
    return 0

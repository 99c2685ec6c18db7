"""Command `forget`: delete a conversation by id, or everything past its retention time.

    bin/kommunebot forget CONVERSATION_ID [--database-url URL] [--tracker-url URL]
    bin/kommunebot forget --expired      # run daily: retention from municipalities/<slug>.yml
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.config import settings


def default_tracker_url(database_url: str | None) -> str:
    """Where the Rasa server keeps conversations: KOMMUNEBOT_TRACKER_URL; else the database
    given with --database-url (one database for both); else the Rasa server's default."""
    if database_url and not os.environ.get("KOMMUNEBOT_TRACKER_URL", "").strip():
        return database_url
    return settings().tracker_url


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forget", help="delete a conversation, or everything older than the retention time",
        description="Delete a conversation's Rasa tracker events, handoff cases, queue entries "
                    "and staff messages, or (--expired) everything older than the retention in "
                    "the municipality profiles (municipalities/<slug>.yml). See docs/PRIVACY.md.")
    parser.add_argument("conversation_id", nargs="?", help="Rasa sender id (shown in the staff portal's transcript)")
    parser.add_argument("--expired", action="store_true",
                        help="delete closed cases and idle conversations older than the profile's retention")
    parser.add_argument("--database-url", help="cases database (default: KOMMUNEBOT_DATABASE_URL)")
    parser.add_argument("--tracker-url", help="Rasa's SQL tracker store (default: KOMMUNEBOT_TRACKER_URL, else "
                                              "--database-url, else var/rasa-tracker.db as the Rasa server uses)")
    parser.add_argument("--profile", help="municipality profile for --expired (default: the shortest retention "
                                          "of all municipalities in municipalities/)")
    parser.set_defaults(func=run)


def _retention(profile_path: str | None):
    """The profile's retention; without one, the shortest of every municipality's (conversations
    carry no municipality in Rasa's tracker store, so none is kept longer than any allows)."""
    from bot.service.municipalities import registry
    from bot.service.profile import Retention, load_profile

    if profile_path:
        return load_profile(profile_path).retention
    profiles = list(registry())
    return Retention(conversations_days=min(p.retention.conversations_days for p in profiles),
                     closed_cases_days=min(p.retention.closed_cases_days for p in profiles))


def run(args: argparse.Namespace) -> int:
    from bot.handoff.clock import now
    from bot.handoff.db import DatabaseUnavailable
    from bot.privacy.forget import abandoned_after, forget_conversation, forget_expired
    from bot.service.profile import ProfileError

    if bool(args.conversation_id) == args.expired:
        print("error: give either a conversation id or --expired", file=sys.stderr)
        return 2
    url = args.database_url or settings().database_url
    tracker_url = args.tracker_url or default_tracker_url(args.database_url)
    try:
        if args.expired:
            retention = _retention(args.profile)
            result = forget_expired(retention, url, now(), tracker_url)
            what = (f"older than {retention.conversations_days} days (conversations) / "
                    f"{retention.closed_cases_days} days (closed cases)")
        else:
            result = forget_conversation(args.conversation_id, url, tracker_url)
            what = f"of conversation {args.conversation_id!r}"
    except (DatabaseUnavailable, ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if result.abandoned_live_chats:
        print(f"ended {result.abandoned_live_chats} live chat(s) nobody had touched for "
              f"{abandoned_after().total_seconds() / 3600:g} hours")
    print(f"deleted {result.tracker_events} tracker event(s), {result.handoffs} case(s)/queue entr(ies) "
          f"and {result.staff_messages} staff message(s) {what}")
    return 0

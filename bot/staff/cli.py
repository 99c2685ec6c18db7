"""`kommunebot staff add|list|remove|passwd`: manage staff accounts for the staff portal."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.handoff import clock
from bot.handoff.db import Database, DatabaseUnavailable
from bot.staff.accounts import AccountError, Accounts


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("staff", help="manage staff accounts for the staff portal")
    sub = parser.add_subparsers(dest="staff_command", required=True)
    add = sub.add_parser("add", help="create an account (asks for the password twice)")
    add.add_argument("username")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd = sub.add_parser("passwd", help="set a new password (ends the user's sessions)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    sub.add_parser("list", help="list the accounts")
    remove = sub.add_parser("remove", help="delete an account and its sessions")
    remove.add_argument("username")
    parser.set_defaults(func=run)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise AccountError("the passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    try:
        accounts = Accounts(Database.from_settings())
    except DatabaseUnavailable as exc:
        print(f"staff: {exc}", file=sys.stderr)
        return 2
    try:
        if args.staff_command == "add":
            accounts.add(args.username, _password(args.password_stdin), now=clock.now())
            print(f"Created staff account {args.username.strip().lower()}. Log in at /staff/login.")
        elif args.staff_command == "passwd":
            accounts.set_password(args.username, _password(args.password_stdin))
            print(f"New password set for {args.username}; the user's sessions have ended.")
        elif args.staff_command == "list":
            for username, created in accounts.list():
                print(f"{username}\t{created.astimezone(clock.LOCAL):%Y-%m-%d %H:%M}")
        elif args.staff_command == "remove":
            if not accounts.remove(args.username):
                print(f"staff: no account {args.username!r}", file=sys.stderr)
                return 1
            print(f"Removed {args.username}.")
    except AccountError as exc:
        print(f"staff: {exc}", file=sys.stderr)
        return 1
    return 0

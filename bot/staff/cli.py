"""`kommunebot staff add|list|remove|passwd|role|token`: staff accounts for the staff portal.

    kommunebot staff add kari [--role lead] [--municipality alver]
    kommunebot staff token kari          # prints a new API token for kari on stdout, nothing else
    kommunebot staff token kari --revoke # removes all of kari's tokens
"""

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
    add.add_argument("--role", choices=("staff", "lead"), default="staff",
                     help="lead: may reply to, transfer and close colleagues' chats and cases")
    add.add_argument("--municipality", help="the municipality (profile slug) the account works for")
    role = sub.add_parser("role", help="make an account staff or lead")
    role.add_argument("username")
    role.add_argument("role", choices=("staff", "lead"))
    token = sub.add_parser("token", help="print a new API token for the user (Authorization: Bearer ...)")
    token.add_argument("username")
    token.add_argument("--revoke", action="store_true", help="remove the user's API tokens instead")
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
            accounts.add(args.username, _password(args.password_stdin), now=clock.now(), role=args.role,
                         municipality=args.municipality)
            print(f"Created staff account {args.username.strip().lower()} ({args.role}). Log in at /staff/login.")
        elif args.staff_command == "role":
            accounts.set_role(args.username, args.role)
            print(f"{args.username} is now {args.role}.")
        elif args.staff_command == "token":
            if args.revoke:
                count = accounts.revoke_tokens(args.username)
                print(f"Removed {count} API token(s) of {args.username}.", file=sys.stderr)
            else:
                print(accounts.create_token(args.username, now=clock.now()))
        elif args.staff_command == "passwd":
            accounts.set_password(args.username, _password(args.password_stdin))
            print(f"New password set for {args.username}; the user's sessions have ended.")
        elif args.staff_command == "list":
            for username, role, municipality, created in accounts.describe():
                print(f"{username}\t{role}\t{municipality or '-'}\t{created.astimezone(clock.LOCAL):%Y-%m-%d %H:%M}")
        elif args.staff_command == "remove":
            if not accounts.remove(args.username):
                print(f"staff: no account {args.username!r}", file=sys.stderr)
                return 1
            print(f"Removed {args.username}.")
    except AccountError as exc:
        print(f"staff: {exc}", file=sys.stderr)
        return 1
    return 0

"""`kommunebot staff add|list|remove|passwd|role|municipality|token`: staff accounts for the
staff portal. An account works for one municipality and sees only its queue, cases and
statistics; with several municipalities `--municipality` is required.

    kommunebot staff add kari [--role lead] [--municipality alver]
    kommunebot staff municipality kari ullensaker   # move an account (its sessions end)
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
    add.add_argument("--municipality", metavar="SLUG",
                     help="the municipality the account works for (required when there are several)")
    move = sub.add_parser("municipality", help="move an account to another municipality")
    move.add_argument("username")
    move.add_argument("slug")
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


def _municipality(slug: str | None) -> str:
    """A known municipality slug; without one, the only municipality there is."""
    from bot.service.municipalities import UnknownMunicipality, registry

    reg = registry()
    if slug:
        try:
            return reg.get(slug).slug
        except UnknownMunicipality as exc:
            raise AccountError(str(exc)) from None
    if len(reg) == 1:
        return reg.default_slug
    raise AccountError(f"this deployment serves several municipalities ({', '.join(reg.slugs)}): "
                       "say which one the account works for with --municipality SLUG")


def run(args: argparse.Namespace) -> int:
    try:
        accounts = Accounts(Database.from_settings())
    except DatabaseUnavailable as exc:
        print(f"staff: {exc}", file=sys.stderr)
        return 2
    try:
        if args.staff_command == "add":
            municipality = _municipality(args.municipality)
            accounts.add(args.username, _password(args.password_stdin), now=clock.now(), role=args.role,
                         municipality=municipality)
            print(f"Created staff account {args.username.strip().lower()} ({args.role}, {municipality}). "
                  "Log in at /staff/login.")
        elif args.staff_command == "municipality":
            municipality = _municipality(args.slug)
            accounts.set_municipality(args.username, municipality)
            print(f"{args.username} now works for {municipality}; the user's sessions have ended.")
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
            for username, role, works_for, created in accounts.describe():
                print(f"{username}\t{role}\t{works_for or '-'}\t{created.astimezone(clock.LOCAL):%Y-%m-%d %H:%M}")
        elif args.staff_command == "remove":
            if not accounts.remove(args.username):
                print(f"staff: no account {args.username!r}", file=sys.stderr)
                return 1
            print(f"Removed {args.username}.")
    except AccountError as exc:
        print(f"staff: {exc}", file=sys.stderr)
        return 1
    return 0

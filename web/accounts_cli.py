"""`docchat user add|password|remove` and `docchat key add`: how an administrator manages logins
and API keys of a workspace (DOCCHAT_AUTH=required)."""

from __future__ import annotations

import argparse
import getpass
import sys

from retrieval.core.settings import Settings
from retrieval.storage.accounts import AccountError, AccountStore


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = commands.add_parser("user", help="manage logins").add_subparsers(
        dest="action", required=True)
    add = user.add_parser("add", help="create a user in a workspace (password asked, or read "
                                      "from standard input when it is not a terminal)")
    add.add_argument("username")
    add.add_argument("--workspace", required=True)
    add.add_argument("--admin", action="store_true", help="may manage the index")
    password = user.add_parser("password", help="set a user's password (ends their sessions)")
    password.add_argument("username")
    remove = user.add_parser("remove", help="delete a user (ends their sessions)")
    remove.add_argument("username")
    key = commands.add_parser("key", help="manage API keys").add_subparsers(
        dest="action", required=True)
    make = key.add_parser("add", help="create an API key for a workspace and print it once")
    make.add_argument("name", help="what the key is for, e.g. slack")
    make.add_argument("--workspace", required=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    accounts = AccountStore(settings.database_path)
    try:
        if args.command == "user" and args.action == "add":
            user = accounts.create_user(args.username, _password(), args.workspace,
                                        is_admin=args.admin)
            print(f"user {user.username} can log in to workspace {user.workspace}")
        elif args.command == "user" and args.action == "password":
            accounts.set_password(args.username, _password())
            print(f"password of {args.username} changed; their sessions have ended")
        elif args.command == "user" and args.action == "remove":
            accounts.remove_user(args.username)
            print(f"user {args.username} removed; their sessions have ended")
        elif args.command == "key":
            key, token = accounts.create_api_key(args.workspace, args.name)
            print(token)
            print(f"API key {key.name!r} (#{key.id}) for workspace {key.workspace}: store it "
                  "now, docchat keeps only its digest.", file=sys.stderr)
    except AccountError as exc:
        print(f"docchat: {exc}", file=sys.stderr)
        return 2
    return 0


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("The two passwords differ.")
    return first

"""``thermalstream users ...``: manage accounts from the command line.

Works on the database of the settings (``THERMALSTREAM_DATA_DIR`` / ``THERMALSTREAM_DATABASE_URL``),
also while the server runs (SQLite in WAL mode with a busy timeout; PostgreSQL as usual).

    thermalstream users add NAME --role ROLE [--password P] [--email E]
    thermalstream users list [--json]
    thermalstream users set-role NAME ROLE
    thermalstream users reset-password NAME [--password P | --generate]
    thermalstream users unlock NAME
    thermalstream users delete NAME

Wire it into the main parser with :func:`register`. Each handler takes ``(args, settings)``
and returns the exit status: 0 done, 1 not found / refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from thermalstream.auth.errors import AuthValueError, UserNotFound

ROLE_CHOICES = ("admin", "operator", "viewer")


def _open(settings: Any):
    from thermalstream.auth.passwords import PasswordHasher
    from thermalstream.auth.users import UserService
    from thermalstream.db import Database

    if hasattr(settings, "ensure_dirs"):
        settings.ensure_dirs()
    db = Database.create(settings)
    rounds = int(getattr(settings, "bcrypt_rounds", 12) or 12)
    return db, UserService(db, hasher=PasswordHasher(rounds))


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _call(settings: Any, action: Callable[[Any], Any]) -> tuple[int, Any]:
    """Run ``action(users)`` on the settings' database: ``(0, result)``, or the exit status after
    printing the error (1 no such user, 2 bad input)."""
    db, users = _open(settings)
    try:
        return 0, action(users)
    except UserNotFound as exc:
        _err(str(exc))
        return 1, None
    except AuthValueError as exc:
        _err(str(exc))
        return 2, None
    finally:
        db.dispose()


def _prompt_password(username: str) -> str | None:
    """Ask twice on the terminal; None (after a message) when there is none or they differ."""
    try:
        first = getpass.getpass(f"Password for {username}: ")
        second = getpass.getpass("Repeat the password: ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        _err("no password given (use --password or run in a terminal)")
        return None
    if first != second:
        _err("the passwords differ")
        return None
    return first


def cmd_users_add(args: argparse.Namespace, settings: Any) -> int:
    password = args.password
    if password is None:
        password = _prompt_password(args.name)
        if password is None:
            return 2
    status, user = _call(settings, lambda users: users.create(args.name, password, role=args.role,
                                                               email=args.email))
    if status:
        return status
    print(f"added user {user['username']} (id {user['id']}, role {user['role']})")
    return 0


def cmd_users_list(args: argparse.Namespace, settings: Any) -> int:
    _, rows = _call(settings, lambda users: users.list())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no users")
        return 0
    print(f"{'id':>4}  {'username':<24} {'role':<9} {'active':<6} {'email':<30} last login")
    for r in rows:
        state = "yes" if r["is_active"] else "no"
        if r["locked_until"]:
            state += " (locked)"
        print(f"{r['id']:>4}  {r['username']:<24} {r['role']:<9} {state:<6} {r['email'] or '-':<30} "
              f"{r['last_login_at'] or 'never'}")
    return 0


def cmd_users_set_role(args: argparse.Namespace, settings: Any) -> int:
    status, user = _call(settings, lambda users: users.set_role(args.name, args.role))
    if status:
        return status
    print(f"user {user['username']} is now {user['role']}")
    return 0


def cmd_users_reset_password(args: argparse.Namespace, settings: Any) -> int:
    password = args.password
    if password is None and not args.generate:
        password = _prompt_password(args.name)
        if password is None:
            return 2
    status, generated = _call(settings, lambda users: users.reset_password(args.name, password))
    if status:
        return status
    name = args.name.strip().lower()
    if generated:
        print(f"new password for {name}: {generated}")
        print("hand it over safely; it is shown only now")
    else:
        print(f"password of {name} changed")
    print("every login cookie, API token and reset link of the user stopped working; open live views close")
    return 0


def cmd_users_unlock(args: argparse.Namespace, settings: Any) -> int:
    status, user = _call(settings, lambda users: users.unlock(args.name))
    if status:
        return status
    print(f"user {user['username']} unlocked")
    return 0


def cmd_users_delete(args: argparse.Namespace, settings: Any) -> int:
    status, deleted = _call(settings, lambda users: users.delete(args.name))
    if status:
        return status
    if not deleted:
        _err(f"No such user: {args.name!r}.")
        return 1
    print(f"user {args.name.strip().lower()} deleted")
    return 0


def register(
    subparsers: argparse._SubParsersAction,
    settings_factory: Callable[[argparse.Namespace], Any] | None = None,
) -> argparse.ArgumentParser:
    """Add the ``users`` command to ``subparsers``.

    Each action sets ``args.users_handler`` (a function of ``(args, settings)``). With
    ``settings_factory`` (``args -> Settings``) it also sets ``args.fn`` to a function of
    ``args`` alone that builds the settings and calls the handler, the convention of
    ``thermalstream.cli``.
    """
    users = subparsers.add_parser("users", help="manage user accounts (works while the server runs)")
    sub = users.add_subparsers(dest="users_action", required=True)

    def action(name: str, handler: Callable[[argparse.Namespace, Any], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.set_defaults(users_handler=handler)
        if settings_factory is not None:
            p.set_defaults(fn=lambda args, _h=handler: _h(args, settings_factory(args)))
        return p

    a = action("add", cmd_users_add, "add a user (prompts for the password when --password is not given)")
    a.add_argument("name")
    a.add_argument("--role", choices=ROLE_CHOICES, default="viewer")
    a.add_argument("--password", help="the password (visible in the process list: prefer the prompt)")
    a.add_argument("--email", default=None)

    ls = action("list", cmd_users_list, "list users")
    ls.add_argument("--json", action="store_true")

    r = action("set-role", cmd_users_set_role, "change a user's role")
    r.add_argument("name")
    r.add_argument("role", choices=ROLE_CHOICES)

    p = action("reset-password", cmd_users_reset_password,
               "set a new password (prompts, or --password, or --generate); revokes the user's sessions")
    p.add_argument("name")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password")
    g.add_argument("--generate", action="store_true", help="generate a random password and print it")

    u = action("unlock", cmd_users_unlock, "lift a login lockout")
    u.add_argument("name")

    d = action("delete", cmd_users_delete, "delete a user")
    d.add_argument("name")
    return users


def run(args: argparse.Namespace, settings: Any) -> int:
    """Run the handler chosen by the parsed ``args``."""
    return args.users_handler(args, settings)

"""``thermalstream users ...`` handlers on a temporary SQLite database (also while it is open elsewhere)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from thermalstream.auth import PasswordHasher, UserService
from thermalstream.auth import cli as users_cli
from thermalstream.config import Settings
from thermalstream.db import Database

ROOT = Path(__file__).resolve().parents[1]
PW = "correct horse battery"


class FastSettings(Settings):
    bcrypt_rounds: int = 4  # cheap hashes for tests (the CLI reads the field with getattr)


@pytest.fixture
def settings(tmp_path):
    return FastSettings(data_dir=tmp_path / "data", default_camera="")


def run(settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="thermalstream")
    sub = parser.add_subparsers(dest="command", required=True)
    users_cli.register(sub, settings_factory=lambda args: settings)
    args = parser.parse_args(argv)
    assert args.users_handler is not None
    return args.fn(args)


def test_add_list_set_role_reset(settings, capsys):
    assert run(settings, "users", "add", "Alice", "--role", "operator", "--password", PW,
               "--email", "alice@example.org") == 0
    assert "added user alice" in capsys.readouterr().out
    assert run(settings, "users", "list") == 0
    out = capsys.readouterr().out
    assert "alice" in out and "operator" in out and "alice@example.org" in out
    assert run(settings, "users", "set-role", "alice", "admin") == 0
    assert "alice is now admin" in capsys.readouterr().out
    assert run(settings, "users", "reset-password", "alice", "--generate") == 0
    out = capsys.readouterr().out
    new = out.split("new password for alice: ")[1].split()[0]
    db = Database(settings.db_url)
    try:
        users = UserService(db, hasher=PasswordHasher(4))
        assert users.authenticate("alice", new)["role"] == "admin"
        assert users.authenticate("alice", PW) is None
    finally:
        db.dispose()
    assert run(settings, "users", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["username"] == "alice" and "password_hash" not in rows[0]


def test_prompts_for_the_password(settings, monkeypatch, capsys):
    answers = iter([PW, PW])
    monkeypatch.setattr(users_cli.getpass, "getpass", lambda prompt="": next(answers))
    assert run(settings, "users", "add", "bob") == 0
    answers = iter(["new password 123", "different one 123"])
    assert run(settings, "users", "reset-password", "bob") == 2
    assert "differ" in capsys.readouterr().err

    def no_terminal(prompt=""):
        raise EOFError

    monkeypatch.setattr(users_cli.getpass, "getpass", no_terminal)
    assert run(settings, "users", "add", "carol") == 2
    assert "no password given" in capsys.readouterr().err


def test_errors_are_clear_exit_codes(settings, capsys):
    assert run(settings, "users", "add", "dave", "--password", "short") == 2
    assert "at least 10" in capsys.readouterr().err
    assert run(settings, "users", "add", "zoë", "--password", PW) == 2
    assert "may contain only" in capsys.readouterr().err
    assert run(settings, "users", "add", "dave", "--password", PW) == 0
    assert run(settings, "users", "add", "DAVE", "--password", PW) == 2
    assert "taken" in capsys.readouterr().err
    assert run(settings, "users", "set-role", "nobody", "viewer") == 1
    assert "No such user" in capsys.readouterr().err
    assert run(settings, "users", "reset-password", "nobody", "--password", PW) == 1
    assert run(settings, "users", "delete", "nobody") == 1
    assert run(settings, "users", "unlock", "dave") == 0
    assert run(settings, "users", "delete", "dave") == 0
    with pytest.raises(SystemExit):
        run(settings, "users", "set-role", "dave", "root")  # argparse refuses the choice


def test_cli_in_another_process_while_the_database_is_in_use(settings, tmp_path):
    """The server keeps the database open (and writes to it); the CLI works beside it."""
    server_db = Database.create(settings)
    users = UserService(server_db, hasher=PasswordHasher(4))
    users.create("admin", PW, role="admin")
    script = textwrap.dedent(f"""
        import argparse, sys
        from thermalstream.auth import cli
        from thermalstream.config import Settings
        class FastSettings(Settings):
            bcrypt_rounds: int = 4
        s = FastSettings(data_dir={str(settings.data_dir)!r})
        p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command", required=True)
        cli.register(sub)
        args = p.parse_args(sys.argv[1:])
        sys.exit(cli.run(args, s))
    """)
    try:
        with server_db.session() as s:  # a connection held open by the "server"
            s.connection()
            users.authenticate("admin", "bad password")  # writes from the server meanwhile
            proc = subprocess.run([sys.executable, "-c", script, "users", "add", "eve", "--role", "viewer",
                                   "--password", PW], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
        assert proc.returncode == 0, proc.stderr
        proc = subprocess.run([sys.executable, "-c", script, "users", "list"], capture_output=True, text=True,
                              timeout=60, cwd=ROOT, check=False)
        assert proc.returncode == 0 and "eve" in proc.stdout and "admin" in proc.stdout, proc.stderr
        assert users.authenticate("eve", PW)["role"] == "viewer"  # the server sees the new user at once
    finally:
        server_db.dispose()

"""Helpers for the auth tests: a real SMTP server (aiosmtpd) on loopback, a movable clock."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port


class Clock:
    """An aware UTC clock that tests move forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@dataclass
class Inbox:
    """Collects what the SMTP server receives."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.cond:
            self.envelopes.append(envelope)
            self.messages.append(msg)
            self.cond.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, n: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} mail(s), got {len(self.messages)}")
                self.cond.wait(left)
            return list(self.messages)


def start_smtp(inbox: Inbox, **kwargs) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@contextmanager
def smtp_server(**kwargs) -> Iterator[tuple[Inbox, Controller]]:
    """A plain SMTP server on loopback for the block: (its inbox, its controller)."""
    inbox = Inbox()
    controller = start_smtp(inbox, **kwargs)
    try:
        yield inbox, controller
    finally:
        controller.stop()


def authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
            and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 on failure
    return check


def self_signed(tmp: Path) -> tuple[Path, Path] | None:
    """(cert, key) for 127.0.0.1 made with the openssl command, or None without it."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def parts(msg: EmailMessage) -> tuple[str, str]:
    """(text, html) bodies of a multipart/alternative mail."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None, msg
    return text.get_content(), html.get_content()

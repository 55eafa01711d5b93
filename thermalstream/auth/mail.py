"""Email in the background: an SMTP client on a worker thread behind a bounded queue.

:meth:`Mailer.send` and :meth:`Mailer.send_template` only enqueue and return at once; the
worker connects to the SMTP server for each mail (implicit TLS, STARTTLS, or plain for a
local relay), logs in when a user is set, and sends. Failures are logged (without
credentials) and counted in :attr:`Mailer.stats`; they never reach the caller. A full queue
or an unconfigured mailer drops the mail, counted as ``dropped``.

Each mail has a text and an HTML part rendered from Jinja2 templates in
``thermalstream/auth/templates`` (``NAME.txt`` and ``NAME.html``; HTML is autoescaped, text
is not), and a subject from :data:`SUBJECTS`.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from thermalstream.auth.user_data import validate_email

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).with_name("templates")
SECURITY_MODES = ("starttls", "tls", "none")
PRODUCT = "ThermalStream"

SUBJECTS = {
    "reset": "Reset your {{ product }} password",
    "alert": "[{{ product }}] {{ title }}",
}


@dataclass
class MailConfig:
    """SMTP settings. ``security``: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or
    ``none`` (a local relay only). ``host`` None disables sending. ``ssl_context`` replaces the
    default verifying context (a private CA)."""

    host: str | None = None
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "ThermalStream <thermalstream@localhost>"
    timeout_s: float = 15.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(f"smtp security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}")
        if "@" not in parseaddr(self.sender)[1]:
            raise ValueError(f"smtp sender {self.sender!r} is not an email address")

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @classmethod
    def from_settings(cls, settings: Any) -> MailConfig:
        """From ``smtp_host``, ``smtp_port``, ``smtp_security``, ``smtp_user``, ``smtp_password``,
        ``smtp_sender``, ``smtp_timeout_s`` on a settings object (missing ones take the defaults)."""
        password = getattr(settings, "smtp_password", None)
        if password is not None and hasattr(password, "get_secret_value"):
            password = password.get_secret_value()
        d = cls()
        return cls(
            host=getattr(settings, "smtp_host", None) or None,
            port=int(getattr(settings, "smtp_port", d.port)),
            security=getattr(settings, "smtp_security", d.security),
            username=getattr(settings, "smtp_user", None) or None,
            password=password or None,
            sender=getattr(settings, "smtp_sender", d.sender) or d.sender,
            timeout_s=float(getattr(settings, "smtp_timeout_s", d.timeout_s)),
        )


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    kind: str = "mail"


class Mailer:
    def __init__(
        self,
        config: MailConfig,
        *,
        queue_size: int = 100,
        templates_dir: Path | str = TEMPLATES_DIR,
        retries: int = 1,
        retry_delay_s: float = 2.0,
    ) -> None:
        self.config = config
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self._queue: queue.Queue[Mail | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.stats = {"queued": 0, "sent": 0, "failed": 0, "dropped": 0}
        self.last_error: str | None = None
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(enabled_extensions=("html", "htm"), default_for_string=False, default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        if config.enabled and config.security == "none" and config.username:
            log.warning("SMTP login to %s without TLS: the password crosses the network in clear", config.host)

    # --- composing ---------------------------------------------------------------------------

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) of template ``name`` with ``context``."""
        ctx = {"product": PRODUCT, **context}
        subject = self.env.from_string(SUBJECTS[name]).render(ctx)
        subject = " ".join(subject.split())[:200]  # one line: no header injection
        text = self.env.get_template(f"{name}.txt").render(ctx)
        html = self.env.get_template(f"{name}.html").render(ctx)
        return subject, text, html

    def send_template(self, name: str, to: str, context: dict[str, Any]) -> bool:
        try:
            subject, text, html = self.render(name, context)
        except Exception:
            log.exception("mail template %r failed to render", name)
            self._count("failed")
            return False
        return self.send(to, subject, text, html, kind=name)

    def send_alert(self, to: str, title: str, message: str = "", **context: Any) -> bool:
        """An alert mail (``alert`` templates). The caller picks recipients who opted in
        (``UserService.alert_recipients``) and may see the camera."""
        return self.send_template("alert", to, {"title": title, "message": message, "camera": None,
                                                "link": None, "time": None, **context})

    def send(self, to: str, subject: str, text: str, html: str | None = None, *, kind: str = "mail") -> bool:
        """Queue a mail. False (and counted as dropped) if mail is not configured, the address is
        invalid, the mailer is closed or the queue is full."""
        if not self.config.enabled:
            log.warning("mail (%s) not sent: no SMTP host configured", kind)
            self._count("dropped")
            return False
        try:
            address = validate_email(to)
        except ValueError:
            address = None
        if not address:
            log.warning("mail (%s) not sent: invalid recipient address", kind)
            self._count("dropped")
            return False
        with self._lock:
            if self._closed:
                self._count_locked("dropped")
                return False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="thermalstream-mailer", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(Mail(address, " ".join(subject.split()), text, html, kind))
        except queue.Full:
            log.warning("mail (%s) dropped: the mail queue is full", kind)
            self._count("dropped")
            return False
        self._count("queued")
        return True

    # --- the worker ----------------------------------------------------------------------------

    def _count(self, what: str) -> None:
        with self._lock:
            self._count_locked(what)

    def _count_locked(self, what: str) -> None:
        self.stats[what] += 1

    def _message(self, mail: Mail) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = mail.to
        msg["Subject"] = mail.subject
        msg["Date"] = formatdate(localtime=False)
        domain = parseaddr(self.config.sender)[1].rpartition("@")[2] or "localhost"
        msg["Message-ID"] = make_msgid(domain=domain)
        msg.set_content(mail.text)
        if mail.html:
            msg.add_alternative(mail.html, subtype="html")
        return msg

    def _deliver(self, msg: EmailMessage) -> None:
        c = self.config
        context = c.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.security == "tls":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=context)  # type: ignore[arg-type]
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)  # type: ignore[arg-type]
        with smtp:
            if c.security == "starttls":
                smtp.starttls(context=context)
            if c.username:
                smtp.login(c.username, c.password or "")
            smtp.send_message(msg)

    def _run(self) -> None:
        while True:
            mail = self._queue.get()
            try:
                if mail is None:
                    return
                self._send_one(mail)
            finally:
                self._queue.task_done()

    def _send_one(self, mail: Mail) -> None:
        try:
            msg = self._message(mail)
        except Exception as exc:  # noqa: BLE001
            self._failed(mail, exc)
            return
        for attempt in range(self.retries + 1):
            try:
                self._deliver(msg)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError,
                    smtplib.SMTPNotSupportedError) as exc:
                self._failed(mail, exc)  # permanent: retrying will not help
                return
            except Exception as exc:  # noqa: BLE001 - network, TLS, server errors
                if attempt < self.retries and not self._closed:
                    time.sleep(self.retry_delay_s * (attempt + 1))
                    continue
                self._failed(mail, exc)
                return
            self._count("sent")
            log.info("mail (%s) sent", mail.kind)
            return

    def _failed(self, mail: Mail, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self._count("failed")
        log.warning("mail (%s) could not be sent via %s:%s (%s)", mail.kind, self.config.host, self.config.port,
                    self.last_error)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued mail was sent or failed. True if idle in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return self._queue.unfinished_tasks == 0

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (for up to ``timeout`` seconds), then stop the worker."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)

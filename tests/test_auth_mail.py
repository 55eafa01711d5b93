"""The background mailer against a real SMTP server (aiosmtpd): plain, STARTTLS and implicit TLS with
login, templates with escaping, and failures that are counted but never raised."""

from __future__ import annotations

import ssl
import time
from types import SimpleNamespace

import pytest

from tests.auth_fixtures import (
    Inbox,
    authenticator,
    free_port,
    parts,
    self_signed,
    server_context,
    smtp_server,
    start_smtp,
)
from thermalstream.auth import MailConfig, Mailer


@pytest.fixture
def plain():
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    made = self_signed(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    return made


def test_alert_mail_escapes_html_but_not_text(plain):
    inbox, controller = plain
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="none"))
    try:
        assert mailer.send_alert("ops@example.org", "Person at <Gate & Yard>",
                                 "Seen at 38.2 °C <script>alert(1)</script>",
                                 camera="<b>gate</b>", link="https://thermal.example.org/events/7?x=1&y=2")
        msg = inbox.wait(1)[0]
    finally:
        mailer.close()
    assert msg["Subject"] == "[ThermalStream] Person at <Gate & Yard>"
    text, html = parts(msg)
    assert "<script>alert(1)</script>" in text and "Camera: <b>gate</b>" in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;gate&lt;/b&gt;" in html and "x=1&amp;y=2" in html
    assert "38.2 °C" in text


def test_subject_cannot_inject_headers(plain):
    inbox, controller = plain
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="none"))
    try:
        mailer.send_alert("ops@example.org", "hot\r\nBcc: evil@example.org")
        msg = inbox.wait(1)[0]
    finally:
        mailer.close()
    assert msg["Bcc"] is None and msg["Subject"] == "[ThermalStream] hot Bcc: evil@example.org"
    assert inbox.envelopes[0].rcpt_tos == ["ops@example.org"]


def test_starttls_with_login(cert):
    cert_path, key_path = cert
    inbox = Inbox()
    controller = start_smtp(inbox, tls_context=server_context(cert_path, key_path), require_starttls=True,
                            authenticator=authenticator("mailer", "smtp-secret"), auth_require_tls=True)
    client_ctx = ssl.create_default_context(cafile=str(cert_path))
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="starttls", username="mailer",
                               password="smtp-secret", ssl_context=client_ctx))
    try:
        assert mailer.send("user@example.org", "hello", "text body", "<p>html body</p>")
        msg = inbox.wait(1)[0]
        assert [p.strip() for p in parts(msg)] == ["text body", "<p>html body</p>"]
    finally:
        mailer.close()
        controller.stop()
    assert mailer.stats["sent"] == 1


def test_implicit_tls(cert):
    cert_path, key_path = cert
    inbox = Inbox()
    controller = start_smtp(inbox, ssl_context=server_context(cert_path, key_path),
                            authenticator=authenticator("mailer", "smtp-secret"), auth_require_tls=False)
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="tls", username="mailer",
                               password="smtp-secret",
                               ssl_context=ssl.create_default_context(cafile=str(cert_path))))
    try:
        assert mailer.send("user@example.org", "over TLS", "body")
        assert inbox.wait(1)[0]["Subject"] == "over TLS"
    finally:
        mailer.close()
        controller.stop()


def test_untrusted_certificate_fails_and_is_counted(cert):
    cert_path, key_path = cert
    controller = start_smtp(Inbox(), tls_context=server_context(cert_path, key_path), require_starttls=True)
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="starttls"), retries=0)
    try:
        assert mailer.send("user@example.org", "s", "t")  # queued: the caller never sees the error
        assert mailer.wait_idle(10)
    finally:
        mailer.close()
        controller.stop()
    assert mailer.stats["failed"] == 1 and "SSL" in (mailer.last_error or "")


def test_wrong_smtp_password_is_counted_not_raised(cert):
    cert_path, key_path = cert
    controller = start_smtp(Inbox(), tls_context=server_context(cert_path, key_path), require_starttls=True,
                            authenticator=authenticator("mailer", "smtp-secret"))
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="starttls", username="mailer",
                               password="wrong", ssl_context=ssl.create_default_context(cafile=str(cert_path))))
    try:
        mailer.send("user@example.org", "s", "t")
        assert mailer.wait_idle(10)
    finally:
        mailer.close()
        controller.stop()
    assert mailer.stats == {"queued": 1, "sent": 0, "failed": 1, "dropped": 0}
    assert "wrong" not in (mailer.last_error or "")


def test_unreachable_server_is_retried_then_counted(caplog):
    mailer = Mailer(MailConfig(host="127.0.0.1", port=free_port(), security="none", timeout_s=2),
                    retries=1, retry_delay_s=0.05)
    started = time.monotonic()
    assert mailer.send("user@example.org", "s", "t")
    assert time.monotonic() - started < 0.5  # the caller does not wait for the network
    assert mailer.wait_idle(10)
    mailer.close()
    assert mailer.stats["failed"] == 1 and mailer.stats["sent"] == 0
    assert "could not be sent" in caplog.text


def test_dropped_when_unconfigured_invalid_full_or_closed():
    assert Mailer(MailConfig()).send("user@example.org", "s", "t") is False
    controller = start_smtp(Inbox())
    mailer = Mailer(MailConfig(host="127.0.0.1", port=controller.port, security="none"), queue_size=1)
    assert mailer.send("not an address", "s", "t") is False
    assert mailer.send("x@example.org\r\nBcc: evil@example.org", "s", "t") is False
    controller.stop()  # a stalled server: the worker holds one mail, the queue holds one more
    mailer.config.timeout_s = 1
    sent = [mailer.send("user@example.org", "s", "t") for _ in range(5)]
    assert sent.count(False) >= 3
    mailer.close(timeout=10)
    assert mailer.send("user@example.org", "s", "t") is False
    assert mailer.stats["dropped"] >= 6


def test_config_from_settings_and_validation():
    settings = SimpleNamespace(smtp_host="mail.example.org", smtp_port=465, smtp_security="tls",
                               smtp_user="u", smtp_password=SimpleNamespace(get_secret_value=lambda: "p"),
                               smtp_sender="Cams <cams@example.org>")
    cfg = MailConfig.from_settings(settings)
    assert (cfg.host, cfg.port, cfg.security, cfg.username, cfg.password) == ("mail.example.org", 465, "tls", "u", "p")
    assert "'p'" not in repr(cfg)
    assert not MailConfig.from_settings(SimpleNamespace()).enabled
    with pytest.raises(ValueError, match="security"):
        MailConfig(security="ssl3")
    with pytest.raises(ValueError, match="sender"):
        MailConfig(sender="nobody")

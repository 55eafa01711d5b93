"""``Auth.from_settings``: every service wired on one database from a settings object."""

from __future__ import annotations

from tests.auth_fixtures import Inbox, parts, start_smtp
from thermalstream.auth import Auth
from thermalstream.auth.service import public_url
from thermalstream.config import Settings


class AuthSettings(Settings):
    """The auth fields the server's Settings will carry (defaults as proposed), cheap bcrypt for tests."""

    bcrypt_rounds: int = 4
    admin_password: str | None = None
    public_url: str | None = None
    trusted_proxies: str = ""
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_sender: str = "ThermalStream <thermalstream@localhost>"


def test_wired_from_settings(tmp_path, db):
    inbox = Inbox()
    controller = start_smtp(inbox)
    settings = AuthSettings(data_dir=tmp_path / "data", port=5099, trusted_proxies="127.0.0.1",
                            smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none")
    auth = Auth.from_settings(db, settings)
    try:
        created, otp = auth.users.ensure_admin(settings.admin_password)
        assert created and otp
        user = auth.users.authenticate("admin", otp, ip=auth.client_ip("127.0.0.1", "6.6.6.6, 192.0.2.4"))
        pair = auth.tokens.issue_pair(user)
        assert auth.tokens.verify_access(pair["access_token"])["role"] == "admin"
        auth.users.set_email("admin", "admin@example.org")
        auth.resets.request_reset("admin@example.org")
        text, _ = parts(inbox.wait(1)[0])
        assert "http://127.0.0.1:5099/reset-password?token=" in text
    finally:
        auth.close()
        controller.stop()


def test_public_url_defaults():
    assert public_url(Settings(port=6000)) == "http://127.0.0.1:6000"
    assert public_url(Settings(host="0.0.0.0", port=6000)) == "http://localhost:6000"
    assert public_url(AuthSettings(public_url="https://cams.example.org/")) == "https://cams.example.org"

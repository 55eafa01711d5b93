"""Password reset by email: a real SMTP server (aiosmtpd) on loopback receives the mail, and the
link's token sets the new password. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests.auth_fixtures import Clock, parts, smtp_server
from thermalstream.auth import (
    InvalidResetToken,
    MailConfig,
    Mailer,
    PasswordHasher,
    RateLimited,
    RateLimiter,
    ResetService,
    TokenService,
    UserService,
    WeakPassword,
)
from thermalstream.auth.tokens import hash_token
from thermalstream.db import PasswordResetToken

PW = "correct horse battery"
NEW = "a brand new password"
PUBLIC = "https://thermal.example.org:8443"


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def env(db, smtp):
    inbox, controller = smtp
    clock = Clock()
    limiter = RateLimiter(db, clock=clock)
    users = UserService(db, hasher=PasswordHasher(4), limiter=limiter, clock=clock)
    mailer = Mailer(MailConfig(host=controller.hostname, port=controller.port, security="none",
                               sender="ThermalStream <noreply@thermal.example.org>"))
    resets = ResetService(db, users, mailer, public_url=PUBLIC, limiter=limiter, clock=clock)
    users.create("alice", PW, email="Alice@Example.org")
    try:
        yield users, resets, mailer, inbox, clock
    finally:
        mailer.close()


def link_token(msg) -> str:
    text, html = parts(msg)
    links = re.findall(r"https://\S+", text)
    assert len(links) == 1, text
    link = links[0]
    assert link.startswith(PUBLIC + "/reset-password?token=")
    assert link in html.replace("&amp;", "&")
    return parse_qs(urlsplit(link).query)["token"][0]


def test_reset_mail_arrives_with_text_and_html_and_its_token_works(env, db):
    users, resets, mailer, inbox, _ = env
    assert resets.request_reset("alice@example.ORG", ip="192.0.2.1") is None
    msg = inbox.wait(1)[0]
    assert msg["To"] == "Alice@Example.org" and "noreply@thermal.example.org" in msg["From"]
    assert msg["Subject"] == "Reset your ThermalStream password"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = parts(msg)
    assert "alice" in text and "60 minutes" in text and "<html" in html.lower()
    token = link_token(msg)
    with db.session() as s:  # only the hash is stored
        row = s.scalar(select(PasswordResetToken))
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    assert resets.check_token(token)
    user = resets.complete_reset(token, NEW)
    assert user["username"] == "alice"
    assert users.authenticate("alice", NEW) and users.authenticate("alice", PW) is None
    assert mailer.stats["sent"] == 1 and mailer.stats["failed"] == 0


def test_request_by_username_too(env):
    _, resets, _, inbox, _ = env
    resets.request_reset("ALICE")
    assert link_token(inbox.wait(1)[0])


def test_token_is_single_use(env):
    _, resets, _, inbox, _ = env
    resets.request_reset("alice")
    token = link_token(inbox.wait(1)[0])
    resets.complete_reset(token, NEW)
    assert not resets.check_token(token)
    with pytest.raises(InvalidResetToken, match="invalid or has expired"):
        resets.complete_reset(token, "yet another password")


def test_token_expires_after_an_hour(env):
    _, resets, _, inbox, clock = env
    resets.request_reset("alice")
    token = link_token(inbox.wait(1)[0])
    clock.advance(minutes=59)
    assert resets.check_token(token)
    clock.advance(minutes=1)
    assert not resets.check_token(token)
    with pytest.raises(InvalidResetToken):
        resets.complete_reset(token, NEW)


def test_any_password_change_invalidates_the_token(env):
    users, resets, _, inbox, _ = env
    resets.request_reset("alice")
    token = link_token(inbox.wait(1)[0])
    assert users.change_password("alice", PW, "changed meanwhile")
    with pytest.raises(InvalidResetToken):
        resets.complete_reset(token, NEW)


def test_a_newer_request_supersedes_the_older_token(env):
    _, resets, _, inbox, _ = env
    resets.request_reset("alice")
    resets.request_reset("alice")
    first, second = (link_token(m) for m in inbox.wait(2))
    assert not resets.check_token(first)
    resets.complete_reset(second, NEW)


def test_weak_new_password_keeps_the_token(env):
    _, resets, _, inbox, _ = env
    resets.request_reset("alice")
    token = link_token(inbox.wait(1)[0])
    with pytest.raises(WeakPassword):
        resets.complete_reset(token, "short")
    with pytest.raises(WeakPassword):
        resets.complete_reset(token, "alice")
    resets.complete_reset(token, NEW)


def test_reset_revokes_sessions_and_lifts_lockout(env, db):
    users, resets, _, inbox, _ = env
    tokens = TokenService(db, "s" * 48)
    pair = tokens.issue_pair(users.get("alice"))
    for _ in range(5):
        users.authenticate("alice", "bad password")
    with pytest.raises(RateLimited):
        users.authenticate("alice", PW)
    resets.request_reset("alice")
    resets.complete_reset(link_token(inbox.wait(1)[0]), NEW)
    assert users.authenticate("alice", NEW)
    with pytest.raises(Exception, match="revoked"):
        tokens.refresh(pair["refresh_token"])


def test_unknown_users_get_the_same_answer_and_no_mail(env):
    users, resets, mailer, inbox, _ = env
    users.create("noemail", PW)
    users.create("admin", PW, role="admin")
    users.create("gone", PW, email="gone@example.org")
    users.set_active("gone", False)
    for who in ("nobody@example.org", "nobody", "noemail", "gone", "", "   ", "x" * 5000, None, 42, "zoë@例え.jp"):
        assert resets.request_reset(who, ip="192.0.2.50") is None
    assert mailer.wait_idle(5)
    assert inbox.messages == [] and mailer.stats["queued"] == 0


def test_bad_tokens_are_refused_alike(env):
    _, resets, _, _, _ = env
    for bad in ("", "nope", "x" * 10_000, None, 5, "é"):
        assert not resets.check_token(bad)
        with pytest.raises(InvalidResetToken):
            resets.complete_reset(bad, NEW)


def test_reset_requests_are_rate_limited_per_name_and_ip(env):
    _, resets, _, inbox, _ = env
    for _ in range(3):
        resets.request_reset("alice", ip="192.0.2.1")
    with pytest.raises(RateLimited, match="Too many password reset requests; try again in"):
        resets.request_reset("ALICE", ip="192.0.2.2")
    with pytest.raises(RateLimited):  # unknown names are limited the same way: no enumeration
        for _ in range(4):
            resets.request_reset("nobody", ip="192.0.2.3")
    for i in range(10 - 4):
        resets.request_reset(f"someone{i}", ip="192.0.2.9")
    for i in range(4):
        resets.request_reset(f"other{i}", ip="192.0.2.9")
    with pytest.raises(RateLimited):
        resets.request_reset("one-too-many", ip="192.0.2.9")
    assert len(inbox.wait(3)) == 3


def test_public_url_must_be_http(db):
    users = UserService(db, hasher=PasswordHasher(4))
    with pytest.raises(ValueError, match="public_url"):
        ResetService(db, users, None, public_url="javascript:alert(1)")

"""UserService on SQLite and PostgreSQL: accounts, login, lockout kept in the database, first admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.auth_fixtures import Clock
from thermalstream.auth import (
    InvalidEmail,
    InvalidRole,
    InvalidUsername,
    LastAdmin,
    PasswordHasher,
    RateLimited,
    RateLimiter,
    TokenService,
    UserExists,
    UserNotFound,
    UserService,
    WeakPassword,
    role_at_least,
)
from thermalstream.auth.reset import ResetService
from thermalstream.db import Database, PasswordResetToken, RefreshToken, User

PW = "correct horse battery"
SECRET = "s" * 48


def service(db, clock=None) -> UserService:
    clock = clock or Clock()
    return UserService(db, hasher=PasswordHasher(4), limiter=RateLimiter(db, clock=clock), clock=clock)


def test_create_get_list_and_no_hash_leaves(db):
    users = service(db)
    u = users.create("Alice", PW, role="operator", email="alice@example.org")
    assert u["username"] == "alice" and u["role"] == "operator" and u["is_active"]
    assert u["email_alerts"] is False and u["has_password"] and "password_hash" not in u
    assert users.get(u["id"]) == users.get("ALICE ") == u
    assert users.get("nobody") is None and users.get(999) is None
    users.create("bob", PW + "!", role="viewer")
    assert [x["username"] for x in users.list()] == ["alice", "bob"]
    with db.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored.startswith("bcrypt-sha256$$2b$") and PW not in stored


@pytest.mark.parametrize("kwargs, error, message", [
    ({"username": ""}, InvalidUsername, "empty"),
    ({"username": "   "}, InvalidUsername, "empty"),
    ({"username": "x" * 65}, InvalidUsername, "too long"),
    ({"username": "x" * 100_000}, InvalidUsername, "too long"),
    ({"username": "zoë"}, InvalidUsername, "may contain only"),
    ({"username": "<script>"}, InvalidUsername, "may contain only"),
    ({"username": "a b"}, InvalidUsername, "may contain only"),
    ({"username": "-x"}, InvalidUsername, "start with"),
    ({"username": 42}, InvalidUsername, "must be text"),
    ({"password": "short"}, WeakPassword, "at least 10"),
    ({"password": "carol-the-user", "username": "carol-the-user"}, WeakPassword, "same as the username"),
    ({"role": "root"}, InvalidRole, "Unknown role"),
    ({"email": "not-an-address"}, InvalidEmail, "not valid"),
    ({"email": "a@b"}, InvalidEmail, "not valid"),
    ({"email": "x\r\nBcc: evil@example.org"}, InvalidEmail, "not valid"),
    ({"email": "a" * 300 + "@example.org"}, InvalidEmail, "too long"),
])
def test_create_rejects_bad_input_clearly(db, kwargs, error, message):
    args = {"username": "carol", "password": PW, "role": "viewer", "email": None} | kwargs
    with pytest.raises(error, match=message):
        service(db).create(**args)
    assert issubclass(error, ValueError)


def test_duplicates_refused(db):
    users = service(db)
    users.create("dave", PW, email="dave@example.org")
    with pytest.raises(UserExists, match="taken"):
        users.create("DAVE", PW)
    with pytest.raises(UserExists, match="email"):
        users.create("dave2", PW, email="Dave@Example.org")


def test_authenticate_right_and_wrong(db):
    clock = Clock()
    users = service(db, clock)
    users.create("erin", PW)
    assert users.authenticate("erin", "wrong password") is None
    assert users.authenticate("nobody", PW) is None
    assert users.authenticate("erin", None) is None
    assert users.authenticate(None, PW) is None
    assert users.authenticate("x" * 10_000, "y" * 10_000) is None
    assert users.get("erin")["failed_logins"] == 2
    u = users.authenticate(" Erin", PW, ip="192.0.2.1")
    assert u["username"] == "erin" and u["last_login_at"] == clock().isoformat()
    assert users.get("erin")["failed_logins"] == 0


def test_disabled_user_cannot_log_in(db):
    users = service(db)
    users.create("admin", PW, role="admin")
    users.create("frank", PW)
    users.set_active("frank", False)
    assert users.authenticate("frank", PW) is None
    users.set_active("frank", True)
    assert users.authenticate("frank", PW)["username"] == "frank"


def test_lockout_after_five_failures_is_shared_across_processes(db):
    """Five failures lock that user from that source, in every process; another source still logs in."""
    clock = Clock()
    users = service(db, clock)
    users.create("grace", PW)
    for _ in range(5):
        assert users.authenticate("grace", "bad password", ip="192.0.2.9") is None
    # another process: its own engine and services on the same database
    other_db = Database(db.url.render_as_string(hide_password=False))
    try:
        other = service(other_db, clock)
        with pytest.raises(RateLimited) as exc:
            other.authenticate("grace", PW, ip="192.0.2.9")  # even the right password, from that source
        assert exc.value.retry_after_s == 15 * 60
        assert str(exc.value) == "Too many failed logins; try again in 15 minutes."
        assert other.get("grace")["locked_until"] is not None
        assert other.get("grace")["failed_logins"] == 5
        clock.advance(minutes=10)
        with pytest.raises(RateLimited, match="try again in 5 minutes"):
            other.authenticate("grace", PW, ip="192.0.2.9")
        assert not other.lockout("grace", "192.0.2.9").allowed
        assert other.lockout("grace", "198.51.100.1").allowed
    finally:
        other_db.dispose()
    clock.advance(minutes=5, seconds=1)
    assert users.authenticate("grace", PW, ip="192.0.2.9")["username"] == "grace"
    assert users.get("grace")["locked_until"] is None


def test_an_attacker_elsewhere_cannot_lock_a_user_out(db):
    clock = Clock()
    users = service(db, clock)
    users.create("root", PW, role="admin")
    for i in range(50):  # from many places, more than any limit per source
        ip = f"203.0.113.{i % 3}"
        try:
            users.authenticate("root", "bad password", ip=ip)
        except RateLimited:
            pass
    assert users.authenticate("root", PW, ip="192.0.2.50")["username"] == "root"


def test_lockouts_back_off(db):
    """The same source keeps failing: each lock lasts longer (15 min, then an hour, then a day)."""
    clock = Clock()
    users = service(db, clock)
    users.create("kim", PW)
    waits = []
    for _ in range(3):
        while True:
            try:
                assert users.authenticate("kim", "bad password", ip="192.0.2.77") is None
            except RateLimited as exc:
                waits.append(exc.retry_after_s)
                clock.advance(seconds=exc.retry_after_s + 1)
                break
    assert waits[0] == 15 * 60 and waits[1] > waits[0] and waits[2] > waits[1], waits


def test_unknown_names_lock_out_the_same_way(db):
    users = service(db)
    for _ in range(5):
        assert users.authenticate("ghost", "bad password") is None
    with pytest.raises(RateLimited, match="Too many failed logins"):
        users.authenticate("ghost", "bad password")


def test_per_ip_limit_across_usernames(db):
    users = service(db)
    users.create("heidi", PW)
    for i in range(20):
        assert users.authenticate(f"spray{i}", "bad password", ip="203.0.113.5") is None
    with pytest.raises(RateLimited):
        users.authenticate("heidi", PW, ip="203.0.113.5")
    assert users.authenticate("heidi", PW, ip="203.0.113.6")["username"] == "heidi"


def test_success_clears_user_failures_and_admin_unlock(db):
    users = service(db)
    users.create("ivan", PW)
    for _ in range(4):
        users.authenticate("ivan", "bad password")
    assert users.authenticate("ivan", PW)
    for _ in range(4):  # the count started again
        users.authenticate("ivan", "bad password")
    assert users.authenticate("ivan", PW)
    for _ in range(5):
        users.authenticate("ivan", "bad password")
    with pytest.raises(RateLimited):
        users.authenticate("ivan", PW)
    users.unlock("ivan")
    assert users.authenticate("ivan", PW)


def test_roles_and_last_admin(db):
    users = service(db)
    users.create("root", PW, role="admin")
    users.create("judy", PW)
    assert users.set_role("judy", "operator")["role"] == "operator"
    with pytest.raises(InvalidRole):
        users.set_role("judy", "superuser")
    with pytest.raises(UserNotFound):
        users.set_role("nobody", "viewer")
    with pytest.raises(LastAdmin):
        users.set_role("root", "viewer")
    with pytest.raises(LastAdmin):
        users.delete("root")
    with pytest.raises(LastAdmin):
        users.set_active("root", False)
    users.set_role("judy", "admin")
    assert users.set_role("root", "viewer")["role"] == "viewer"
    assert users.delete("root") is True
    assert users.delete("root") is False


def test_role_at_least():
    assert role_at_least("admin", "viewer") and role_at_least("admin", "admin")
    assert role_at_least("operator", "operator") and role_at_least("operator", "viewer")
    assert not role_at_least("viewer", "operator") and not role_at_least("operator", "admin")
    assert not role_at_least(None, "viewer") and not role_at_least("root", "viewer")
    with pytest.raises(InvalidRole):
        role_at_least("admin", "root")


def test_reset_password_revokes_refresh_and_reset_tokens(db):
    users = service(db)
    u = users.create("kim", PW, email="kim@example.org")
    tokens = TokenService(db, SECRET)
    pair = tokens.issue_pair(u)
    resets = ResetService(db, users, None, public_url="http://localhost:5006")
    reset_token = resets.create_token(u["id"])
    assert resets.check_token(reset_token)
    generated = users.reset_password("kim")
    assert generated and users.authenticate("kim", generated) and not users.authenticate("kim", PW)
    assert not resets.check_token(reset_token)
    with pytest.raises(Exception, match="revoked"):
        tokens.refresh(pair["refresh_token"])
    with db.session() as s:
        assert all(t.revoked_at for t in s.scalars(select(RefreshToken)))
        assert all(t.used_at for t in s.scalars(select(PasswordResetToken)))
    assert users.reset_password("kim", "another good one") is None
    assert users.authenticate("kim", "another good one")
    with pytest.raises(WeakPassword):
        users.reset_password("kim", "kim")


def test_change_password_needs_the_old_one(db):
    users = service(db)
    users.create("lena", PW)
    assert users.change_password("lena", "wrong old one", "new password 1") is False
    assert users.change_password("lena", PW, "new password 1") is True
    assert users.authenticate("lena", "new password 1")


def test_email_alert_opt_in(db):
    users = service(db)
    users.create("mia", PW)
    users.create("ned", PW, email="ned@example.org", email_alerts=True)
    with pytest.raises(InvalidEmail, match="Set an email address"):
        users.set_email_alerts("mia", True)
    users.set_email("mia", "mia@example.org")
    users.set_email_alerts("mia", True)
    assert [u["username"] for u in users.alert_recipients()] == ["mia", "ned"]
    users.set_email("mia", None)  # no address: no alerts
    assert [u["username"] for u in users.alert_recipients()] == ["ned"]


def test_ensure_admin_from_env_or_generated(db):
    users = service(db)
    created, otp = users.ensure_admin("admin password from env")
    assert (created, otp) == (True, None)
    assert users.authenticate("admin", "admin password from env")["role"] == "admin"
    assert users.ensure_admin("admin password from env") == (False, None)


def test_ensure_admin_generates_one_time_password(db):
    users = service(db)
    created, otp = users.ensure_admin(None)
    assert created and otp and len(otp) >= 20
    assert users.authenticate("admin", otp)["role"] == "admin"
    assert users.ensure_admin("") == (False, None)


def test_ensure_admin_refuses_weak_env_password(db):
    with pytest.raises(WeakPassword):
        service(db).ensure_admin("admin")
    assert service(db).list() == []


def test_ensure_admin_promotes_existing_admin_name(db):
    users = service(db)
    users.create("admin", PW, role="viewer")
    created, otp = users.ensure_admin(None)
    assert created and users.authenticate("admin", otp)["role"] == "admin"


def test_rehash_on_login_when_cost_changes(db):
    users = service(db)
    users.create("olga", PW)
    stronger = UserService(db, hasher=PasswordHasher(5), limiter=users.limiter)
    assert stronger.authenticate("olga", PW)
    with db.session() as s:
        assert "$2b$05$" in s.scalar(select(User.password_hash).where(User.username == "olga"))

"""Rate limits in the database (shared by every process on it) and the client address behind proxies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.auth_fixtures import Clock
from thermalstream.auth import Limit, RateLimited, RateLimiter, client_ip, parse_trusted_proxies
from thermalstream.auth.ratelimit import PAIR_SCOPES, format_wait, login_keys, make_key
from thermalstream.db import Database
from thermalstream.db.models import RateLimitEvent


def test_sliding_window_and_retry_after(db):
    clock = Clock()
    rl = RateLimiter(db, limits={"login": {"user": Limit(3, 60)}}, clock=clock)
    keys = {"user": "Alice", "ip": "192.0.2.1"}
    for _ in range(3):
        assert rl.check("login", keys).allowed
        rl.hit("login", keys)
        clock.advance(seconds=10)
    d = rl.check("login", keys)
    assert not d.allowed and d.scope == "user" and d.retry_after_s == 30
    assert d.message == "Too many failed logins; try again in 30 seconds."
    with pytest.raises(RateLimited) as exc:
        d.raise_if_refused("login")
    assert exc.value.retry_after_s == 30 and exc.value.kind == "login"
    clock.advance(seconds=30)  # the oldest attempt left the window
    assert rl.check("login", keys).allowed
    assert rl.count("login", "user", "alice") == 2


def test_counters_are_shared_by_separate_database_objects(db):
    clock = Clock()
    url = db.url.render_as_string(hide_password=False)
    other = Database(url)
    try:
        a, b = RateLimiter(db, clock=clock), RateLimiter(other, clock=clock)
        for _ in range(10):
            (a if _ % 2 else b).hit("reset", {"ip": "198.51.100.7"})
        for limiter in (a, b):
            d = limiter.check("reset", {"ip": "198.51.100.7"})
            assert not d.allowed and "Too many password reset requests" in d.message
        assert a.check("reset", {"ip": "198.51.100.8"}).allowed
    finally:
        other.dispose()


def test_attempt_counts_only_allowed_calls_and_clear(db):
    rl = RateLimiter(db, limits={"token": {"ip": Limit(2, 60)}})
    assert [rl.attempt("token", {"ip": "::1"}).allowed for _ in range(4)] == [True, True, False, False]
    assert rl.count("token", "ip", "::1") == 2
    assert rl.clear("token", {"ip": "::1"}) == 2
    assert rl.attempt("token", {"ip": "::1"}).allowed


def test_old_events_are_pruned(db):
    clock = Clock()
    rl = RateLimiter(db, clock=clock)
    for i in range(5):
        rl.hit("login", login_keys(f"u{i}", "192.0.2.1"))
    clock.advance(hours=25)  # past the longest login window (a day)
    rl.hit("login", login_keys("fresh", None))
    with db.session() as s:  # one row per pair scope of the fresh attempt, nothing older
        assert s.scalar(select(func.count()).select_from(RateLimitEvent)) == len(PAIR_SCOPES)


def test_keys_none_empty_huge_and_unknown_kind(db):
    rl = RateLimiter(db)
    assert rl.check("login", {"user": None, "ip": ""}).allowed
    rl.hit("login", {"user": None, "ip": "   "})  # nothing to count
    huge = "é" * 10_000
    for _ in range(5):
        rl.hit("login", login_keys(huge, "192.0.2.3"))
    assert not rl.check("login", login_keys(huge, "192.0.2.3")).allowed
    assert len(make_key("user", huge)) <= 128 and make_key("user", " Bob ") == "user:bob"
    with pytest.raises(ValueError, match="unknown rate limit kind"):
        rl.check("nope", {"ip": "1.2.3.4"})


def test_format_wait():
    assert format_wait(0.2) == "1 second"
    assert format_wait(59) == "59 seconds"
    assert format_wait(60) == "1 minute"
    assert format_wait(61) == "2 minutes"
    assert format_wait(15 * 60) == "15 minutes"
    assert format_wait(3 * 3600) == "3 hours"


# --- client_ip ---------------------------------------------------------------------------------

PROXIES = "127.0.0.1, 10.0.0.0/8, ::1"


def test_no_trusted_proxies_ignores_forwarded_for():
    assert client_ip("203.0.113.9", "1.2.3.4", None) == "203.0.113.9"
    assert client_ip("203.0.113.9", "1.2.3.4", "") == "203.0.113.9"


def test_spoofed_header_from_an_untrusted_peer_is_ignored():
    assert client_ip("203.0.113.9", "127.0.0.1", PROXIES) == "203.0.113.9"
    assert client_ip("203.0.113.9", "10.0.0.1, 192.0.2.1", PROXIES) == "203.0.113.9"


def test_trusted_proxy_walks_right_to_left():
    assert client_ip("127.0.0.1", "198.51.100.20", PROXIES) == "198.51.100.20"
    # the client prepended a fake address; the proxy appended the real one
    assert client_ip("127.0.0.1", "6.6.6.6, 198.51.100.20", PROXIES) == "198.51.100.20"
    # two proxies in a row
    assert client_ip("127.0.0.1", "6.6.6.6, 198.51.100.20, 10.1.2.3", PROXIES) == "198.51.100.20"
    # several header lines
    assert client_ip("::1", ["6.6.6.6", "198.51.100.21"], PROXIES) == "198.51.100.21"


def test_odd_entries():
    assert client_ip("127.0.0.1", "", PROXIES) == "127.0.0.1"
    assert client_ip("127.0.0.1", "garbage", PROXIES) == "127.0.0.1"
    assert client_ip("127.0.0.1", "198.51.100.20, garbage", PROXIES) == "127.0.0.1"
    assert client_ip("127.0.0.1", "10.0.0.5, 10.0.0.6", PROXIES) == "10.0.0.5"  # all proxies: the leftmost
    assert client_ip("127.0.0.1", "[2001:db8::1]:4711", PROXIES) == "2001:db8::1"
    assert client_ip("127.0.0.1", "198.51.100.20:5555", PROXIES) == "198.51.100.20"
    assert client_ip("::ffff:127.0.0.1", "198.51.100.20", PROXIES) == "198.51.100.20"
    assert client_ip(None, "1.2.3.4", PROXIES) == "unknown"


def test_parse_trusted_proxies():
    nets = parse_trusted_proxies(" 127.0.0.1 ,10.0.0.0/8,, ::1 ")
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert client_ip("10.9.9.9", "192.0.2.1", nets) == "192.0.2.1"
    with pytest.raises(ValueError, match="not an IP"):
        parse_trusted_proxies("proxy.example.org")

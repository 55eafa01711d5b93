"""Password hashing and policy (no database)."""

from __future__ import annotations

import time

import bcrypt
import pytest

from thermalstream.auth.errors import WeakPassword
from thermalstream.auth.passwords import PREFIX, PasswordHasher, check_policy, generate_password

H = PasswordHasher(rounds=4)


def test_hash_is_salted_bcrypt_and_verifies():
    a, b = H.hash("correct horse battery"), H.hash("correct horse battery")
    assert a != b and a.startswith(PREFIX + "$2b$04$")
    assert H.verify("correct horse battery", a)
    assert not H.verify("correct horse batterY", a)
    assert not H.verify("", a)


def test_long_passwords_count_beyond_72_bytes():
    base = "x" * 80
    stored = H.hash(base + "A")
    assert H.verify(base + "A", stored)
    assert not H.verify(base + "B", stored)  # plain bcrypt would ignore everything after byte 72
    huge = "€" * 1000  # 3000 bytes
    assert H.verify(huge, H.hash(huge))


def test_unicode_is_normalised_and_nul_is_safe():
    composed, decomposed = "caf\u00e9-passwort", "cafe\u0301-passwort"
    assert H.verify(decomposed, H.hash(composed))
    stored = H.hash("abc\x00def-ghij")
    assert not H.verify("abc\x00xyz-ghij", stored)  # plain bcrypt stops at NUL


def test_bad_input_is_false_not_an_error():
    stored = H.hash("correct horse battery")
    for bad in (None, 123, b"bytes", ["x"]):
        assert H.verify(bad, stored) is False
    assert H.verify("x", None) is False
    assert H.verify("x", "garbage") is False
    assert H.verify("x", PREFIX + "$2b$04$short") is False


def test_plain_bcrypt_hashes_still_verify_and_need_rehash():
    legacy = bcrypt.hashpw(b"old-password-1", bcrypt.gensalt(4)).decode()
    assert H.verify("old-password-1", legacy)
    assert not H.verify("old-password-2", legacy)
    assert H.needs_rehash(legacy)
    assert not H.needs_rehash(H.hash("x" * 12))
    assert PasswordHasher(rounds=5).needs_rehash(H.hash("x" * 12))


def test_dummy_verify_costs_about_one_check():
    h = PasswordHasher(rounds=8)
    stored = h.hash("correct horse battery")
    h.dummy_verify()  # builds the dummy hash once

    def timed(fn, n=5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t) / n

    real = timed(lambda: h.verify("wrong password!", stored))
    dummy = timed(h.dummy_verify)
    assert 0.5 < dummy / real < 2.0, (real, dummy)


@pytest.mark.parametrize("password, message", [
    ("short", "at least 10"),
    ("x" * 1025, "at most 1024"),
    (" " * 12, "only spaces"),
    ("Administrator", "too easy"),
    ("aaaaaaaaaaaaaaa", "too easy"),
    ("alice.smith1", "same as the username"),
    (12345678901, "must be text"),
    (None, "must be text"),
])
def test_policy_messages(password, message):
    with pytest.raises(WeakPassword, match=message):
        check_policy(password, "Alice.Smith1")


def test_policy_accepts_good_and_generated_passwords():
    assert check_policy("correct horse battery", "alice") == "correct horse battery"
    assert check_policy("ünïcödé-pässwörd", "alice")
    pw = generate_password()
    assert len(pw) >= 20 and check_policy(pw, "admin") == pw
    assert generate_password() != generate_password()
    assert issubclass(WeakPassword, ValueError)


def test_rounds_are_checked():
    with pytest.raises(ValueError):
        PasswordHasher(rounds=3)

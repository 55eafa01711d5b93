"""JWT access tokens and rotated refresh tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import threading

import jwt
import pytest
from sqlalchemy import select

from tests.auth_fixtures import Clock
from thermalstream.auth import AuthError, PasswordHasher, RateLimiter, TokenService, UserService
from thermalstream.auth.tokens import derive_key, hash_token
from thermalstream.db import RefreshToken

SECRET = "server-secret-" + "x" * 40
PW = "correct horse battery"


@pytest.fixture
def setup(db):
    clock = Clock()
    users = UserService(db, hasher=PasswordHasher(4), limiter=RateLimiter(db, clock=clock), clock=clock)
    user = users.create("alice", PW, role="operator")
    return TokenService(db, SECRET, clock=clock), users, user, clock


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def reason(tokens, token) -> str:
    with pytest.raises(AuthError) as exc:
        tokens.verify_access(token)
    return exc.value.reason


def test_issue_pair_and_verify(setup):
    tokens, _, user, _ = setup
    pair = tokens.issue_pair(user)
    assert set(pair) >= {"access_token", "refresh_token", "expires_in", "token_type"}
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    claims = tokens.verify_access(pair["access_token"])
    assert claims["sub"] == str(user["id"]) and claims["user_id"] == user["id"]
    assert claims["role"] == "operator" and claims["type"] == "access" and claims["name"] == "alice"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]
    assert tokens.verify_access("Bearer " + pair["access_token"])["user_id"] == user["id"]
    assert jwt.get_unverified_header(pair["access_token"])["alg"] == "HS256"


def test_refresh_token_stored_hashed(setup, db):
    tokens, _, user, _ = setup
    pair = tokens.issue_pair(user)
    with db.session() as s:
        row = s.scalar(select(RefreshToken))
    assert row.token_hash == hash_token(pair["refresh_token"]) and pair["refresh_token"] not in row.token_hash


def test_forged_with_another_secret(setup):
    tokens, _, user, clock = setup
    forger = TokenService(tokens.db, "another-secret-" + "y" * 40, clock=clock)
    assert reason(tokens, forger.issue_access(user)) == "invalid_signature"
    # also the raw server secret (not the derived key) must not sign
    claims = jwt.decode(tokens.issue_access(user), options={"verify_signature": False})
    assert reason(tokens, jwt.encode(claims, SECRET, algorithm="HS256")) == "invalid_signature"


def test_expired(setup):
    tokens, _, user, clock = setup
    token = tokens.issue_access(user)
    clock.advance(minutes=14, seconds=59)
    assert tokens.verify_access(token)
    clock.advance(seconds=1)
    assert reason(tokens, token) == "expired"


def test_expired_by_the_wall_clock_too(setup):
    tokens, _, user, _ = setup
    claims = jwt.decode(tokens.issue_access(user), options={"verify_signature": False})
    claims["exp"] = claims["iat"] - 10
    assert reason(tokens, jwt.encode(claims, derive_key(SECRET), algorithm="HS256")) == "expired"


def test_tampered_payload(setup):
    tokens, _, user, _ = setup
    header, payload, sig = tokens.issue_access(user).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    assert reason(tokens, f"{header}.{b64(claims)}.{sig}") == "invalid_signature"


@pytest.mark.filterwarnings("ignore:The HMAC key")  # the HS512 forgery uses a 32-byte key on purpose
def test_alg_none_and_other_algorithms(setup):
    tokens, _, user, _ = setup
    claims = jwt.decode(tokens.issue_access(user), options={"verify_signature": False})
    claims["role"] = "admin"
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."
        assert reason(tokens, unsigned) == "invalid_token"
    hs512 = jwt.encode(claims, derive_key(SECRET), algorithm="HS512")
    assert reason(tokens, hs512) == "invalid_token"


def test_wrong_type_and_missing_claims(setup):
    tokens, _, user, _ = setup
    claims = jwt.decode(tokens.issue_access(user), options={"verify_signature": False})
    key = derive_key(SECRET)
    assert reason(tokens, jwt.encode(claims | {"type": "refresh"}, key, algorithm="HS256")) == "wrong_type"
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    assert reason(tokens, jwt.encode(no_exp, key, algorithm="HS256")) == "invalid_token"
    assert reason(tokens, jwt.encode(claims | {"iss": "someone-else"}, key, algorithm="HS256")) == "invalid_token"


@pytest.mark.parametrize("garbage", ["", "   ", "abc", "a.b.c", "x" * 10_000 + ".a.b", None, 42, "é.é.é"])
def test_garbage_is_refused_cleanly(setup, garbage):
    tokens = setup[0]
    assert reason(tokens, garbage) in {"missing", "malformed", "invalid_token"}


def test_refresh_token_is_not_an_access_token(setup):
    tokens, _, user, _ = setup
    pair = tokens.issue_pair(user)
    assert reason(tokens, pair["refresh_token"]) == "malformed"


def test_check_user_sees_current_role_and_disabled_users(setup):
    tokens, users, user, _ = setup
    token = tokens.issue_access(user)
    users.create("admin", PW, role="admin")
    users.set_role("alice", "viewer")
    assert tokens.verify_access(token)["role"] == "operator"  # no database: the role in the token
    with pytest.raises(AuthError) as exc:  # a role change ends the user's sessions (issue 11)
        tokens.verify_access(token, check_user=True)
    assert exc.value.reason == "revoked"
    token = tokens.issue_access(users.get("alice"))
    assert tokens.verify_access(token, check_user=True)["role"] == "viewer"
    users.set_active("alice", False)
    with pytest.raises(AuthError) as exc:
        tokens.verify_access(token, check_user=True)
    assert exc.value.reason == "user_disabled"


def test_refresh_rotates(setup, db):
    tokens, users, user, _ = setup
    first = tokens.issue_pair(user)
    users.set_role("alice", "viewer")
    with pytest.raises(AuthError) as exc:  # a role change ends every session of the user (issue 11)
        tokens.refresh(first["refresh_token"])
    assert exc.value.reason == "revoked"
    first = tokens.issue_pair(users.get("alice"))
    second = tokens.refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert tokens.verify_access(second["access_token"])["role"] == "viewer"  # read from the database
    third = tokens.refresh(second["refresh_token"])
    with db.session() as s:
        rows = {r.token_hash: r for r in s.scalars(select(RefreshToken))}
    r1, r2, r3 = (rows[hash_token(p["refresh_token"])] for p in (first, second, third))
    assert r1.revoked_at and r1.replaced_by_id == r2.id
    assert r2.revoked_at and r2.replaced_by_id == r3.id
    assert r3.revoked_at is None and r3.replaced_by_id is None


def test_reuse_of_a_rotated_token_revokes_the_chain(setup):
    tokens, _, user, _ = setup
    other_device = tokens.issue_pair(user)
    stolen = tokens.issue_pair(user)
    victim = tokens.refresh(stolen["refresh_token"])  # the legitimate client rotates
    with pytest.raises(AuthError) as exc:
        tokens.refresh(stolen["refresh_token"])  # the thief replays the old one
    assert exc.value.reason == "refresh_token_reused"
    with pytest.raises(AuthError) as exc:  # the whole chain is dead, the victim's newest token too
        tokens.refresh(victim["refresh_token"])
    assert exc.value.reason == "revoked"
    assert tokens.refresh(other_device["refresh_token"])  # another login is untouched


def test_logout_and_expiry(setup):
    tokens, _, user, clock = setup
    pair = tokens.issue_pair(user)
    assert tokens.revoke(pair["refresh_token"]) is True
    assert tokens.revoke(pair["refresh_token"]) is False
    assert tokens.revoke("nonsense") is False and tokens.revoke(None) is False
    with pytest.raises(AuthError) as exc:
        tokens.refresh(pair["refresh_token"])
    assert exc.value.reason == "revoked"
    old = tokens.issue_pair(user)
    clock.advance(days=30)
    with pytest.raises(AuthError) as exc:
        tokens.refresh(old["refresh_token"])
    assert exc.value.reason == "expired"
    for bad in ("", "x" * 1000, None, 5, "unknown-token"):
        with pytest.raises(AuthError) as exc:
            tokens.refresh(bad)
        assert exc.value.reason == "invalid_refresh"


def test_revoke_all_and_disabled_user(setup):
    tokens, users, user, _ = setup
    a, b = tokens.issue_pair(user), tokens.issue_pair(user)
    assert tokens.revoke_all(user["id"]) == 2
    for p in (a, b):
        with pytest.raises(AuthError):
            tokens.refresh(p["refresh_token"])
    c = tokens.issue_pair(user)
    users.create("admin", PW, role="admin")
    users.set_active("alice", False)  # disabling revokes too
    with pytest.raises(AuthError):
        tokens.refresh(c["refresh_token"])


def test_concurrent_refresh_has_one_winner(setup):
    tokens, _, user, _ = setup
    pair = tokens.issue_pair(user)
    results: list = []

    def go():
        try:
            results.append(tokens.refresh(pair["refresh_token"]))
        except AuthError as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, dict)]
    assert len(wins) == 1, results
    assert all(r in ("refresh_token_reused", "revoked") for r in results if not isinstance(r, dict))


def test_short_secret_refused(db):
    with pytest.raises(ValueError, match="too short"):
        TokenService(db, "short")

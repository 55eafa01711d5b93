"""API tokens: short-lived JWT access tokens and rotated, revocable refresh tokens.

Access token
    JWT signed with HS256 (only HS256 is accepted: ``alg=none`` and any other algorithm are
    refused), claims ``sub`` (user id as a string), ``name``, ``role``, ``sv`` (the user's
    session version), ``type="access"``, ``iss``, ``iat``, ``exp`` (15 minutes by default) and
    ``jti``. Verification needs no database; it is the caller's choice to re-read the user
    (``check_user=True``), which also refuses tokens from ended sessions (``sv`` behind).

Refresh token
    ``secrets.token_urlsafe(32)``, opaque; only its SHA-256 is stored (``refresh_tokens``),
    valid 30 days by default. Each use rotates it: the old row is revoked and points to its
    successor (``replaced_by_id``). Presenting a token that was already rotated means it was
    copied: the whole chain from it onwards is revoked, so the thief and the victim both
    have to log in again. Logout revokes the token.

The signing key is derived from the server secret (``derive_key``), so the cookie secret
itself never signs JWTs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select, update

from thermalstream.auth.errors import AuthError
from thermalstream.db.engine import Database
from thermalstream.db.models import RefreshToken, User
from thermalstream.db.types import utcnow

ALGORITHM = "HS256"
ISSUER = "thermalstream"
ACCESS_TTL_S = 15 * 60
REFRESH_TTL_S = 30 * 24 * 3600
MAX_TOKEN_CHARS = 4096


def derive_key(secret: str | bytes, purpose: str = "jwt") -> bytes:
    """A 32-byte key for ``purpose`` derived from the server secret (HMAC-SHA256)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 16:
        raise ValueError("the server secret is too short to derive keys from (16 bytes at least)")
    return hmac.new(raw, f"thermalstream/{purpose}".encode(), hashlib.sha256).digest()


def hash_token(token: str) -> str:
    """SHA-256 hex of an opaque token (refresh and reset tokens are stored this way)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    """Issue, refresh, revoke and verify tokens for users of ``db``.

    ``secret`` is the server secret (``Settings.secret()``) or a JWT secret of its own;
    ``clock`` returns the current aware UTC time (tests move it).
    """

    def __init__(
        self,
        db: Database,
        secret: str | bytes,
        *,
        access_ttl_s: int = ACCESS_TTL_S,
        refresh_ttl_s: int = REFRESH_TTL_S,
        issuer: str = ISSUER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self._key = derive_key(secret)
        self.access_ttl_s = int(access_ttl_s)
        self.refresh_ttl_s = int(refresh_ttl_s)
        self.issuer = issuer
        self.clock = clock

    # --- access tokens -------------------------------------------------------------------

    def issue_access(self, user: dict[str, Any] | User) -> str:
        uid, name, role = _user_fields(user)
        now = self.clock()
        claims = {
            "sub": str(uid),
            "name": name,
            "role": role,
            "sv": _session_version(user),
            "type": "access",
            "iss": self.issuer,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.access_ttl_s,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify_access(self, token: object, *, check_user: bool = False) -> dict[str, Any]:
        """The claims of a valid access token, with ``user_id`` (int) added. Raises
        :class:`AuthError` with ``reason`` one of ``missing``, ``malformed``, ``invalid_signature``,
        ``expired``, ``wrong_type``, ``invalid_token``; with ``check_user`` also ``user_disabled``
        (deleted or inactive) and ``revoked`` (the user's sessions ended since it was issued: logout,
        password or role change), and ``role`` is then the user's current role."""
        if not isinstance(token, str) or not token.strip():
            raise AuthError("missing", "No access token.")
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise AuthError("malformed", "The access token is malformed.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("malformed", "The access token is malformed.") from None
        if header.get("alg") != ALGORITHM:
            raise AuthError("invalid_token", f"Token algorithm {str(header.get('alg'))[:16]!r} is not accepted.")
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], issuer=self.issuer,
                # exp and iat are checked below against self.clock (the same clock that issued them)
                options={"require": ["exp", "iat", "sub", "type", "jti", "iss"],
                         "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            raise AuthError("invalid_signature", "The access token's signature is not valid.") from None
        except jwt.DecodeError:
            raise AuthError("malformed", "The access token is malformed.") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid_token", f"The access token is not valid ({exc}).") from None
        if claims.get("type") != "access":
            raise AuthError("wrong_type", "This is not an access token.")
        now = int(self.clock().timestamp())
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool) or isinstance(iat, bool):
            raise AuthError("invalid_token", "The access token's times are not valid.")
        if exp <= now:
            raise AuthError("expired", "The access token has expired.")
        if iat > now + 60:
            raise AuthError("invalid_token", "The access token was issued in the future.")
        try:
            claims["user_id"] = int(claims["sub"])
        except (TypeError, ValueError):
            raise AuthError("invalid_token", "The access token names no user.") from None
        if check_user:
            with self.db.session() as s:
                user = s.get(User, claims["user_id"])
                if user is None or not user.is_active:
                    raise AuthError("user_disabled", "The account no longer exists or is disabled.")
                if claims.get("sv", 0) != (user.session_version or 0):
                    raise AuthError("revoked", "This session has ended (logout, password or role change); log in again.")
                claims["role"] = user.role
                claims["name"] = user.username
        return claims

    # --- refresh tokens ------------------------------------------------------------------

    def _new_refresh(self, s, user_id: int, now: datetime) -> tuple[str, RefreshToken]:
        token = secrets.token_urlsafe(32)
        row = RefreshToken(user_id=user_id, token_hash=hash_token(token), created_at=now,
                           expires_at=now + timedelta(seconds=self.refresh_ttl_s))
        s.add(row)
        s.flush()
        return token, row

    def _pair(self, user: dict[str, Any] | User, refresh_token: str) -> dict[str, Any]:
        return {
            "access_token": self.issue_access(user),
            "refresh_token": refresh_token,
            "token_type": "bearer",
            "expires_in": self.access_ttl_s,
            "refresh_expires_in": self.refresh_ttl_s,
        }

    def issue_pair(self, user: dict[str, Any] | User) -> dict[str, Any]:
        """After a successful login: ``{"access_token", "refresh_token", "token_type": "bearer",
        "expires_in", "refresh_expires_in"}``."""
        uid, _, _ = _user_fields(user)
        with self.db.session() as s:
            token, _ = self._new_refresh(s, uid, self.clock())
        return self._pair(user, token)

    def refresh(self, refresh_token: object) -> dict[str, Any]:
        """A new pair for a valid refresh token, which is revoked and replaced. Raises
        :class:`AuthError`: ``invalid_refresh`` (unknown or malformed), ``expired``, ``revoked``
        (logged out), ``refresh_token_reused`` (already rotated: the chain is revoked),
        ``user_disabled``."""
        if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 256:
            raise AuthError("invalid_refresh", "The refresh token is not valid.")
        digest = hash_token(refresh_token)
        now = self.clock()
        reused_id = None
        with self.db.session() as s:
            row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest))
            if row is None:
                raise AuthError("invalid_refresh", "The refresh token is not valid.")
            if row.revoked_at is not None:
                if row.replaced_by_id is None:
                    raise AuthError("revoked", "The refresh token was revoked; log in again.")
                reused_id = row.id
            elif row.expires_at <= now:
                raise AuthError("expired", "The refresh token has expired; log in again.")
            else:
                # revoke first, conditionally: of two concurrent refreshes only one wins
                won = s.execute(update(RefreshToken)
                                .where(RefreshToken.id == row.id, RefreshToken.revoked_at.is_(None))
                                .values(revoked_at=now)).rowcount
                if won != 1:
                    raise AuthError("refresh_token_reused", "The refresh token was already used.")
                user = s.get(User, row.user_id)
                if user is None or not user.is_active:
                    raise AuthError("user_disabled", "The account no longer exists or is disabled.")
                token, new = self._new_refresh(s, user.id, now)
                s.execute(update(RefreshToken).where(RefreshToken.id == row.id).values(replaced_by_id=new.id))
                snapshot = {"id": user.id, "username": user.username, "role": user.role,
                            "session_version": user.session_version or 0}
        if reused_id is not None:
            self._revoke_chain(reused_id, now)
            raise AuthError("refresh_token_reused",
                            "This refresh token was already used; all sessions from it are revoked. Log in again.")
        return self._pair(snapshot, token)

    def _revoke_chain(self, start_id: int, now: datetime) -> int:
        revoked = 0
        with self.db.session() as s:
            seen: set[int] = set()
            current: int | None = start_id
            while current is not None and current not in seen:
                seen.add(current)
                row = s.get(RefreshToken, current)
                if row is None:
                    break
                if row.revoked_at is None:
                    row.revoked_at = now
                    revoked += 1
                current = row.replaced_by_id
        return revoked

    def revoke(self, refresh_token: object) -> bool:
        """Logout: revoke this refresh token. True if it was valid until now. (Access tokens
        already issued stay valid until they expire.)"""
        if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 256:
            return False
        with self.db.session() as s:
            res = s.execute(update(RefreshToken)
                            .where(RefreshToken.token_hash == hash_token(refresh_token),
                                   RefreshToken.revoked_at.is_(None))
                            .values(revoked_at=self.clock()))
            return res.rowcount == 1

    def user_of(self, refresh_token: object) -> int | None:
        """The id of the user a refresh token was issued to (None: unknown token)."""
        if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 256:
            return None
        with self.db.session() as s:
            return s.scalar(select(RefreshToken.user_id).where(RefreshToken.token_hash == hash_token(refresh_token)))

    def revoke_all(self, user_id: int) -> int:
        """Log a user out everywhere. Returns the number of tokens revoked."""
        with self.db.session() as s:
            res = s.execute(update(RefreshToken)
                            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                            .values(revoked_at=self.clock()))
            return res.rowcount or 0


def _session_version(user: dict[str, Any] | User) -> int:
    if isinstance(user, User):
        return user.session_version or 0
    return int(user.get("session_version") or 0)


def _user_fields(user: dict[str, Any] | User) -> tuple[int, str, str]:
    if isinstance(user, User):
        return user.id, user.username, user.role
    return int(user["id"]), str(user["username"]), str(user["role"])

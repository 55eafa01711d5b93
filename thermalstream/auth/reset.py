"""Password reset by email.

A reset token is ``secrets.token_urlsafe(32)``; only its SHA-256 is stored
(``password_reset_tokens``). It is valid for one hour (``ttl_s``), works once, and stops
working when the password changes in any way (:class:`UserService` marks every outstanding
token used when it stores a password) or when a newer token is requested.

:meth:`ResetService.request_reset` behaves the same whether or not the address or username
exists (returns None; only the rate limit, which counts unknown names too, can refuse), so
it cannot be used to find accounts. The mail goes out in the background through the
:class:`~thermalstream.auth.mail.Mailer`.

The link is built from the configured public URL, never from the request's Host header
(a forged Host would otherwise send the token to an attacker's site).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select, update

from thermalstream.auth.errors import InvalidResetToken
from thermalstream.auth.mail import Mailer
from thermalstream.auth.passwords import check_policy
from thermalstream.auth.ratelimit import RateLimiter
from thermalstream.auth.tokens import hash_token
from thermalstream.auth.user_data import EMAIL_MAX, user_dict
from thermalstream.auth.users import UserService
from thermalstream.db.engine import Database
from thermalstream.db.models import PasswordResetToken, User

log = logging.getLogger(__name__)

RESET_TTL_S = 3600
RESET_PATH = "/reset-password"


class ResetService:
    def __init__(
        self,
        db: Database,
        users: UserService,
        mailer: Mailer | None,
        *,
        public_url: str,
        path: str = RESET_PATH,
        ttl_s: int = RESET_TTL_S,
        limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not public_url.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, not {public_url!r}")
        self.db = db
        self.users = users
        self.mailer = mailer
        self.public_url = public_url.rstrip("/")
        self.path = path if path.startswith("/") else "/" + path
        self.ttl_s = int(ttl_s)
        self.limiter = limiter if limiter is not None else users.limiter
        self.clock = clock or users.clock

    def reset_link(self, token: str) -> str:
        return f"{self.public_url}{self.path}?{urlencode({'token': token})}"

    def create_token(self, user_id: int) -> str:
        """A new reset token for this user (older unused ones stop working). Returns the raw token:
        it exists nowhere else, only its hash is stored."""
        now = self.clock()
        token = secrets.token_urlsafe(32)
        with self.db.session() as s:
            s.execute(update(PasswordResetToken)
                      .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
                      .values(used_at=now))
            s.add(PasswordResetToken(user_id=user_id, token_hash=hash_token(token), created_at=now,
                                     expires_at=now + timedelta(seconds=self.ttl_s)))
        return token

    def request_reset(self, email_or_username: object, *, ip: str | None = None) -> None:
        """Mail a reset link to the account named by an email address or a username, if there is
        one with an address and it is active. Returns None in every case; raises only
        :class:`~thermalstream.auth.errors.RateLimited` (per typed name and per IP)."""
        typed = email_or_username.strip().lower() if isinstance(email_or_username, str) else ""
        self.limiter.attempt("reset", {"user": typed or None, "ip": ip}).raise_if_refused("reset")
        if not typed or len(typed) > EMAIL_MAX:
            return
        if "@" in typed:
            candidates = self.users.find_by_email(typed)
            if not candidates:  # usernames may contain @ too
                one = self.users.get(typed)
                candidates = [one] if one else []
        else:
            one = self.users.get(typed)
            candidates = [one] if one else []
        for user in candidates:
            if not user["is_active"] or not user["email"]:
                continue
            token = self.create_token(user["id"])
            if self.mailer is None:
                log.warning("password reset requested for a user but no mailer is configured")
                continue
            self.mailer.send_template("reset", user["email"], {
                "username": user["username"],
                "link": self.reset_link(token),
                "expires_minutes": max(1, self.ttl_s // 60),
            })

    def _valid_row(self, s, token: object) -> PasswordResetToken | None:
        if not isinstance(token, str) or not token or len(token) > 256:
            return None
        row = s.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token)))
        if row is None or row.used_at is not None or row.expires_at <= self.clock():
            return None
        return row

    def check_token(self, token: object) -> bool:
        """True if ``token`` would be accepted now (to show the form; uses nothing up)."""
        with self.db.session() as s:
            row = self._valid_row(s, token)
            if row is None:
                return False
            user = s.get(User, row.user_id)
            return user is not None and user.is_active

    def complete_reset(self, token: object, new_password: str) -> dict[str, Any]:
        """Set the new password with a valid token and use the token up. Returns the user.

        Raises :class:`~thermalstream.auth.errors.InvalidResetToken` (unknown, used, expired or
        superseded token: one message for all) or
        :class:`~thermalstream.auth.errors.WeakPassword` (the token then stays valid, so the
        user can try another password). The user's refresh tokens are revoked and the login
        lockout is cleared.
        """
        now = self.clock()
        with self.db.session() as s:
            row = self._valid_row(s, token)
            user = s.get(User, row.user_id) if row is not None else None
            if row is None or user is None or not user.is_active:
                raise InvalidResetToken()
            check_policy(new_password, user.username)
            won = s.execute(update(PasswordResetToken)
                            .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
                            .values(used_at=now)).rowcount
            if won != 1:  # used by a concurrent request
                raise InvalidResetToken()
            self.users._store_password(s, user, new_password)
            result = user_dict(user)
        self.limiter.clear_user("login", result["username"])
        self.users._ended(result["id"])  # every session of the user ended with the old password
        log.info("password of user %s reset by email link", result["username"])
        return result

"""Exceptions of the auth package.

Bad input raises a :class:`ValueError` subclass with a message meant for the user (a
handler answers 400/409/422 with ``str(exc)``). Refused credentials or tokens raise
:class:`AuthError` with a machine-readable ``reason`` (a handler answers 401). Rate limits
raise :class:`RateLimited` (a handler answers 429 with ``Retry-After: retry_after_s``).
"""

from __future__ import annotations


class AuthValueError(ValueError):
    """Bad input; ``str(exc)`` is a clear message for the user."""


class InvalidUsername(AuthValueError):
    pass


class InvalidEmail(AuthValueError):
    pass


class InvalidRole(AuthValueError):
    pass


class WeakPassword(AuthValueError):
    """The password breaks the policy (too short, too long, the username, too common...)."""


class UserExists(AuthValueError):
    pass


class UserNotFound(AuthValueError, LookupError):
    pass


class LastAdmin(AuthValueError):
    """Refused: the change would leave no active admin."""


class AuthError(Exception):
    """Refused credentials or token. ``reason`` is a short code (``expired``, ``invalid_signature``,
    ``wrong_type``, ``revoked``, ``refresh_token_reused`` ...); ``str(exc)`` is a message."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or reason.replace("_", " "))


class InvalidResetToken(AuthError):
    def __init__(self) -> None:
        super().__init__("invalid_reset_token", "This password reset link is invalid or has expired.")


class RateLimited(AuthError):
    """Too many attempts. ``retry_after_s`` (int, >= 1) goes into a ``Retry-After`` header."""

    def __init__(self, message: str, retry_after_s: int, kind: str = "") -> None:
        self.retry_after_s = retry_after_s
        self.kind = kind
        super().__init__("rate_limited", message)

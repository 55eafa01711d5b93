"""A user's fields: the username and email rules, and a user as plain data (never the password hash)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from thermalstream.auth.errors import InvalidEmail, InvalidUsername
from thermalstream.db.models import User

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
EMAIL_MAX = 254


def validate_username(username: object) -> str:
    """The username, stripped and lower-cased, or :class:`InvalidUsername` saying what is wrong."""
    if not isinstance(username, str):
        raise InvalidUsername("The username must be text.")
    name = username.strip().lower()
    if not name:
        raise InvalidUsername("The username is empty.")
    if len(name) > 64:
        raise InvalidUsername("The username is too long: use at most 64 characters.")
    if not USERNAME_RE.fullmatch(name):
        raise InvalidUsername(
            "The username may contain only letters a-z, digits and . _ @ - and must start with a letter or digit."
        )
    return name


def validate_email(email: object) -> str | None:
    """The address stripped (None for None or ''), or :class:`InvalidEmail`. A light check: one ``@``,
    a dotted domain, no spaces or control characters, at most 254 characters."""
    if email is None:
        return None
    if not isinstance(email, str):
        raise InvalidEmail("The email address must be text.")
    value = email.strip()
    if not value:
        return None
    if len(value) > EMAIL_MAX:
        raise InvalidEmail(f"The email address is too long: at most {EMAIL_MAX} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or not EMAIL_RE.fullmatch(value):
        raise InvalidEmail("The email address is not valid: expected name@example.org.")
    return value


def _iso(dt: datetime | None) -> str | None:
    """ISO 8601 text, None for None."""
    return dt.isoformat() if dt else None


def user_dict(u: User) -> dict[str, Any]:
    """A user as plain data, without the password hash."""
    return {
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "role": u.role,
        "is_active": bool(u.is_active),
        "email_alerts": bool(u.email_alerts),
        "timezone": u.timezone,
        "created_at": _iso(u.created_at),
        "last_login_at": _iso(u.last_login_at),
        "failed_logins": u.failed_logins or 0,
        "locked_until": _iso(u.locked_until),
        "has_password": u.password_hash is not None,
        "session_version": u.session_version or 0,
    }


__all__ = ["EMAIL_MAX", "USERNAME_RE", "user_dict", "validate_email", "validate_username"]

"""Roles: admin > operator > viewer."""

from __future__ import annotations

from thermalstream.auth.errors import InvalidRole
from thermalstream.db.models import ROLES

RANK = {"viewer": 0, "operator": 1, "admin": 2}
assert set(RANK) == set(ROLES)


def check_role(role: object) -> str:
    """``role`` if it is one of admin, operator, viewer, else :class:`InvalidRole`."""
    if not isinstance(role, str) or role not in RANK:
        raise InvalidRole(f"Unknown role {str(role)[:32]!r}: use one of admin, operator, viewer.")
    return role


def role_at_least(role: str | None, minimum: str) -> bool:
    """True if ``role`` ranks at or above ``minimum``. An unknown or missing ``role`` is never
    enough; an unknown ``minimum`` is a programming error (:class:`InvalidRole`)."""
    check_role(minimum)
    return role in RANK and RANK[role] >= RANK[minimum]  # type: ignore[index]

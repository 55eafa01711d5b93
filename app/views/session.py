"""Who is using this browser session, and what they may do."""

from __future__ import annotations

import panel as pn

from app import access
from app.auth import Principal, principal_from_cookie
from thermalstream.runtime import Runtime


def session_user(runtime: Runtime) -> Principal | None:
    """The logged-in user of the current Panel session (role read from the database)."""
    name = pn.state.user
    if not name or name == "guest":
        return None
    return principal_from_cookie(runtime, name)


def can(user: Principal | None, role: str) -> bool:
    return user is not None and access.allows(user.role, role)


def visible_cameras(runtime: Runtime, user: Principal | None) -> set[int] | None:
    """Camera ids this user may see (None: all); nothing when nobody is logged in."""
    if user is None:
        return set()
    return runtime.cameras.visible_ids(user.user_id, user.role)

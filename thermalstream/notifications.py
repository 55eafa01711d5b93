"""User notifications: saved in the database, then pushed to open sessions over the event bus.

>>> svc = NotificationService(db, bus)
>>> svc.notify("warning", "Camera offline", "yard: no frames for 30 s", data={"camera_id": 3})

Browsers subscribe to the bus topic ``"notification"``; ``Event.user_id`` is the recipient
(None: every user).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from thermalstream.bus import EventBus
from thermalstream.db import repo
from thermalstream.db.engine import Database
from thermalstream.db.models import NOTIFICATION_TYPES
from thermalstream.db.types import as_utc

log = logging.getLogger(__name__)

TOPIC = "notification"
TYPES = NOTIFICATION_TYPES


class NotificationService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus

    def notify(
        self,
        type: str,
        title: str,
        message: str = "",
        user_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Save a notification for ``user_id`` (None: everyone), publish it, and return its dict.

        It is published only after the row is committed, so a subscriber that reloads the
        list sees it. ``data`` must be JSON-serialisable.
        """
        if type not in TYPES:
            raise ValueError(f"unknown notification type {type!r} (one of {', '.join(TYPES)})")
        if not title:
            raise ValueError("a notification needs a title")
        with self.db.session() as s:
            n = repo.create_notification(s, type, title, message, user_id=user_id, data=data)
            payload = repo.notification_dict(n)
        self.bus.publish(TOPIC, payload, user_id=user_id)
        return payload

    def info(self, title: str, message: str = "", **kw: Any) -> dict[str, Any]:
        return self.notify("info", title, message, **kw)

    def success(self, title: str, message: str = "", **kw: Any) -> dict[str, Any]:
        return self.notify("success", title, message, **kw)

    def warning(self, title: str, message: str = "", **kw: Any) -> dict[str, Any]:
        return self.notify("warning", title, message, **kw)

    def error(self, title: str, message: str = "", **kw: Any) -> dict[str, Any]:
        return self.notify("error", title, message, **kw)

    def list(
        self, user_id: int | None, *, unread_only: bool = False, limit: int = 50, before_id: int | None = None
    ) -> list[dict[str, Any]]:
        """What ``user_id`` can see (own and broadcasts), newest first."""
        with self.db.session() as s:
            rows = repo.list_notifications(s, user_id, unread_only=unread_only, limit=limit, before_id=before_id)
            return [repo.notification_dict(n) for n in rows]

    def mark_read(self, user_id: int | None, ids: list[int] | None = None) -> int:
        """Mark ``ids`` (or everything ``user_id`` can see) read; returns how many changed."""
        with self.db.session() as s:
            return repo.mark_read(s, user_id, ids)

    def unread_count(self, user_id: int | None) -> int:
        with self.db.session() as s:
            return repo.unread_count(s, user_id)


def _zone(tz_name: str | None) -> tzinfo:
    if not tz_name:
        return UTC
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; showing UTC", tz_name)
        return UTC


def to_local(dt: datetime | str | None, tz_name: str | None) -> datetime | None:
    """A stored (UTC) timestamp in the viewer's IANA time zone ``tz_name``.

    Accepts an ISO string too (as in notification dicts). Naive values are taken as UTC;
    an unknown or empty zone name gives UTC.
    """
    if dt is None:
        return None
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return as_utc(dt).astimezone(_zone(tz_name))


def format_local(dt: datetime | str | None, tz_name: str | None, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    """``to_local`` formatted for display ('' for None)."""
    local = to_local(dt, tz_name)
    return local.strftime(fmt) if local is not None else ""

"""User notifications: saved in the database, then pushed to open sessions over the event bus.

>>> svc = NotificationService(db, bus)
>>> svc.notify("warning", "Camera offline", "yard: no frames for 30 s", data={"camera_id": 3})

Browsers subscribe to the bus topic ``"notification"``; ``Event.user_id`` is the recipient
(None: every user).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from thermalstream.bus import EventBus
from thermalstream.db import repo
from thermalstream.db.engine import Database
from thermalstream.db.models import NOTIFICATION_TYPES
from thermalstream.db.outage import outage_reason
from thermalstream.db.types import as_utc

log = logging.getLogger(__name__)

TOPIC = "notification"
TYPES = NOTIFICATION_TYPES


def notify_quietly(notes: NotificationService | None, type: str, title: str, message: str = "",
                   data: dict[str, Any] | None = None) -> None:
    """A notification from a background job (recordings, schedules, cleanup) that never stops the job:
    nothing without a service, a logged error when sending fails."""
    if notes is None:
        return
    try:
        notes.notify(type, title, message, data=data)
    except Exception:
        log.exception("could not send notification %r", title)


class NotificationService:
    """During a database outage a notification is still published (``id`` None, ``pending``
    True) and kept in memory; it is saved when the database answers again (:meth:`flush`,
    called by every later use of the service and by the recording service's retry loop)."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def flush(self) -> int:
        """Save the notifications kept during an outage; returns how many are still waiting."""
        with self._lock:
            waiting, self._pending = self._pending, []
        try:
            while waiting:
                p = waiting[0]
                with self.db.session() as s:
                    n = repo.create_notification(s, p["type"], p["title"], p["message"], user_id=p["user_id"],
                                                 data=p["data"])
                    n.created_at = datetime.fromisoformat(p["created_at"])
                waiting.pop(0)
        except Exception as exc:  # noqa: BLE001 - kept for the next try
            if outage_reason(exc) is None:
                log.exception("saving a kept notification failed")
        finally:
            with self._lock:
                self._pending[:0] = waiting
                return len(self._pending)

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
        if self._pending:
            self.flush()
        try:
            with self.db.session() as s:
                n = repo.create_notification(s, type, title, message, user_id=user_id, data=data)
                payload = repo.notification_dict(n)
        except Exception as exc:
            if outage_reason(exc) is None:
                raise
            payload = {"id": None, "type": type, "title": title, "message": message,
                       "created_at": datetime.now(UTC).isoformat(), "read": False, "user_id": user_id,
                       "data": dict(data or {}), "pending": True}
            with self._lock:
                self._pending.append(payload)
            log.warning("notification kept in memory until the database is back: %s", title)
        self.bus.publish(TOPIC, payload, user_id=user_id)
        return payload

    def to_admins(self, type: str, title: str, message: str = "", data: dict[str, Any] | None = None) -> int:
        """One notification for each active admin only (it may name users, files or deleted cameras)."""
        from sqlalchemy import select

        from thermalstream.db.models import User

        with self.db.session() as s:
            admins = list(s.scalars(select(User.id).where(User.role == "admin", User.is_active.is_(True))))
        for uid in admins:
            self.notify(type, title, message, user_id=uid, data=data)
        return len(admins)

    @property
    def pending(self) -> list[dict[str, Any]]:
        """Notifications not saved yet (database outage)."""
        with self._lock:
            return list(self._pending)

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
        if self._pending:
            self.flush()
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
    """``to_local`` formatted for display ('' for None). THE rule for times in pages: the viewer's
    (browser's) time zone, with the zone shown; UTC when the browser gives none."""
    local = to_local(dt, tz_name)
    return local.strftime(fmt) if local is not None else ""


def from_local(naive: datetime, tz_name: str | None) -> datetime:
    """A wall-clock time the viewer typed (in their zone ``tz_name``) as an aware UTC datetime."""
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=_zone(tz_name)).astimezone(UTC)


def zone_label(tz_name: str | None) -> str:
    """The zone that :func:`format_local` uses for ``tz_name``, for 'times in ...' captions."""
    zone = _zone(tz_name)
    return str(getattr(zone, "key", None) or "UTC")


def chart_time(dt: datetime | str, tz_name: str | None) -> datetime:
    """Naive wall-clock time in the viewer's zone, for chart axes and date-time inputs (Bokeh shows naive
    values as is)."""
    return to_local(dt, tz_name).replace(tzinfo=None)


def local_day_range(first: date | None, last: date | None, tz_name: str | None
                    ) -> tuple[datetime | None, datetime | None]:
    """UTC bounds of the viewer's calendar days ``first`` 00:00 to the end of ``last`` (None: open)."""
    zone = _zone(tz_name)
    since = datetime.combine(first, time.min, zone).astimezone(UTC) if first else None
    until = datetime.combine(last, time.max, zone).astimezone(UTC) if last else None
    return since, until

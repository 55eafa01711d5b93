"""Small, typed data-access functions. Each takes an open :class:`~sqlalchemy.orm.Session`
(see :meth:`thermalstream.db.engine.Database.session`) and leaves committing to the caller;
new rows are flushed so their ids are set when the function returns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from thermalstream.db.models import CAMERA_STATUSES, NOTIFICATION_TYPES, Camera, Notification
from thermalstream.db.types import as_utc, utcnow
from thermalstream.sources.url import MAX_URL_LENGTH, mask_credentials, parse_camera_url

# --- cameras ----------------------------------------------------------------------------------

_CAMERA_FIELDS = {
    "name", "url", "kind", "enabled", "owner_id", "worker_id", "settings", "radiometric", "width", "height", "fps",
}


def add_camera(
    s: Session,
    name: str,
    url: str,
    *,
    kind: str | None = None,
    enabled: bool = True,
    owner_id: int | None = None,
    worker_id: str | None = None,
    settings: dict[str, Any] | None = None,
    radiometric: bool = False,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> Camera:
    """Add a camera. ``kind`` defaults to what the URL says (an invalid URL raises
    :class:`~thermalstream.sources.url.CameraURLError`; files need not exist yet)."""
    if kind is None:
        kind = parse_camera_url(url, must_exist=False).kind
    cam = Camera(
        name=name, url=url.strip(), kind=kind, enabled=enabled, owner_id=owner_id, worker_id=worker_id,
        settings=dict(settings or {}), radiometric=radiometric, width=width, height=height, fps=fps,
    )
    s.add(cam)
    s.flush()
    return cam


def get_camera(s: Session, camera_id: int) -> Camera | None:
    return s.get(Camera, camera_id)


def list_cameras(
    s: Session, *, enabled: bool | None = None, worker_id: str | None = None, owner_id: int | None = None
) -> list[Camera]:
    """Cameras ordered by id, optionally only enabled/disabled ones, one worker's or one owner's."""
    q = select(Camera).order_by(Camera.id)
    if enabled is not None:
        q = q.where(Camera.enabled.is_(enabled))
    if worker_id is not None:
        q = q.where(Camera.worker_id == worker_id)
    if owner_id is not None:
        q = q.where(Camera.owner_id == owner_id)
    return list(s.scalars(q))


def update_camera(s: Session, camera_id: int, **fields: Any) -> Camera | None:
    """Change editable fields (name, url, kind, enabled, settings, …); None if no such camera."""
    unknown = set(fields) - _CAMERA_FIELDS
    if unknown:
        raise ValueError(f"cannot update camera field(s): {', '.join(sorted(unknown))}")
    cam = s.get(Camera, camera_id)
    if cam is None:
        return None
    if "url" in fields and "kind" not in fields:
        fields["kind"] = parse_camera_url(fields["url"], must_exist=False).kind
    for k, v in fields.items():
        setattr(cam, k, dict(v) if k == "settings" else v)
    s.flush()
    return cam


def update_camera_status(
    s: Session, camera_id: int, status: str, reason: str | None = None, *, seen_at: datetime | None = None
) -> Camera | None:
    """Record a capture state change. ``live`` also stamps ``last_seen_at`` (``seen_at`` or now)."""
    if status not in CAMERA_STATUSES:
        raise ValueError(f"unknown camera status {status!r} (one of {', '.join(CAMERA_STATUSES)})")
    cam = s.get(Camera, camera_id)
    if cam is None:
        return None
    cam.status = status
    cam.status_reason = reason
    if seen_at is not None or status == "live":
        cam.last_seen_at = as_utc(seen_at) if seen_at is not None else utcnow()
    s.flush()
    return cam


def delete_camera(s: Session, camera_id: int) -> bool:
    """Delete a camera and (by cascade) its recordings, events, detections, schedules and shares rows."""
    cam = s.get(Camera, camera_id)
    if cam is None:
        return False
    s.delete(cam)
    s.flush()
    return True


def _iso(dt: datetime | None) -> str | None:
    return as_utc(dt).isoformat() if dt is not None else None


def _shown_url(url: str) -> str:
    """The masked URL, cut to the longest accepted length (rows saved before the limit may be longer)."""
    masked = mask_credentials(url)
    return masked if len(masked) <= MAX_URL_LENGTH else masked[:MAX_URL_LENGTH] + "…"


def public_dict(camera: Camera) -> dict[str, Any]:
    """A JSON-able view of a camera safe to show anyone allowed to see it: the URL's
    credentials are masked and the raw URL is not included."""
    return {
        "id": camera.id,
        "name": camera.name,
        "url": _shown_url(camera.url),
        "kind": camera.kind,
        "enabled": camera.enabled,
        "status": camera.status,
        "status_reason": camera.status_reason,
        "last_seen_at": _iso(camera.last_seen_at),
        "created_at": _iso(camera.created_at),
        "updated_at": _iso(camera.updated_at),
        "owner_id": camera.owner_id,
        "settings": dict(camera.settings or {}),
        "radiometric": camera.radiometric,
        "width": camera.width,
        "height": camera.height,
        "fps": camera.fps,
    }


# --- notifications ----------------------------------------------------------------------------


def create_notification(
    s: Session,
    type: str,
    title: str,
    message: str = "",
    *,
    user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> Notification:
    """Save a notification for ``user_id`` (None: everyone)."""
    if type not in NOTIFICATION_TYPES:
        raise ValueError(f"unknown notification type {type!r} (one of {', '.join(NOTIFICATION_TYPES)})")
    n = Notification(user_id=user_id, type=type, title=title, message=message, data=dict(data or {}))
    s.add(n)
    s.flush()
    return n


def _visible_to(user_id: int | None):
    if user_id is None:
        return Notification.user_id.is_(None)
    return or_(Notification.user_id == user_id, Notification.user_id.is_(None))


def list_notifications(
    s: Session,
    user_id: int | None,
    *,
    unread_only: bool = False,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Notification]:
    """Notifications ``user_id`` can see (their own and broadcasts), newest first.

    ``user_id=None`` lists broadcasts only. ``before_id`` pages further back.
    """
    q = select(Notification).where(_visible_to(user_id))
    if unread_only:
        q = q.where(Notification.read.is_(False))
    if before_id is not None:
        q = q.where(Notification.id < before_id)
    q = q.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    return list(s.scalars(q))


def mark_read(s: Session, user_id: int | None, ids: Iterable[int] | None = None) -> int:
    """Mark notifications visible to ``user_id`` read (``ids``, or all when None); returns how many changed.

    Broadcasts have one shared ``read`` flag, so marking one read marks it for everyone.
    """
    q = update(Notification).where(_visible_to(user_id), Notification.read.is_(False))
    if ids is not None:
        id_list: Sequence[int] = list(ids)
        if not id_list:
            return 0
        q = q.where(Notification.id.in_(id_list))
    result = s.execute(q.values(read=True).execution_options(synchronize_session="fetch"))
    return int(result.rowcount or 0)


def unread_count(s: Session, user_id: int | None) -> int:
    q = select(func.count()).select_from(Notification).where(_visible_to(user_id), Notification.read.is_(False))
    return int(s.scalar(q) or 0)


def notification_dict(n: Notification) -> dict[str, Any]:
    """The JSON-able form sent to browsers and published on the bus."""
    return {
        "id": n.id,
        "type": n.type,
        "title": n.title,
        "message": n.message,
        "created_at": _iso(n.created_at),
        "read": bool(n.read),
        "user_id": n.user_id,
        "data": dict(n.data or {}),
    }

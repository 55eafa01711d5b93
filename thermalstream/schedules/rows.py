"""A schedule row's fields: input validated into columns, the lookup by id and camera, the JSON form."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from thermalstream.db.models import Camera, RecordingSchedule, User
from thermalstream.db.types import as_utc
from thermalstream.schedules.windows import (
    ScheduleError,
    crosses_midnight,
    format_time,
    parse_days,
    parse_time,
    parse_timezone,
    window_state,
)

FIELDS = ("camera_id", "name", "days_of_week", "start_time", "stop_time", "timezone", "enabled", "created_by")
TIMING = {"camera_id", "days_of_week", "start_time", "stop_time", "timezone", "enabled"}  # changes that act now


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 text of ``dt`` (its own zone), None for None."""
    return dt.isoformat() if dt is not None else None


def find_row(s: Any, schedule_id: int, visible: set[int] | None) -> RecordingSchedule | None:
    """The schedule, or None when there is none or its camera is not in ``visible``."""
    row = s.get(RecordingSchedule, schedule_id)
    if row is None or (visible is not None and row.camera_id not in visible):
        return None
    return row


def validate(s: Any, values: dict[str, Any], visible: set[int] | None = None) -> dict[str, Any]:
    """The columns of a schedule from ``values``; ScheduleError (with the field) when invalid."""
    out: dict[str, Any] = {}
    cam = values.get("camera_id")
    if isinstance(cam, bool) or not isinstance(cam, int):
        if isinstance(cam, str) and cam.strip().isdigit():
            cam = int(cam)
        else:
            raise ScheduleError(f"camera_id must be a camera's id, got {cam!r}", "camera_id")
    if s.get(Camera, cam) is None or (visible is not None and cam not in visible):
        raise ScheduleError(f"camera {cam} does not exist", "camera_id")
    out["camera_id"] = cam
    out["days_of_week"] = ",".join(parse_days(values.get("days_of_week")))
    out["start_time"] = parse_time(values.get("start_time"), "start_time")
    out["stop_time"] = parse_time(values.get("stop_time"), "stop_time")
    if out["start_time"] == out["stop_time"]:
        raise ScheduleError("start_time and stop_time must differ", "stop_time")
    out["timezone"] = parse_timezone(values.get("timezone"))
    enabled = values.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScheduleError(f"enabled must be true or false, got {enabled!r}", "enabled")
    out["enabled"] = enabled
    name = values.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        name = f"{format_time(out['start_time'])}–{format_time(out['stop_time'])}"
    if not isinstance(name, str) or len(name.strip()) > 128:
        raise ScheduleError("name must be text of at most 128 characters", "name")
    out["name"] = name.strip()
    by = values.get("created_by")
    if by is not None and (isinstance(by, bool) or not isinstance(by, int) or s.get(User, by) is None):
        raise ScheduleError(f"created_by: no user {by!r}", "created_by")
    out["created_by"] = by
    return out

def merge_fields(data: Mapping[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
    """``data`` and keyword ``fields`` as one dict of known schedule fields (``id`` ignored)."""
    if data is not None and not isinstance(data, Mapping):
        raise ScheduleError("expected a JSON object")
    values = {**(dict(data) if data else {}), **fields}
    values.pop("id", None)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ScheduleError(f"unknown schedule field(s): {', '.join(sorted(unknown))}")
    return values


def schedule_dict(row: RecordingSchedule, now: datetime) -> dict[str, Any]:
    """The JSON form of a schedule, with its open (or next) window at ``now``."""
    inside, ws, we = window_state(row, now)
    return {
        "id": row.id,
        "camera_id": row.camera_id,
        "name": row.name,
        "days_of_week": list(parse_days(row.days_of_week)),
        "start_time": format_time(row.start_time),
        "stop_time": format_time(row.stop_time),
        "timezone": row.timezone,
        "enabled": bool(row.enabled),
        "crosses_midnight": crosses_midnight(row.start_time, row.stop_time),
        "active": bool(row.enabled and inside),
        "window_start": iso(ws),  # the open window's, else the next one's (schedule's zone)
        "window_end": iso(we),
        "created_at": iso(as_utc(row.created_at)) if row.created_at else None,
        "updated_at": iso(as_utc(row.updated_at)) if row.updated_at else None,
        "created_by": row.created_by,
    }


__all__ = ["FIELDS", "TIMING", "find_row", "iso", "merge_fields", "schedule_dict", "validate"]

"""Recording schedules on APScheduler cron triggers; the rules are in :mod:`thermalstream.schedules.service`.

>>> svc = ScheduleService(db, recording_service, notifications).start()
>>> svc.create({"camera_id": 1, "days_of_week": "mon-fri", "start_time": "22:00", "stop_time": "06:00",
...             "timezone": "Europe/Berlin"})
"""

from __future__ import annotations

from thermalstream.schedules.rows import FIELDS
from thermalstream.schedules.service import ScheduleService
from thermalstream.schedules.windows import (
    DAYS,
    ScheduleError,
    crosses_midnight,
    parse_days,
    parse_time,
    parse_timezone,
    stop_days,
    window_state,
)

__all__ = [
    "DAYS", "FIELDS", "ScheduleError", "ScheduleService", "crosses_midnight", "parse_days", "parse_time",
    "parse_timezone", "stop_days", "window_state",
]

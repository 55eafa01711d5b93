"""Schedule windows: validation of days/times/time zones, and where ``now`` stands (pure functions).

A window **belongs to the day it starts on**. With days ``mon`` and 22:00–06:00, the window runs
from Monday 22:00 to Tuesday 06:00 (local time in the schedule's zone), whether or not Tuesday
is a scheduled day. A stop time earlier than the start time means the window crosses midnight
(equal times are refused). Windows are half-open: [start, stop).

DST: local times are turned into instants the way ``zoneinfo`` and APScheduler 3's CronTrigger do
(``fold=0``): a start or stop in the spring-forward gap (02:30 in Europe/Berlin on 2026-03-29)
happens one hour later on the wall clock (03:30 CEST, the same instant as 02:30 CET); a time that
occurs twice in autumn means its first occurrence. A window is as long in real time as the wall
clock says, so it is an hour shorter or longer across a transition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_ALIASES = {"*": DAYS, "daily": DAYS, "all": DAYS, "weekdays": DAYS[:5], "weekends": DAYS[5:], "weekend": DAYS[5:]}
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


class ScheduleError(ValueError):
    """Invalid schedule input; ``field`` names the offending field (the HTTP layer answers 400)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _day_index(token: str) -> int:
    t = token.strip().lower()
    if t in DAYS:
        return DAYS.index(t)
    if t in _FULL:
        return _FULL[t]
    raise ScheduleError(f"invalid day {token!r}: use mon, tue, wed, thu, fri, sat, sun (or ranges like mon-fri)",
                        "days_of_week")


def parse_days(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Days as a tuple in week order. Accepts ``"mon,wed"``, ``["mon", "wed"]``, full names, ranges
    (``"mon-fri"``, ``"fri-mon"`` wraps), ``"*"``/``"daily"``, ``"weekdays"``, ``"weekends"``."""
    if value is None:
        raise ScheduleError("days_of_week is required", "days_of_week")
    tokens: list[str] = []
    if isinstance(value, str):
        tokens = [t for t in re.split(r"[,\s]+", value.strip()) if t]
    else:
        try:
            items = list(value)
        except TypeError:
            raise ScheduleError(f"days_of_week must be a list or a comma-separated string, got {value!r}",
                                "days_of_week") from None
        for v in items:
            if not isinstance(v, str):
                raise ScheduleError(f"invalid day {v!r}", "days_of_week")
            tokens.extend(t for t in re.split(r"[,\s]+", v.strip()) if t)
    if not tokens:
        raise ScheduleError("days_of_week needs at least one day", "days_of_week")
    chosen: set[int] = set()
    for tok in tokens:
        low = tok.lower()
        if low in _ALIASES:
            chosen.update(DAYS.index(d) for d in _ALIASES[low])
        elif "-" in low:
            a, _, b = low.partition("-")
            i, j = _day_index(a), _day_index(b)
            k = i
            while True:
                chosen.add(k)
                if k == j:
                    break
                k = (k + 1) % 7
        else:
            chosen.add(_day_index(tok))
    return tuple(DAYS[i] for i in sorted(chosen))


def parse_time(value: str | time | None, field: str = "time") -> time:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (24 h) or a ``datetime.time`` (no time zone, no microseconds)."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ScheduleError(f"{field} must be a local time without a zone (the schedule has one)", field)
        return value.replace(microsecond=0)
    if not isinstance(value, str):
        raise ScheduleError(f"{field} is required as 'HH:MM'", field)
    m = _TIME_RE.match(value)
    if not m:
        raise ScheduleError(f"invalid {field} {value!r}: use HH:MM (24-hour), e.g. 07:30", field)
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        raise ScheduleError(f"invalid {field} {value!r}: hours 00-23, minutes and seconds 00-59", field)
    return time(h, mi, s)


def parse_timezone(value: str | None) -> str:
    """An IANA zone name (``Europe/Berlin``, ``UTC``); returns it as given (stripped)."""
    if not isinstance(value, str) or not value.strip():
        raise ScheduleError("timezone is required (an IANA name such as Europe/Berlin or UTC)", "timezone")
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC",
                            "timezone") from None
    return name


def format_time(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


def crosses_midnight(start: time, stop: time) -> bool:
    return stop <= start


def stop_days(days: Iterable[str], start: time, stop: time) -> tuple[str, ...]:
    """The days the stop trigger fires on: the start days, shifted one day when the window crosses midnight."""
    idx = [DAYS.index(d) for d in days]
    if crosses_midnight(start, stop):
        idx = [(i + 1) % 7 for i in idx]
    return tuple(DAYS[i] for i in sorted(set(idx)))


def _local(day: date, t: time, tz: ZoneInfo) -> datetime:
    """The instant a wall-clock time happens (fold=0, like CronTrigger), expressed in ``tz``."""
    return datetime.combine(day, t, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _get(schedule: Any, name: str) -> Any:
    return schedule[name] if isinstance(schedule, Mapping) else getattr(schedule, name)


def window_state(schedule: Any, now: datetime) -> tuple[bool, datetime | None, datetime | None]:
    """``(inside, window_start, window_end)`` for ``schedule`` at the aware instant ``now``.

    Inside: the window that contains ``now``. Outside: the next window (None, None if the
    schedule has no day). ``schedule`` is a ``RecordingSchedule`` row or a dict with
    ``days_of_week`` (string or list), ``start_time``, ``stop_time`` (time or 'HH:MM') and
    ``timezone``. The ``enabled`` flag is not looked at. Times are returned in the schedule's zone;
    compare or subtract them in UTC (``.astimezone(UTC)``): Python does wall-clock arithmetic on
    two datetimes that share a tzinfo.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = ZoneInfo(_get(schedule, "timezone"))
    days = {DAYS.index(d) for d in parse_days(_get(schedule, "days_of_week"))}
    start = parse_time(_get(schedule, "start_time"), "start_time")
    stop = parse_time(_get(schedule, "stop_time"), "stop_time")
    cross = crosses_midnight(start, stop)
    now_u = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    upcoming: tuple[datetime, datetime] | None = None
    for offset in range(-1, 9):
        d = today + timedelta(days=offset)
        if d.weekday() not in days:
            continue
        ws = _local(d, start, tz)
        we = _local(d + timedelta(days=1) if cross else d, stop, tz)
        # compare in UTC: Python compares datetimes that share a tzinfo by wall clock, ignoring fold
        ws_u, we_u = ws.astimezone(UTC), we.astimezone(UTC)
        if we_u <= ws_u:  # a DST gap swallowed a short window
            continue
        if ws_u <= now_u < we_u:
            return True, ws, we
        if ws_u > now_u and upcoming is None:
            upcoming = (ws, we)
    if upcoming is None:
        return False, None, None
    return False, upcoming[0], upcoming[1]

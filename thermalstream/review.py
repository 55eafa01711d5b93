"""Review timeline of one camera (Frigate-style): what was recorded as bands, events and alarms as marks,
over a day in the viewer's time zone or any [since, until) range.

The viewer's days follow the one rule for times (``notifications.local_day_range``). Segments carry
their index inside their recording (the ``/api/recordings/{id}/segments/{n}`` order), so a player
can move to the segment that holds a chosen time. ``locate`` is that rule, for pages and scripts.

>>> camera_timeline(db, 3, *day_range(date(2026, 11, 30), "Europe/Berlin"))
{"camera_id": 3, "since": ..., "until": ..., "bands": [...], "segments": [...], "events": [...], "alarms": [...]}
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Alarm, Event, Recording, RecordingSegment
from thermalstream.db.types import as_utc
from thermalstream.notifications import local_day_range

MAX_MARKS = 5000  # events and alarms each; more in one range are cut (``truncated``)
MAX_RANGE = timedelta(days=8)
ALARM_LABEL = "alarm"  # alarms also store an event with this label: shown once, as an alarm


def day_range(day: date, tz_name: str | None) -> tuple[datetime, datetime]:
    """[00:00 of ``day``, 00:00 of the next day) in the viewer's zone, as UTC."""
    return local_day_range(day, None, tz_name)[0], local_day_range(day + timedelta(days=1), None, tz_name)[0]


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else as_utc(dt).isoformat()


def _segments(s, camera_id: int, since: datetime, until: datetime, now: datetime) -> list[dict[str, Any]]:
    """Segments overlapping the range with their index in their recording; an open one ends now."""
    overlapping = (select(Recording.id).where(
        Recording.camera_id == camera_id, Recording.started_at < until,
        or_(Recording.ended_at.is_(None), Recording.ended_at >= since)))
    q = (select(RecordingSegment.recording_id, RecordingSegment.started_at, RecordingSegment.ended_at)
         .where(RecordingSegment.recording_id.in_(overlapping))
         .order_by(RecordingSegment.recording_id, RecordingSegment.started_at, RecordingSegment.id))
    out, index, last = [], 0, None
    for rid, start, end in s.execute(q):
        index = index + 1 if rid == last else 0
        last = rid
        start, end = as_utc(start), as_utc(end) if end is not None else None
        if start < until and (end is None or end > since):
            out.append({"recording_id": rid, "index": index, "start": start, "end": end or max(start, now)})
    out.sort(key=lambda x: x["start"])
    return out


def _bands(segments: list[dict[str, Any]], join_s: float = 2.0) -> list[dict[str, Any]]:
    """Segments merged into continuous bands (gaps under ``join_s`` are not gaps)."""
    bands: list[dict[str, Any]] = []
    for seg in segments:
        if bands and seg["start"] <= bands[-1]["end"] + timedelta(seconds=join_s):
            bands[-1]["end"] = max(bands[-1]["end"], seg["end"])
            if seg["recording_id"] not in bands[-1]["recordings"]:
                bands[-1]["recordings"].append(seg["recording_id"])
        else:
            bands.append({"start": seg["start"], "end": seg["end"], "recordings": [seg["recording_id"]]})
    return bands


def _marks(s, row, start_col, end_col, camera_id, since, until, *extra) -> list:
    q = (select(row).where(row.camera_id == camera_id, start_col < until,
                           or_(end_col.is_(None), end_col >= since), *extra)
         .order_by(start_col, row.id).limit(MAX_MARKS + 1))
    return list(s.scalars(q))


def camera_timeline(db: Database, camera_id: int, since: datetime, until: datetime,
                    now: datetime | None = None) -> dict[str, Any]:
    """Bands (recorded time), segments, events and alarms of ``camera_id`` overlapping [since, until).
    Times are ISO 8601 in UTC; ValueError for an empty, reversed or too long range."""
    since, until = as_utc(since), as_utc(until)
    if until <= since:
        raise ValueError("until must be after since")
    if until - since > MAX_RANGE:
        raise ValueError(f"a timeline covers at most {MAX_RANGE.days} days")
    now = as_utc(now) if now is not None else datetime.now(UTC)
    with db.session() as s:
        segments = _segments(s, camera_id, since, until, now)
        events = _marks(s, Event, Event.started_at, Event.ended_at, camera_id, since, until,
                        Event.label != ALARM_LABEL)
        alarms = _marks(s, Alarm, Alarm.raised_at, Alarm.cleared_at, camera_id, since, until)
        return {
            "camera_id": camera_id, "since": _iso(since), "until": _iso(until),
            "bands": [{**b, "start": _iso(b["start"]), "end": _iso(b["end"])} for b in _bands(segments)],
            "segments": [{**x, "start": _iso(x["start"]), "end": _iso(x["end"])} for x in segments],
            "events": [{"id": e.id, "label": e.label, "start": _iso(e.started_at), "end": _iso(e.ended_at),
                        "max_confidence": e.max_confidence, "hint": e.hint} for e in events[:MAX_MARKS]],
            "alarms": [{"id": a.id, "name": a.name, "kind": a.kind, "start": _iso(a.raised_at),
                        "end": _iso(a.cleared_at), "event_id": a.event_id} for a in alarms[:MAX_MARKS]],
            "truncated": len(events) > MAX_MARKS or len(alarms) > MAX_MARKS,
        }


def locate(segments: list[dict[str, Any]], at: datetime) -> tuple[int, float] | None:
    """Where to play time ``at``: (position in ``segments``, seconds into it). A time in a gap plays
    the next segment from its start; after the last one: None."""
    at = as_utc(at)
    for k, seg in enumerate(segments):
        start, end = (datetime.fromisoformat(seg[key]) if isinstance(seg[key], str) else seg[key]
                      for key in ("start", "end"))
        if at < start:
            return k, 0.0
        if at < end:
            return k, (at - start).total_seconds()
    return None

"""The Detections page's timeline over a whole period: detections counted per time bucket, camera
and class in the database (grouped queries), never the newest N rows.

Buckets of a minute or more (the page's "last 24 h" and "last 7 days") are summed from
``detection_minutes`` (counts per minute, camera and class, and per minimum confidence in 0.05 steps,
kept by triggers on ``detections``, migration 0010); the partial minutes at either end of the period
are counted from the rows. Shorter buckets, and other minimum confidences, count the rows themselves
through the index on the timestamp.

>>> detection_timeline(db, since=now - timedelta(hours=1), buckets=300)
[{"t": datetime(...), "width_s": 12.0, "camera_id": 1, "label": "person", "count": 41, "max_confidence": 0.93}, ...]
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, cast, extract, func, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import DetectionMinute
from thermalstream.detect.queries import (
    _detection_filters,
    _dt,
    _ids,
    _labels,
    minute_count_column,
    minute_time,
    whole_minutes,
)

MAX_BUCKETS = 2000
Counts = dict[tuple[int, int, str], list]  # (bucket, camera, class) -> [count, best confidence]


def _epoch(dialect: str):
    """Seconds since 1970 of a detection's timestamp, in SQL (UTC on both backends)."""
    if dialect == "sqlite":  # stored as naive UTC text; julianday is exact to the millisecond
        return func.round((func.julianday(DetectionRow.timestamp) - 2440587.5) * 86400.0, 3)
    return cast(extract("epoch", DetectionRow.timestamp), Float)


def _floor(value, dialect: str):
    """Whole buckets; values are never negative here, so SQLite's truncating cast is a floor."""
    return cast(value, Integer) if dialect == "sqlite" else cast(func.floor(value), Integer)


def _add(out: Counts, rows) -> None:
    for b, cid, lab, n, conf in rows:
        slot = out.setdefault((int(b), cid, lab), [0, 0.0])
        slot[0] += int(n)
        slot[1] = max(slot[1], float(conf))


def _from_rows(s, out: Counts, origin: datetime, width: float, dialect: str, where: list) -> None:
    """Count detection rows matching ``where`` into buckets of ``width`` s from ``origin``."""
    inner = (select(_floor((_epoch(dialect) - origin.timestamp()) / width, dialect).label("b"),
                    DetectionRow.camera_id, DetectionRow.label, DetectionRow.confidence).where(*where).subquery())
    _add(out, s.execute(select(inner.c.b, inner.c.camera_id, inner.c.label, func.count(), func.max(inner.c.confidence))
                        .group_by(inner.c.b, inner.c.camera_id, inner.c.label)))


def _from_minutes(s, out: Counts, origin_min: int, per_bucket: int, first: int, stop: int, camera, label,
                  col) -> None:
    """Sum ``col`` of whole minutes ``first`` <= minute < ``stop`` into buckets of ``per_bucket`` minutes."""
    m = DetectionMinute
    where = [m.minute >= first, m.minute < stop, col > 0]
    cams, labels = _ids(camera, "camera"), _labels(label)
    if cams is not None:
        where.append(m.camera_id.in_(cams))
    if labels is not None:
        where.append(m.label.in_(labels))
    b = ((m.minute - origin_min) // per_bucket).label("b")
    _add(out, s.execute(select(b, m.camera_id, m.label, func.sum(col), func.max(m.max_confidence))
                        .where(*where).group_by(b, m.camera_id, m.label)))


def detection_timeline(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                       buckets: int = 300) -> list[dict[str, Any]]:
    """Counts per bucket from ``since`` (required) to ``until`` (default now), oldest first; ``t`` is the
    middle of the bucket. ``width_s`` is period / ``buckets`` (at least 1 s); from a minute on it is
    rounded up to whole minutes and buckets start on a whole minute."""
    start = _dt(since)
    if start is None:
        raise ValueError("a timeline needs a start (since)")
    end = _dt(until) or datetime.now(UTC)
    if start > end:
        raise ValueError("since is after until")
    if not 1 <= int(buckets) <= MAX_BUCKETS:
        raise ValueError(f"buckets must be 1 to {MAX_BUCKETS}")
    width = max(1.0, (end - start).total_seconds() / int(buckets))
    dialect = db.engine.dialect.name
    col = minute_count_column(min_confidence)
    by_minute = width >= 60 and col is not None
    out: Counts = {}
    with db.session() as s:
        if not by_minute:
            origin = start
            _from_rows(s, out, origin, width, dialect, _detection_filters(camera, label, start, end, min_confidence))
        else:
            per_bucket = math.ceil(width / 60)
            width = 60.0 * per_bucket
            origin_min = math.floor(start.timestamp() / 60)
            origin = datetime.fromtimestamp(origin_min * 60, UTC)
            span = whole_minutes(start, end)
            if span is None:  # no whole minute inside: rows only
                _from_rows(s, out, origin, width, dialect, _detection_filters(camera, label, start, end,
                                                                                 min_confidence))
            else:
                first, stop = span
                _from_minutes(s, out, origin_min, per_bucket, first, stop, camera, label, col)
                for lo, hi in ((start, minute_time(first)), (minute_time(stop), end)):
                    if lo < hi:
                        _from_rows(s, out, origin, width, dialect,
                                   _detection_filters(camera, label, lo, hi, min_confidence))
    return [{"t": origin + timedelta(seconds=(b + 0.5) * width), "width_s": width, "camera_id": cid, "label": lab,
             "count": n, "max_confidence": conf} for (b, cid, lab), (n, conf) in sorted(out.items())]

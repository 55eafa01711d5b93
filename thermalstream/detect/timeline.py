"""The Detections page's timeline over a whole period: detections counted per time bucket, camera
and class in the database (one grouped query), never the newest N rows.

>>> detection_timeline(db, since=now - timedelta(hours=1), buckets=300)
[{"t": datetime(...), "width_s": 12.0, "camera_id": 1, "label": "person", "count": 41, "max_confidence": 0.93}, ...]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, cast, extract, func, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.detect.store import _detection_filters, _dt

MAX_BUCKETS = 2000


def _epoch(dialect: str):
    """Seconds since 1970 of a detection's timestamp, in SQL (UTC on both backends)."""
    if dialect == "sqlite":  # stored as naive UTC text
        return (func.julianday(DetectionRow.timestamp) - 2440587.5) * 86400.0
    return cast(extract("epoch", DetectionRow.timestamp), Float)


def _floor(value, dialect: str):
    """Whole buckets; values are never negative here, so SQLite's truncating cast is a floor."""
    return cast(value, Integer) if dialect == "sqlite" else cast(func.floor(value), Integer)


def detection_timeline(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                       buckets: int = 300) -> list[dict[str, Any]]:
    """Counts per bucket (``width_s`` = period / ``buckets``, at least 1 s) from ``since`` (required)
    to ``until`` (default now), oldest first; ``t`` is the middle of the bucket."""
    start = _dt(since)
    if start is None:
        raise ValueError("a timeline needs a start (since)")
    end = _dt(until) or datetime.now(UTC)
    if not 1 <= int(buckets) <= MAX_BUCKETS:
        raise ValueError(f"buckets must be 1 to {MAX_BUCKETS}")
    width = max(1.0, (end - start).total_seconds() / int(buckets))
    dialect = db.engine.dialect.name
    where = _detection_filters(camera, label, start, end, min_confidence)
    inner = (select(_floor((_epoch(dialect) - start.timestamp()) / width, dialect).label("b"),
                    DetectionRow.camera_id, DetectionRow.label, DetectionRow.confidence)
             .where(*where).subquery())
    q = (select(inner.c.b, inner.c.camera_id, inner.c.label, func.count(), func.max(inner.c.confidence))
         .group_by(inner.c.b, inner.c.camera_id, inner.c.label).order_by(inner.c.b))
    with db.session() as s:
        rows = s.execute(q).all()
    return [{"t": start + timedelta(seconds=(int(b) + 0.5) * width), "width_s": width, "camera_id": cid,
             "label": lab, "count": int(n), "max_confidence": float(conf)} for b, cid, lab, n, conf in rows]

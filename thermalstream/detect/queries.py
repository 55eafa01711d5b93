"""Reading what :mod:`thermalstream.detect.store` writes: detections, events and their screenshots.

Screenshots (laid out by :class:`~thermalstream.detect.store.DetectionStore`) are served by
detection or event id only: :func:`screenshot_path` and :func:`event_snapshot_path` resolve the
stored relative path and refuse anything outside ``screenshots_dir``.

Reading
-------
:func:`query_detections`, :func:`count_detections`, :func:`query_events`, :func:`count_events`,
:func:`get_event`, :func:`event_path` and :func:`detections_dataframe` (pandas, for notebooks).
Filters: ``camera`` (id or list), ``label`` (name or list), ``since``/``until`` (datetime, ISO
string or epoch seconds; ``since`` inclusive, ``until`` exclusive), ``min_confidence`` (0..1),
``limit`` (1..1000) and ``offset`` for paging, newest first. Bad values raise ``ValueError``
(the REST layer answers 400).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import DetectionMinute
from thermalstream.db.models import Event as EventRow
from thermalstream.db.types import as_utc

MAX_LIMIT = 1000


def _dt(value: float | datetime | str | None) -> datetime | None:
    """datetime (naive = UTC), ISO string or epoch seconds -> aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except ValueError:
            pass
        try:
            return as_utc(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"not a time: {value!r} (use ISO 8601 or seconds since the epoch)") from None
    raise ValueError(f"not a time: {value!r}")


def _iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.isoformat() if dt.tzinfo is UTC else as_utc(dt).isoformat()  # rows read back are UTC already




def _ids(value: Any, what: str) -> list[int] | None:
    if value is None or value == "" or value == []:
        return None
    values = value if isinstance(value, (list, tuple, set)) else [value]
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be a camera id (integer), got {v!r}") from None
    return out


def _labels(value: Any) -> list[str] | None:
    if value is None or value == "" or value == []:
        return None
    values = value if isinstance(value, (list, tuple, set)) else [value]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError("label must be a class name")
    return [v.strip() for v in values]


def _check_page(limit: int, offset: int) -> tuple[int, int]:
    try:
        limit, offset = int(limit), int(offset)
    except (TypeError, ValueError):
        raise ValueError("limit and offset must be integers") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise ValueError("offset must be 0 or more")
    return limit, offset


def _check_conf(min_confidence: Any) -> float | None:
    if min_confidence is None or min_confidence == "":
        return None
    try:
        v = float(min_confidence)
    except (TypeError, ValueError):
        raise ValueError(f"min_confidence must be a number between 0 and 1, got {min_confidence!r}") from None
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, got {v:g}")
    return v


def _common_filters(row, camera, label, since, until, min_confidence) -> tuple[list, datetime | None,
                                                                             datetime | None, float | None]:
    """The camera and label conditions on ``row`` (detections or events), and the checked times and
    confidence: (where, since, until, min_confidence)."""
    cams, labels = _ids(camera, "camera"), _labels(label)
    s, u, conf = _dt(since), _dt(until), _check_conf(min_confidence)
    if s is not None and u is not None and s > u:
        raise ValueError("since is after until")
    where = []
    if cams is not None:
        where.append(row.camera_id.in_(cams))
    if labels is not None:
        where.append(row.label.in_(labels))
    return where, s, u, conf


def _detection_filters(camera, label, since, until, min_confidence, event_id=None) -> list:
    where, s, u, conf = _common_filters(DetectionRow, camera, label, since, until, min_confidence)
    if s is not None:
        where.append(DetectionRow.timestamp >= s)
    if u is not None:
        where.append(DetectionRow.timestamp < u)
    if conf is not None:
        where.append(DetectionRow.confidence >= conf)
    if event_id is not None:
        where.append(DetectionRow.event_id == int(event_id))
    return where


_PAGE_COLUMNS = ("id", "camera_id", "event_id", "track_id", "label", "class_id", "confidence", "x1", "y1", "x2", "y2",
                 "timestamp", "max_celsius", "mean_celsius", "max_counts", "hint", "screenshot_path")


def detection_dict(r: DetectionRow) -> dict[str, Any]:
    return {
        "id": r.id, "camera_id": r.camera_id, "event_id": r.event_id, "track_id": r.track_id, "label": r.label,
        "class_id": r.class_id, "confidence": r.confidence, "box": [r.x1, r.y1, r.x2, r.y2],
        "timestamp": _iso(r.timestamp), "max_celsius": r.max_celsius, "mean_celsius": r.mean_celsius,
        "max_counts": r.max_counts, "hint": r.hint, "screenshot": bool(r.screenshot_path),
    }


def query_detections(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                     limit: int = 100, offset: int = 0, event_id: int | None = None) -> list[dict[str, Any]]:
    """Detection rows, newest first, as JSON-able dicts (``box`` = [x1, y1, x2, y2] pixels)."""
    limit, offset = _check_page(limit, offset)
    where = _detection_filters(camera, label, since, until, min_confidence, event_id)
    q = (select(*[DetectionRow.__table__.c[k] for k in _PAGE_COLUMNS]).where(*where)  # tuples, not ORM objects
         .order_by(DetectionRow.timestamp.desc(), DetectionRow.id.desc()))
    with db.session() as s:
        return [{"id": i, "camera_id": cam, "event_id": ev, "track_id": tr, "label": lab, "class_id": cls,
                 "confidence": conf, "box": [x1, y1, x2, y2], "timestamp": _iso(ts), "max_celsius": mc,
                 "mean_celsius": mean, "max_counts": mx, "hint": hint, "screenshot": bool(shot)}
                for i, cam, ev, tr, lab, cls, conf, x1, y1, x2, y2, ts, mc, mean, mx, hint, shot
                in s.execute(q.limit(limit).offset(offset))]


PLAYBACK_LIMIT = 20_000


def playback_detections(db: Database, camera: int, since, until, limit: int = PLAYBACK_LIMIT) -> list[dict[str, Any]]:
    """Every detection of ``camera`` in [since, until), oldest first, as ``{timestamp, box, label, confidence}``
    for drawing over a recording; over ``limit`` rows, every n-th row (evenly thinned, still covering
    the whole range, never only its newest part)."""
    where = _detection_filters(camera, None, since, until, None)
    total = count_detections(db, camera=camera, since=since, until=until)
    step = max(1, -(-total // int(limit)))
    cols = (DetectionRow.timestamp, DetectionRow.x1, DetectionRow.y1, DetectionRow.x2, DetectionRow.y2,
            DetectionRow.label, DetectionRow.confidence)
    order = (DetectionRow.timestamp, DetectionRow.id)
    if step == 1:
        q = select(*cols).where(*where).order_by(*order)
    else:
        n = func.row_number().over(order_by=order).label("n")
        inner = select(*cols, n).where(*where).subquery()
        q = select(*[inner.c[c.key] for c in cols]).where((inner.c.n - 1) % step == 0).order_by(inner.c.timestamp)
    with db.session() as s:
        return [{"timestamp": _iso(t), "box": [x1, y1, x2, y2], "label": lab, "confidence": conf}
                for t, x1, y1, x2, y2, lab, conf in s.execute(q)]


def whole_minutes(start: datetime, end: datetime | None) -> tuple[int, int | None] | None:
    """The whole minutes (epoch minutes ``first`` <= m < ``stop``; ``stop`` None: open) inside [start, end),
    where ``detection_minutes`` holds the counts; None when there is none."""
    first = math.ceil(start.timestamp() / 60)
    stop = None if end is None else math.floor(end.timestamp() / 60)
    return None if stop is not None and first >= stop else (first, stop)


def minute_time(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def minute_count_column(min_confidence):
    """The ``detection_minutes`` column counting rows at ``min_confidence`` or more (``count``, or n05 ...
    n95 for multiples of 0.05); None when the minutes cannot say (other thresholds: count rows)."""
    conf = _check_conf(min_confidence)
    if conf is None or conf == 0:
        return DetectionMinute.count
    k = round(conf * 20)
    return getattr(DetectionMinute, f"n{5 * k:02d}") if 0 < k < 20 and abs(conf * 20 - k) < 1e-9 else None


def count_detections(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                     event_id: int | None = None) -> int:
    """Matching rows; over whole minutes (without an event filter; minimum confidences in 0.05 steps) summed
    from ``detection_minutes`` (kept by triggers), with the partial minutes at the ends counted from rows."""
    where = _detection_filters(camera, label, since, until, min_confidence, event_id)
    start, end, col = _dt(since), _dt(until), minute_count_column(min_confidence)
    span = None if start is None or col is None or event_id is not None else whole_minutes(start, end)
    with db.session() as s:
        if span is None:
            return int(s.scalar(select(func.count()).select_from(DetectionRow).where(*where)) or 0)
        m, (first, stop) = DetectionMinute, span
        mw = [m.minute >= first, *([] if stop is None else [m.minute < stop])]
        cams, labels = _ids(camera, "camera"), _labels(label)
        mw += [m.camera_id.in_(cams)] if cams is not None else []
        mw += [m.label.in_(labels)] if labels is not None else []
        total = int(s.scalar(select(func.coalesce(func.sum(col), 0)).where(*mw)) or 0)
        for lo, hi in ((start, minute_time(first)), (None if stop is None else minute_time(stop), end)):
            if lo is not None and hi is not None and lo < hi:
                edge = _detection_filters(camera, label, lo, hi, min_confidence)
                total += int(s.scalar(select(func.count()).select_from(DetectionRow).where(*edge)) or 0)
        return total


def _event_filters(camera, label, since, until, min_confidence, active) -> list:
    where, s, u, conf = _common_filters(EventRow, camera, label, since, until, min_confidence)
    if s is not None:  # events overlapping [since, until)
        where.append((EventRow.ended_at.is_(None)) | (EventRow.ended_at >= s))
    if u is not None:
        where.append(EventRow.started_at < u)
    if conf is not None:
        where.append(EventRow.max_confidence >= conf)
    if active is True:
        where.append(EventRow.ended_at.is_(None))
    elif active is False:
        where.append(EventRow.ended_at.is_not(None))
    return where


def event_dict(e: EventRow, detections: int | None = None) -> dict[str, Any]:
    d = {
        "id": e.id, "camera_id": e.camera_id, "label": e.label, "started_at": _iso(e.started_at),
        "ended_at": _iso(e.ended_at),
        "duration_s": None if e.ended_at is None else round((e.ended_at - e.started_at).total_seconds(), 3),
        "max_confidence": e.max_confidence, "max_celsius": e.max_celsius, "max_counts": e.max_counts,
        "hint": e.hint, "zones": list(e.zones or []), "snapshot": bool(e.snapshot_path),
    }
    if detections is not None:
        d["detections"] = detections
    return d


def query_events(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                 limit: int = 100, offset: int = 0, active: bool | None = None) -> list[dict[str, Any]]:
    """Events overlapping [since, until), newest first, with their number of detection rows."""
    limit, offset = _check_page(limit, offset)
    where = _event_filters(camera, label, since, until, min_confidence, active)
    q = select(EventRow).where(*where).order_by(EventRow.started_at.desc(), EventRow.id.desc())
    with db.session() as s:
        rows = list(s.scalars(q.limit(limit).offset(offset)))
        counts: dict[int, int] = {}
        if rows:
            cq = select(DetectionRow.event_id, func.count()).where(
                DetectionRow.event_id.in_([r.id for r in rows])).group_by(DetectionRow.event_id)
            counts = {eid: n for eid, n in s.execute(cq)}
        return [event_dict(r, counts.get(r.id, 0)) for r in rows]


def count_events(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                 active: bool | None = None) -> int:
    where = _event_filters(camera, label, since, until, min_confidence, active)
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(EventRow).where(*where)) or 0)


def get_event(db: Database, event_id: int) -> dict[str, Any] | None:
    with db.session() as s:
        e = s.get(EventRow, int(event_id))
        if e is None:
            return None
        n = s.scalar(select(func.count()).select_from(DetectionRow).where(DetectionRow.event_id == e.id))
        return event_dict(e, int(n or 0))


def event_path(db: Database, event_id: int) -> list[tuple[str, float, float, float, float]]:
    """The event's box path from its detection rows: ``(iso time, x1, y1, x2, y2)``, oldest first."""
    q = (select(DetectionRow.timestamp, DetectionRow.x1, DetectionRow.y1, DetectionRow.x2, DetectionRow.y2)
         .where(DetectionRow.event_id == int(event_id)).order_by(DetectionRow.timestamp, DetectionRow.id))
    with db.session() as s:
        return [(_iso(t), x1, y1, x2, y2) for t, x1, y1, x2, y2 in s.execute(q)]


DATAFRAME_COLUMNS = ["id", "timestamp", "camera_id", "event_id", "track_id", "label", "class_id", "confidence",
                     "x1", "y1", "x2", "y2", "max_celsius", "mean_celsius", "max_counts", "hint", "screenshot"]


def detections_dataframe(db: Database, camera=None, label=None, since=None, until=None, min_confidence=None,
                         limit: int | None = 100_000, event_id: int | None = None):
    """Detections as a pandas DataFrame (oldest first, ``timestamp`` as UTC datetimes) for notebooks.
    ``limit`` None: every matching row."""
    import pandas as pd

    where = _detection_filters(camera, label, since, until, min_confidence, event_id)
    q = select(DetectionRow).where(*where).order_by(DetectionRow.timestamp.desc(), DetectionRow.id.desc())
    if limit is not None:
        q = q.limit(int(limit))
    with db.session() as s:
        rows = [(r.id, as_utc(r.timestamp), r.camera_id, r.event_id, r.track_id, r.label, r.class_id, r.confidence,
                 r.x1, r.y1, r.x2, r.y2, r.max_celsius, r.mean_celsius, r.max_counts, r.hint,
                 r.screenshot_path is not None)
                for r in s.scalars(q)]
    rows.reverse()
    df = pd.DataFrame(rows, columns=DATAFRAME_COLUMNS)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    for col in ("event_id", "track_id", "class_id"):
        df[col] = df[col].astype("Int64")
    return df


# --------------------------------------------------------------------------- files by id


def resolve_screenshot(screenshots_dir: str | Path, rel: str | None) -> Path | None:
    """``screenshots_dir / rel`` if it is an existing regular file strictly inside the folder, else None."""
    if not rel or "\x00" in rel:
        return None
    root = Path(screenshots_dir).expanduser().resolve()
    candidate = Path(rel)
    if candidate.is_absolute():
        return None  # rows hold relative paths; an absolute one was not written by us
    p = (root / candidate).resolve()
    if p == root or not p.is_relative_to(root) or not p.is_file():
        return None
    return p


def screenshot_path(db: Database, detection_id: int, screenshots_dir: str | Path) -> Path | None:
    """The screenshot of a detection (its own, else its event's snapshot), checked to lie inside
    ``screenshots_dir``; None when there is none or the stored path is unsafe or missing."""
    with db.session() as s:
        row = s.get(DetectionRow, int(detection_id))
        if row is None:
            return None
        rel = row.screenshot_path
        if not rel and row.event_id is not None:
            ev = s.get(EventRow, row.event_id)
            rel = ev.snapshot_path if ev is not None else None
    return resolve_screenshot(screenshots_dir, rel)


def event_snapshot_path(db: Database, event_id: int, screenshots_dir: str | Path) -> Path | None:
    """The best snapshot of an event, checked like :func:`screenshot_path`."""
    with db.session() as s:
        ev = s.get(EventRow, int(event_id))
        rel = ev.snapshot_path if ev is not None else None
    return resolve_screenshot(screenshots_dir, rel)


def camera_of(db: Database, *, detection_id: int | None = None, event_id: int | None = None) -> int | None:
    """The camera a detection or an event belongs to (for access checks); None when it does not exist."""
    row, key = (DetectionRow, detection_id) if detection_id is not None else (EventRow, event_id)
    with db.session() as s:
        return s.scalar(select(row.camera_id).where(row.id == key))


__all__ = [
    "DATAFRAME_COLUMNS",
    "MAX_LIMIT",
    "PLAYBACK_LIMIT",
    "camera_of",
    "count_detections",
    "count_events",
    "detection_dict",
    "detections_dataframe",
    "event_dict",
    "event_path",
    "event_snapshot_path",
    "get_event",
    "playback_detections",
    "query_detections",
    "query_events",
    "resolve_screenshot",
    "screenshot_path",
]

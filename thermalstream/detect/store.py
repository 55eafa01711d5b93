"""Persistence of detections and events, screenshots on disk, and the queries over them.

Writing
-------
:class:`DetectionStore` owns one writer thread. The detector thread only queues:

* ``add(camera_id, rows)``: detection rows, written in batches (every ``flush_interval`` seconds
  or as soon as ``flush_rows`` are waiting) with one multi-row INSERT;
* ``save_screenshot(...)``: returns the screenshot's path at once; the writer thread draws the
  boxes, encodes the JPEG and writes the file before the rows that name it are inserted;
* ``update_event(event_id, ...)``: coalesced per event and applied with the next batch.

``create_event`` is the one synchronous write: an event row is needed for its id (detection rows
and the notification refer to it), and events are rare.

Queues are bounded (``max_queue`` rows, ``max_screenshots`` pending pictures); when the database
or disk cannot keep up, the oldest rows / the newest pictures are dropped and counted, so
detection never stalls. A failed batch is retried on the next round, at most ``retries`` times.

Files
-----
Screenshots live under ``screenshots_dir/<camera_id>/<YYYY-MM-DD>/`` as annotated JPEGs
(``HHMMSS_mmm_<seq>.jpg``, UTC). With ``save_celsius`` the °C crop of each box of a radiometric
frame is saved next to it as ``..._d<i>.npy`` (float32). Rows store the path *relative* to
``screenshots_dir``. Files are served by detection or event id only: :func:`screenshot_path` and
:func:`event_snapshot_path` resolve the stored path and refuse anything outside the folder.

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

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import func, insert, select, update

from thermalstream.db.engine import Database
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import DetectionMinute
from thermalstream.db.models import Event as EventRow
from thermalstream.db.types import as_utc
from thermalstream.detect.draw import annotate
from thermalstream.detect.types import Detection
from thermalstream.detect.zones import ZoneConfig
from thermalstream.frame import Frame

log = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- writing


@dataclass
class _Shot:
    path: Path
    rel: str
    frame: Frame
    detections: list[Detection]
    palette: str
    zones: ZoneConfig | None


@dataclass
class StoreStats:
    rows_written: int = 0
    rows_dropped: int = 0
    batches: int = 0
    screenshots_written: int = 0
    screenshots_dropped: int = 0
    events_created: int = 0
    errors: int = 0
    last_error: str = ""
    last_flush_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DetectionStore:
    def __init__(
        self,
        db: Database,
        screenshots_dir: str | Path,
        *,
        flush_interval: float = 0.5,
        flush_rows: int = 500,
        max_queue: int = 20_000,
        max_screenshots: int = 64,
        jpeg_quality: int = 85,
        save_celsius: bool = False,
        retries: int = 3,
    ) -> None:
        self.db = db
        self.root = Path(screenshots_dir)
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self.jpeg_quality = jpeg_quality
        self.save_celsius = save_celsius
        self.retries = retries
        self.stats = StoreStats()
        self._rows: deque[dict[str, Any]] = deque(maxlen=max_queue)
        self._shots: deque[_Shot] = deque()
        self._max_shots = max_screenshots
        self._events: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._busy = False
        self._failures = 0
        self._thread: threading.Thread | None = None
        self._names: set[str] = set()

    # ----- lifecycle
    def start(self) -> DetectionStore:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="detection-store", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self._write_once()

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued now (synchronously when the thread is not running); True when done."""
        if self._thread is None or not self._thread.is_alive():
            self._write_once()
            return not self.pending()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self.pending() or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.notify_all()
                self._cond.wait(min(left, 0.05))
        return True

    def pending(self) -> int:
        return len(self._rows) + len(self._shots) + len(self._events)

    # ----- producers
    def create_event(self, camera_id: int, label: str, started_at: float | datetime,
                     zones: Sequence[str] | None = None, max_confidence: float = 0.0,
                     max_celsius: float | None = None, max_counts: float | None = None,
                     hint: str | None = None) -> int:
        """Insert an event row now and return its id."""
        with self.db.session() as s:
            row = EventRow(camera_id=camera_id, label=label, started_at=_dt(started_at),
                           max_confidence=float(max_confidence), max_celsius=max_celsius, zones=list(zones or []),
                           max_counts=max_counts, hint=hint)
            s.add(row)
            s.flush()
            eid = row.id
        self.stats.events_created += 1
        return eid

    def update_event(self, event_id: int, **fields: Any) -> None:
        """Queue changes to an event row: ended_at, max_confidence, max_celsius, max_counts, hint,
        snapshot_path, zones, label."""
        allowed = {"ended_at", "max_confidence", "max_celsius", "max_counts", "hint", "snapshot_path", "zones", "label"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update event field(s) {', '.join(sorted(unknown))}")
        if "ended_at" in fields:
            fields["ended_at"] = _dt(fields["ended_at"])
        if "zones" in fields:
            fields["zones"] = list(fields["zones"] or [])
        with self._cond:
            self._events.setdefault(event_id, {}).update(fields)

    def add(self, camera_id: int, rows: Iterable[tuple[float | datetime, Detection, int | None, str | None]]) -> int:
        """Queue detection rows ``(timestamp, detection, event_id, screenshot_rel_path)``; returns how many."""
        n = 0
        with self._cond:
            for ts, d, event_id, shot in rows:
                if len(self._rows) == self._rows.maxlen:
                    self.stats.rows_dropped += 1  # the deque drops the oldest
                b = d.box
                self._rows.append({
                    "camera_id": camera_id, "event_id": event_id, "track_id": d.track_id, "label": d.label,
                    "class_id": d.class_id, "confidence": float(d.confidence),
                    "x1": float(b.x1), "y1": float(b.y1), "x2": float(b.x2), "y2": float(b.y2),
                    "timestamp": _dt(ts), "screenshot_path": shot,
                    "max_celsius": None if d.max_celsius is None else float(d.max_celsius),
                    "mean_celsius": None if d.mean_celsius is None else float(d.mean_celsius),
                    "max_counts": None if d.max_counts is None else float(d.max_counts),
                    "hint": d.extra.get("hint") if isinstance(d.extra, dict) else None,
                })
                n += 1
            if len(self._rows) >= self.flush_rows:
                self._cond.notify_all()
        return n

    def save_screenshot(self, camera_id: int, frame: Frame, detections: Sequence[Detection], *,
                        palette: str = "white-hot", zones: ZoneConfig | None = None) -> str | None:
        """Queue an annotated JPEG of ``frame``; returns its path relative to ``screenshots_dir``
        (None when too many pictures are waiting: it is dropped and counted)."""
        ts = datetime.fromtimestamp(frame.timestamp, UTC)
        folder = f"{camera_id}/{ts:%Y-%m-%d}"
        stem = f"{ts:%H%M%S}_{ts.microsecond // 1000:03d}_{frame.seq}"
        with self._cond:
            if len(self._shots) >= self._max_shots:
                self.stats.screenshots_dropped += 1
                return None
            rel = f"{folder}/{stem}.jpg"
            k = 1
            while rel in self._names or (self.root / rel).exists():
                rel = f"{folder}/{stem}-{k}.jpg"
                k += 1
            self._names.add(rel)
            self._shots.append(_Shot(self.root / rel, rel, frame, list(detections), palette, zones))
            self._cond.notify_all()
        return rel

    # ----- the writer thread
    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._stop and len(self._rows) < self.flush_rows and not self._shots:
                    self._cond.wait(self.flush_interval)
                stop = self._stop
            self._write_once()
            if stop:
                self._write_once()
                return

    def _write_once(self) -> None:
        with self._cond:
            self._busy = True
            shots = list(self._shots)
            self._shots.clear()
        try:
            for shot in shots:
                self._write_shot(shot)
            with self._cond:
                rows = list(self._rows)
                self._rows.clear()
                events = self._events
                self._events = {}
            if rows or events:
                t0 = time.perf_counter()
                try:
                    with self.db.session() as s:
                        if rows:
                            s.execute(insert(DetectionRow), rows)
                        for eid, fields in events.items():
                            s.execute(update(EventRow).where(EventRow.id == eid).values(**fields))
                except Exception as exc:
                    self.stats.errors += 1
                    self.stats.last_error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:300]}"
                    self._failures += 1
                    log.exception("writing %d detection rows failed", len(rows))
                    if self._failures <= self.retries:
                        with self._cond:
                            self._rows.extendleft(reversed(rows))
                            for eid, f in events.items():
                                self._events[eid] = {**f, **self._events.get(eid, {})}
                    else:
                        self.stats.rows_dropped += len(rows)
                        self._failures = 0
                else:
                    self._failures = 0
                    self.stats.rows_written += len(rows)
                    self.stats.batches += 1
                    self.stats.last_flush_ms = round((time.perf_counter() - t0) * 1000, 2)
        finally:
            with self._cond:
                self._busy = False
                for shot in shots:
                    self._names.discard(shot.rel)
                self._cond.notify_all()

    def _write_shot(self, shot: _Shot) -> None:
        try:
            shot.path.parent.mkdir(parents=True, exist_ok=True)
            img = annotate(shot.frame, shot.detections, palette=shot.palette, zones=shot.zones)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg_quality)])
            if not ok:
                raise OSError("JPEG encoding failed")
            tmp = shot.path.with_suffix(".jpg.tmp")
            tmp.write_bytes(buf.tobytes())
            tmp.replace(shot.path)
            if self.save_celsius and shot.frame.celsius is not None:
                c = shot.frame.celsius
                h, w = c.shape
                for i, d in enumerate(shot.detections):
                    x1, y1 = max(0, int(d.box.x1)), max(0, int(d.box.y1))
                    x2, y2 = min(w, int(np.ceil(d.box.x2))), min(h, int(np.ceil(d.box.y2)))
                    if x2 > x1 and y2 > y1:
                        np.save(shot.path.with_name(f"{shot.path.stem}_d{i}.npy"), c[y1:y2, x1:x2].copy())
            self.stats.screenshots_written += 1
        except Exception as exc:
            self.stats.errors += 1
            self.stats.last_error = f"screenshot {shot.rel}: {exc}"
            log.exception("writing screenshot %s failed", shot.rel)


# --------------------------------------------------------------------------- reading


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


def _detection_filters(camera, label, since, until, min_confidence, event_id=None) -> list:
    cams, labels = _ids(camera, "camera"), _labels(label)
    s, u, conf = _dt(since), _dt(until), _check_conf(min_confidence)
    if s is not None and u is not None and s > u:
        raise ValueError("since is after until")
    where = []
    if cams is not None:
        where.append(DetectionRow.camera_id.in_(cams))
    if labels is not None:
        where.append(DetectionRow.label.in_(labels))
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
    cams, labels = _ids(camera, "camera"), _labels(label)
    s, u, conf = _dt(since), _dt(until), _check_conf(min_confidence)
    if s is not None and u is not None and s > u:
        raise ValueError("since is after until")
    where = []
    if cams is not None:
        where.append(EventRow.camera_id.in_(cams))
    if labels is not None:
        where.append(EventRow.label.in_(labels))
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


__all__ = [
    "DATAFRAME_COLUMNS",
    "MAX_LIMIT",
    "DetectionStore",
    "StoreStats",
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


def camera_of(db: Database, *, detection_id: int | None = None, event_id: int | None = None) -> int | None:
    """The camera a detection or an event belongs to (for access checks); None when it does not exist."""
    row, key = (DetectionRow, detection_id) if detection_id is not None else (EventRow, event_id)
    with db.session() as s:
        return s.scalar(select(row.camera_id).where(row.id == key))

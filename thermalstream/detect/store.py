"""Persistence of detections and events, and screenshots on disk (the queries over them: :mod:`.queries`).

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
"""

from __future__ import annotations

import logging
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
from sqlalchemy import insert, update

from thermalstream.db.engine import Database
from thermalstream.db.models import Detection as DetectionRow
from thermalstream.db.models import Event as EventRow
from thermalstream.detect.draw import annotate
from thermalstream.detect.queries import _dt
from thermalstream.detect.types import Detection
from thermalstream.detect.zones import ZoneConfig
from thermalstream.frame import Frame

log = logging.getLogger(__name__)


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

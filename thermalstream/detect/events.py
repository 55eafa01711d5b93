"""Events: one tracked object from its first to its last sighting.

One :class:`EventManager` per camera turns tracked detections (``track_id`` set) into
:class:`TrackedEvent` objects and calls back:

* ``on_start(event)``: the track was seen ``min_hits`` times and for ``min_duration_s`` seconds
  (a blip never becomes an event; its detections so far are kept and stored with the event). Called exactly once per event; the service creates the database row here.
* ``on_notify(event)``: exactly once per event, at start, or, when the camera has *required*
  zones that apply to the event's label, the first time the object's bottom-centre is inside
  one of them. An event whose object never enters a required zone never notifies.
* ``on_snapshot(event, frame, detections) -> str | None``: save the frame as the event's best
  snapshot (highest confidence so far); at most once per ``snapshot_interval`` seconds per
  event, and once more at the end if a better frame came during the wait. Returns the
  screenshot's path, which becomes ``event.snapshot_path``.
* ``on_update(event)``: an announced (notified) event changed what it says: a new zone entered,
  its peak temperature up by a whole degree, another size hint; at most once per
  ``snapshot_interval`` seconds per event (a better snapshot is announced by the service itself).
* ``on_end(event)``: the object was not seen for ``close_after`` seconds (see :meth:`tick`);
  ``ended_at`` is its last sighting.

Times are the frames' capture timestamps (epoch seconds). The box path is kept in memory
(``event.path``, decimated to ``max_path`` points); in the database it is the event's detection
rows (``queries.event_path``).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from thermalstream.detect.types import TIME_EPS_S, Detection, box_temperatures
from thermalstream.detect.zones import ZoneConfig
from thermalstream.frame import Frame

log = logging.getLogger(__name__)


@dataclass(eq=False)
class TrackedEvent:
    camera_id: Any
    track_id: int
    label: str
    started_at: float
    last_seen: float
    ended_at: float | None = None
    hits: int = 0
    max_confidence: float = 0.0
    max_celsius: float | None = None
    max_counts: float | None = None  # uncalibrated sources: raw sensor counts (never °C)
    hint: str | None = None  # hotspot detector's size hint, the latest one
    zones: list[str] = field(default_factory=list)  # zones entered, in order
    path: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # (t, x1, y1, x2, y2)
    best_frame: Frame | None = field(default=None, repr=False)
    best_detections: list[Detection] = field(default_factory=list, repr=False)
    best_confidence: float = 0.0
    best_ts: float = 0.0
    snapshot_path: str | None = None
    snapshot_ts: float | None = None  # capture time of the frame the snapshot shows
    db_id: int | None = None
    started: bool = False
    notified: bool = False
    _snap_conf: float = field(default=-1.0, repr=False)  # confidence of the saved snapshot
    _snap_at: float = field(default=-1e18, repr=False)
    _told: tuple | None = field(default=None, repr=False)  # what on_notify / on_update last said (see said())
    _told_at: float = field(default=-1e18, repr=False)
    _pending: list[tuple[float, Detection]] = field(default_factory=list, repr=False)

    def said(self) -> tuple:
        """What an announcement of the event says that can change: zones, peak °C in whole degrees, hint."""
        return tuple(self.zones), None if self.max_celsius is None else math.floor(self.max_celsius), self.hint

    @property
    def duration(self) -> float:
        return (self.ended_at if self.ended_at is not None else self.last_seen) - self.started_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.db_id, "camera_id": self.camera_id, "track_id": self.track_id, "label": self.label,
            "started_at": self.started_at, "last_seen": self.last_seen, "ended_at": self.ended_at,
            "hits": self.hits, "max_confidence": round(self.max_confidence, 4),
            "max_celsius": None if self.max_celsius is None else round(self.max_celsius, 2),
            "max_counts": self.max_counts, "hint": self.hint,
            "zones": list(self.zones), "snapshot_path": self.snapshot_path, "notified": self.notified,
        }


class EventDetection(NamedTuple):
    """A detection to persist: its frame's timestamp and its event (None: not part of one)."""

    timestamp: float
    detection: Detection
    event: TrackedEvent | None


class RowThrottle:
    """At most ``per_second`` detection rows per track per second (a row per frame per object is
    far too many): a row is kept when it is the track's first, carries a screenshot, or comes at
    least ``1 / per_second`` seconds after the track's last kept row. Rows without a track are
    limited the same way per label. ``per_second`` None or 0: keep every row."""

    def __init__(self, per_second: float | None = 2.0, forget_after: float = 60.0) -> None:
        self.period = 1.0 / per_second if per_second else 0.0
        self.forget_after = forget_after
        self._last: dict[Any, float] = {}
        self.kept = 0
        self.dropped = 0

    def keep(self, timestamp: float, d: Detection, screenshot: bool = False) -> bool:
        key = ("track", d.track_id) if d.track_id is not None else ("label", d.label)
        last = self._last.get(key)
        if screenshot or last is None or timestamp - last >= self.period - 1e-6 or timestamp < last:
            self._last[key] = timestamp
            self.kept += 1
            if len(self._last) > 1000:  # forget tracks long gone
                self._last = {k: t for k, t in self._last.items() if timestamp - t <= self.forget_after}
            return True
        self.dropped += 1
        return False


class EventManager:
    def __init__(
        self,
        camera_id: Any,
        *,
        zones: ZoneConfig | None = None,
        close_after: float = 5.0,
        min_hits: int = 2,
        snapshot_interval: float = 1.0,
        max_path: int = 600,
        on_start: Callable[[TrackedEvent], None] | None = None,
        on_notify: Callable[[TrackedEvent], None] | None = None,
        on_snapshot: Callable[[TrackedEvent, Frame, list[Detection]], str | None] | None = None,
        on_end: Callable[[TrackedEvent], None] | None = None,
        on_update: Callable[[TrackedEvent], None] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.zones = zones or ZoneConfig()
        self.close_after = close_after
        self.min_hits = max(1, int(min_hits))
        self.min_duration_s = 0.0  # a track must also last this long (the service sets it per detector)
        self.snapshot_interval = snapshot_interval
        self.max_path = max_path
        self.on_start, self.on_notify, self.on_snapshot, self.on_end = on_start, on_notify, on_snapshot, on_end
        self.on_update = on_update
        self._open: dict[int, TrackedEvent] = {}
        self._lock = threading.RLock()
        self.started = 0
        self.ended = 0
        self.notified = 0

    def set_zones(self, zones: ZoneConfig | None) -> None:
        with self._lock:
            self.zones = zones or ZoneConfig()

    def active(self) -> list[TrackedEvent]:
        """Started events that have not ended."""
        with self._lock:
            return [e for e in self._open.values() if e.started]

    # ----- per frame
    def process(self, frame: Frame, detections: list[Detection], timestamp: float | None = None) -> list[EventDetection]:
        """Update events with one frame's tracked detections; returns what to persist (detections
        of started events, including the buffered ones of an event that starts now)."""
        t = frame.timestamp if timestamp is None else timestamp
        h, w = frame.shape
        out: list[EventDetection] = []
        with self._lock:
            self._close_stale(t)
            snapshot_for: list[TrackedEvent] = []
            for d in detections:
                if d.track_id is None:
                    out.append(EventDetection(t, d, None))
                    continue
                ev = self._open.get(d.track_id)
                if ev is None:
                    ev = TrackedEvent(self.camera_id, d.track_id, d.label, t, t)
                    self._open[d.track_id] = ev
                self._sighting(ev, frame, d, detections, t, w, h)
                if not ev.started and ev.hits >= self.min_hits and t - ev.started_at >= self.min_duration_s - TIME_EPS_S:
                    ev.started = True
                    self.started += 1
                    self._call(self.on_start, ev)
                    if ev.best_frame is not None:
                        self._snapshot(ev, ev.best_frame, ev.best_detections, ev.best_ts, t)
                    out.extend(EventDetection(pt, pd, ev) for pt, pd in ev._pending)
                    ev._pending.clear()
                if ev.started:
                    out.append(EventDetection(t, d, ev))
                    if not ev.notified and self._zone_ok(ev):
                        ev.notified = True
                        self.notified += 1
                        ev._told, ev._told_at = ev.said(), t
                        self._call(self.on_notify, ev)
                    elif ev.notified and (said := ev.said()) != ev._told and \
                            t - ev._told_at >= self.snapshot_interval - TIME_EPS_S:
                        ev._told, ev._told_at = said, t
                        self._call(self.on_update, ev)
                    if ev.best_frame is frame and ev.best_confidence > ev._snap_conf and \
                            t - ev._snap_at >= self.snapshot_interval:
                        snapshot_for.append(ev)
                else:
                    ev._pending.append((t, d))
            for ev in snapshot_for:
                self._snapshot(ev, frame, detections, t, t)
        return out

    def tick(self, now: float) -> list[TrackedEvent]:
        """Close events unseen for ``close_after`` seconds at time ``now``; returns the closed ones."""
        with self._lock:
            return self._close_stale(now)

    def close_all(self) -> list[TrackedEvent]:
        """End every open event now (camera stopped, detection switched off, shutdown)."""
        with self._lock:
            return self._close_stale(float("inf"))

    # ----- internals
    def _sighting(self, ev: TrackedEvent, frame: Frame, d: Detection, dets: list[Detection], t: float,
                  w: int, h: int) -> None:
        ev.hits += 1
        ev.last_seen = max(ev.last_seen, t)
        ev.max_confidence = max(ev.max_confidence, d.confidence)
        mx = d.max_celsius
        if mx is None and frame.celsius is not None:
            mx, _ = box_temperatures(frame.celsius, d.box)
        if mx is not None:
            ev.max_celsius = mx if ev.max_celsius is None else max(ev.max_celsius, mx)
        if d.max_counts is not None:
            ev.max_counts = d.max_counts if ev.max_counts is None else max(ev.max_counts, d.max_counts)
        hint = d.extra.get("hint") if isinstance(d.extra, dict) else None
        if hint:
            ev.hint = hint
        b = d.box
        ev.path.append((t, b.x1, b.y1, b.x2, b.y2))
        if len(ev.path) > self.max_path:
            ev.path = ev.path[::2]  # keep the whole path, at half the resolution
        for z in self.zones.zones_of(b, w, h, d.label):
            if z not in ev.zones:
                ev.zones.append(z)
        if d.confidence > ev.best_confidence:
            ev.best_confidence = d.confidence
            ev.best_frame = frame
            ev.best_detections = list(dets)
            ev.best_ts = t

    def _zone_ok(self, ev: TrackedEvent) -> bool:
        required = [z.name for z in self.zones.required_zones if z.applies_to(ev.label)]
        return not required or any(z in ev.zones for z in required)

    def _snapshot(self, ev: TrackedEvent, frame: Frame, dets: list[Detection], frame_ts: float, now: float) -> None:
        ev._snap_conf = ev.best_confidence
        ev._snap_at = now
        if self.on_snapshot is None:
            return
        try:
            path = self.on_snapshot(ev, frame, dets)
        except Exception:
            log.exception("camera %s: snapshot of event %s failed", self.camera_id, ev.db_id)
            return
        if path:
            ev.snapshot_path = path
            ev.snapshot_ts = frame_ts

    def _close_stale(self, now: float) -> list[TrackedEvent]:
        closed = []
        for tid, ev in list(self._open.items()):
            if now - ev.last_seen <= self.close_after:
                continue
            del self._open[tid]
            if not ev.started:
                continue  # a blip: never an event
            ev.ended_at = ev.last_seen
            if ev.best_frame is not None and ev.best_confidence > ev._snap_conf:
                self._snapshot(ev, ev.best_frame, ev.best_detections, ev.best_ts, ev.last_seen)
            ev.best_frame = None  # let the frame go
            ev.best_detections = []
            self.ended += 1
            self._call(self.on_end, ev)
            closed.append(ev)
        return closed

    def _call(self, fn: Callable | None, ev: TrackedEvent) -> None:
        if fn is None:
            return
        try:
            fn(ev)
        except Exception:
            log.exception("camera %s: event callback %s failed", self.camera_id, getattr(fn, "__name__", fn))


__all__ = ["EventDetection", "EventManager", "RowThrottle", "TrackedEvent"]

"""What happens to one detector result of one camera, and the per-camera detection settings.

:func:`handle_frame` takes a result through the camera's :class:`Pipeline`::

    detections ─► fill max/mean °C (radiometric frames) or max counts ─► keep wanted labels, drop
      masked boxes ─► tracker (or the detector's own tracks) ─► events ─► bounded rows to the store
      ─► overlay

:class:`DetectConfig` is a camera's ``settings["detect"]``; :func:`validate_config` checks changes to
it (:class:`DetectionConfigError`, answered 400 by the REST layer). The service that owns the
pipelines, the detector and the store is :class:`thermalstream.detect.service.DetectionService`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from thermalstream.detect.events import EventManager, RowThrottle, TrackedEvent
from thermalstream.detect.motion import MotionGate
from thermalstream.detect.tracking import Tracker
from thermalstream.detect.types import DEFAULT_CLASSES, Detection, box_temperatures
from thermalstream.detect.zones import ZoneConfig
from thermalstream.frame import Frame

if TYPE_CHECKING:
    from thermalstream.detect.service import DetectionService

KNOWN_LABELS = frozenset(DEFAULT_CLASSES.values()) | {"hotspot"}
MAX_FPS = 30.0


class DetectionConfigError(ValueError):
    """Invalid detection settings (the REST layer answers 400)."""


@dataclass(frozen=True)
class DetectConfig:
    """A camera's ``settings["detect"]``."""

    enabled: bool = False
    fps: float = 5.0
    min_confidence: float = 0.5
    labels: tuple[str, ...] | None = None  # None: every label the detector reports
    bypass_gate: bool = False

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None, known_labels: frozenset[str] = KNOWN_LABELS,
                      default_fps: float = 5.0) -> DetectConfig:
        d = (settings or {}).get("detect") or {}
        if not isinstance(d, dict):
            raise DetectionConfigError("settings.detect must be an object")
        return validate_config(d, known_labels, base=cls(fps=default_fps))

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "fps": self.fps, "min_confidence": self.min_confidence,
                "labels": None if self.labels is None else list(self.labels), "bypass_gate": self.bypass_gate}


def validate_config(changes: dict[str, Any], known_labels: frozenset[str] = KNOWN_LABELS,
                    base: DetectConfig | None = None) -> DetectConfig:
    """Apply ``changes`` to ``base`` with checks; raises DetectionConfigError with a clear message."""
    base = base or DetectConfig()
    unknown = set(changes) - {"enabled", "fps", "min_confidence", "labels", "bypass_gate"}
    if unknown:
        raise DetectionConfigError(f"unknown detection setting(s): {', '.join(sorted(unknown))}")
    out = {}
    for key in ("enabled", "bypass_gate"):
        if key in changes:
            if not isinstance(changes[key], bool):
                raise DetectionConfigError(f"{key} must be true or false")
            out[key] = changes[key]
    if "fps" in changes:
        try:
            fps = float(changes["fps"])
        except (TypeError, ValueError):
            raise DetectionConfigError("fps must be a number") from None
        if not 0 < fps <= MAX_FPS:
            raise DetectionConfigError(f"fps must be more than 0 and at most {MAX_FPS:g}")
        out["fps"] = fps
    if "min_confidence" in changes:
        try:
            c = float(changes["min_confidence"])
        except (TypeError, ValueError):
            raise DetectionConfigError("min_confidence must be a number between 0 and 1") from None
        if not 0.0 <= c <= 1.0:
            raise DetectionConfigError(f"min_confidence must be between 0 and 1, got {c:g}")
        out["min_confidence"] = c
    if "labels" in changes:
        labels = changes["labels"]
        if labels is None:
            out["labels"] = None
        else:
            if isinstance(labels, str) or not isinstance(labels, (list, tuple)) or \
                    not all(isinstance(x, str) for x in labels):
                raise DetectionConfigError("labels must be a list of class names")
            bad = [x for x in labels if x not in known_labels]
            if bad:
                raise DetectionConfigError(
                    f"unknown class name(s): {', '.join(bad)}; known: {', '.join(sorted(known_labels))}")
            out["labels"] = tuple(dict.fromkeys(labels))
    return replace(base, **out)


@dataclass
class Pipeline:
    """One camera's detection state: settings, gate, tracker, events, overlay."""

    camera_id: int
    name: str
    config: DetectConfig
    zones: ZoneConfig
    gate: MotionGate
    tracker: Tracker
    events: EventManager
    source: Any = None
    latest: dict[str, Any] | None = None
    detections: list[Detection] = field(default_factory=list)
    latest_at: float = 0.0  # monotonic time of the newest overlay
    rows: RowThrottle = field(default_factory=RowThrottle)
    lock: threading.Lock = field(default_factory=threading.Lock)


def handle_frame(svc: DetectionService, p: Pipeline, frame: Frame, detections: list[Detection]) -> list[Detection]:
    """One detector result through filters, tracker, events, store and overlay; returns the tracked detections."""
    h, w = frame.shape
    cfg = p.config
    kept = []
    for d in detections:
        if cfg.labels is not None and d.label not in cfg.labels:
            continue
        if p.zones.is_masked(d.box, w, h):
            continue
        if frame.celsius is not None and (d.max_celsius is None or d.mean_celsius is None):
            mx, mean = box_temperatures(frame.celsius, d.box)
            d = replace(d, max_celsius=d.max_celsius if d.max_celsius is not None else mx,
                        mean_celsius=d.mean_celsius if d.mean_celsius is not None else mean)
        elif frame.celsius is None and frame.raw is not None and d.max_counts is None:
            d = replace(d, max_counts=box_temperatures(frame.raw.astype(np.float32, copy=False), d.box)[0])
        kept.append(d)
    ts = frame.timestamp
    p.events.min_duration_s = float(getattr(svc.worker.detector, "min_event_s", 0.0) or 0.0)
    if getattr(svc.worker.detector, "tracks_objects", False):
        tracked = [d for d in kept if d.track_id is not None]  # the detector's own (filtered) tracks
    else:
        tracked = p.tracker.update(kept, ts)
    records = p.events.process(frame, tracked, ts)
    rows = []
    touched: dict[int, TrackedEvent] = {}
    for r in records:
        ev = r.event
        shot = ev.snapshot_path if ev is not None and ev.snapshot_ts == r.timestamp else None
        if ev is not None and ev.db_id is not None:
            touched[ev.db_id] = ev
        if p.rows.keep(r.timestamp, r.detection, shot is not None):  # bounded rows per track per second
            rows.append((r.timestamp, r.detection, ev.db_id if ev is not None else None, shot))
    if rows:
        svc.store.add(p.camera_id, rows)
    for eid, ev in touched.items():
        svc.store.update_event(eid, max_confidence=ev.max_confidence, max_celsius=ev.max_celsius,
                               max_counts=ev.max_counts, hint=ev.hint, zones=ev.zones)
    if p.events.active():
        svc.worker.keep_alive(p.camera_id, 1.0)
    svc._publish_overlay(p, frame, tracked, ts)
    return tracked


__all__ = ["KNOWN_LABELS", "MAX_FPS", "DetectConfig", "DetectionConfigError", "Pipeline", "handle_frame",
           "validate_config"]

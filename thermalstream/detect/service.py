"""DetectionService: detection for every camera, glued together.

Per camera (while detection is on for it): a :class:`MotionGate`, a :class:`Tracker`, an
:class:`EventManager` with the camera's masks and zones. Shared: one :class:`DetectorWorker`
(one detector for all cameras) and one :class:`DetectionStore` (batched rows, screenshots).

Pipeline for each detector result (on the worker thread)::

    detections ─► fill max/mean °C (radiometric frames) ─► keep wanted labels, drop masked boxes
      ─► tracker (track ids; ``min_confidence`` starts tracks) ─► events (start, notify, snapshot)
      ─► store rows ─► overlay: ``latest(camera_id)`` and bus topic ``"detections"``

Events: ``on_start`` inserts the event row; ``on_notify`` sends one notification per event through
:class:`NotificationService` (bus topic ``"notification"``) and publishes ``"detection.event"``
(``state`` = ``"start"``); ``on_end`` updates the row and publishes ``state`` = ``"end"``.

Camera settings (``camera.settings``, JSON)::

    "detect": {"enabled": true, "fps": 5, "min_confidence": 0.5, "labels": ["person", "car"],
               "bypass_gate": false}
    "masks": [...], "zones": [...]          (see thermalstream.detect.zones)

The detector comes from ``detector_factory`` (YOLO or hotspots), built on a background thread
so a slow model load or a missing model never blocks start-up; while it is loading, failed or
reports itself unavailable, cameras, the gate, events and the live view keep running and
``status()["detector"]`` says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from thermalstream.bus import Event, EventBus
from thermalstream.capture.manager import CameraManager
from thermalstream.db import Database, repo
from thermalstream.detect.draw import draw_detections, draw_zones, overlay_items
from thermalstream.detect.events import EventManager, RowThrottle, TrackedEvent
from thermalstream.detect.motion import MotionGate
from thermalstream.detect.store import DetectionStore
from thermalstream.detect.tracking import Tracker, make_tracker
from thermalstream.detect.types import DEFAULT_CLASSES, Detection, Detector, DetectorStatus, box_temperatures
from thermalstream.detect.worker import DetectorWorker
from thermalstream.detect.zones import ZoneConfig, parse_masks, parse_zones
from thermalstream.frame import Frame
from thermalstream.notifications import NotificationService

log = logging.getLogger(__name__)

TOPIC_DETECTIONS = "detections"
TOPIC_EVENT = "detection.event"
KNOWN_LABELS = frozenset(DEFAULT_CLASSES.values()) | {"hotspot"}
MAX_FPS = 30.0

DetectorFactory = Callable[[], Detector]


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
class _Pipeline:
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


NO_DETECTOR = ("no detector configured (THERMALSTREAM_DETECTOR=none): set THERMALSTREAM_DETECTOR=hotspot "
               "(weightless) or yolo (with weights) and restart the server")


class DetectionService:
    def __init__(
        self,
        db: Database,
        manager: CameraManager,
        bus: EventBus,
        notifications: NotificationService | None,
        settings: Any,
        detector_factory: DetectorFactory | None = None,
        *,
        store: DetectionStore | None = None,
        default_fps: float = 5.0,
        close_after: float = 5.0,
        min_hits: int = 2,
        tracker: str = "auto",
        save_celsius: bool = False,
        palette: Callable[[int], str] | None = None,
        known_labels: frozenset[str] = KNOWN_LABELS,
        housekeeping_interval: float = 0.5,
        overlay_ttl: float = 1.5,
        rows_per_track_s: float | None = 2.0,
    ) -> None:
        self.db = db
        self.manager = manager
        self.bus = bus
        self.notes = notifications
        self.settings = settings
        self.factory = detector_factory
        self.store = store or DetectionStore(db, settings.screenshots_dir, save_celsius=save_celsius)
        self.default_fps = default_fps
        self.close_after = close_after
        self.min_hits = min_hits
        self.tracker_kind = tracker
        self.known_labels = known_labels
        self.palette = palette or (lambda cid: "inferno")
        self.housekeeping_interval = housekeeping_interval
        self.overlay_ttl = overlay_ttl
        self.rows_per_track_s = rows_per_track_s
        self.worker = DetectorWorker(None, self._on_result, default_fps=default_fps)
        self._pipes: dict[int, _Pipeline] = {}
        self._lock = threading.RLock()
        self._load_status = DetectorStatus(
            "loading" if detector_factory else "unavailable",
            message="" if detector_factory else NO_DETECTOR)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._unsubs: list[Callable[[], None]] = []
        self.events_started = 0
        self.notifications_sent = 0

    # ----- lifecycle
    def start(self, attach_enabled: bool = True) -> DetectionService:
        self._stop.clear()
        self.store.start()
        self.worker.start()
        self._unsubs.append(self.bus.subscribe(self._on_camera_status, "camera.status"))
        self._unsubs.append(self.bus.subscribe(self._on_camera_removed, "camera.removed"))
        if self.factory is not None:
            t = threading.Thread(target=self._load_detector, name="detector-load", daemon=True)
            t.start()
            self._threads.append(t)
        hk = threading.Thread(target=self._housekeeping, name="detection-housekeeping", daemon=True)
        hk.start()
        self._threads.append(hk)
        if attach_enabled:
            self.start_enabled()
        return self

    def shutdown(self, timeout: float = 10.0) -> None:
        """End open events, stop the worker and write everything queued."""
        self._stop.set()
        for u in self._unsubs:
            u()
        self._unsubs.clear()
        self.worker.stop(timeout)
        with self._lock:
            pipes = list(self._pipes.values())
            self._pipes.clear()
        for p in pipes:
            p.events.close_all()
        self.store.close(timeout)
        for t in self._threads:
            t.join(timeout=1.0)
        self._threads.clear()
        det = self.worker.detector
        close = getattr(det, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.debug("detector close failed", exc_info=True)

    def _load_detector(self) -> None:
        try:
            det = self.factory()
        except Exception as exc:
            log.exception("loading the detector failed")
            self._load_status = DetectorStatus("error", message=f"{exc.__class__.__name__}: {exc}")
            return
        self.worker.set_detector(det)
        self._load_status = DetectorStatus("ready", model=getattr(det, "name", ""))

    def set_detector(self, detector: Detector | None) -> None:
        """Use this detector from now on (e.g. after `thermalstream models export`)."""
        self.worker.set_detector(detector)
        self._load_status = DetectorStatus("ready" if detector else "unavailable",
                                           message="" if detector else NO_DETECTOR)

    def detector_status(self) -> DetectorStatus:
        det = self.worker.detector
        if det is None:
            return self._load_status
        try:
            return det.status()
        except Exception as exc:  # noqa: BLE001
            return DetectorStatus("error", message=f"{exc.__class__.__name__}: {exc}")

    def worker_stats(self) -> dict[str, Any]:
        """The detector's counters (``DetectorWorker.stats()``: calls, frames, errors, busy_s, cameras…)."""
        return self.worker.stats()

    # ----- per camera on/off and settings
    def start_enabled(self) -> None:
        """Attach every connected camera whose settings say detection is on."""
        with self.db.session() as s:
            rows = [(c.id, dict(c.settings or {})) for c in repo.list_cameras(s)]
        for cid, settings in rows:
            try:
                cfg = DetectConfig.from_settings(settings, self.known_labels, self.default_fps)
            except ValueError as exc:
                log.warning("camera %s: detection settings ignored: %s", cid, exc)
                continue
            if cfg.enabled and cid in self.manager:
                self._attach(cid, settings)

    def enabled(self, camera_id: int) -> bool:
        return camera_id in self._pipes

    def enable(self, camera_id: int, on: bool = True, *, persist: bool = True) -> dict[str, Any]:
        """Switch detection on or off for a camera (saved in its settings); returns its detect config.
        Raises LookupError for an unknown camera. A camera that is not connected starts detecting
        when it connects."""
        settings = self._update_settings(camera_id, {"enabled": bool(on)}) if persist else self._settings(camera_id)
        if on and camera_id in self.manager:
            self._attach(camera_id, settings)
        elif not on:
            self._detach(camera_id)
        return self.config(camera_id)

    def disable(self, camera_id: int, *, persist: bool = True) -> dict[str, Any]:
        return self.enable(camera_id, False, persist=persist)

    def configure(self, camera_id: int, **changes: Any) -> dict[str, Any]:
        """Change fps, min_confidence, labels, bypass_gate (and enabled); validated, saved, applied."""
        settings = self._update_settings(camera_id, changes)
        cfg = DetectConfig.from_settings(settings, self.known_labels, self.default_fps)
        p = self._pipes.get(camera_id)
        if p is not None:
            if not cfg.enabled:
                self._detach(camera_id)
            else:
                self._apply(p, cfg)
        elif cfg.enabled and camera_id in self.manager:
            self._attach(camera_id, settings)
        return self.config(camera_id)

    def set_zones(self, camera_id: int, *, masks: Any = None, zones: Any = None) -> dict[str, Any]:
        """Replace a camera's masks and/or zones (JSON form, validated); returns both."""
        new: dict[str, Any] = {}
        if masks is not None:
            new["masks"] = [m.to_json() for m in parse_masks(masks)]
        if zones is not None:
            new["zones"] = [z.to_json() for z in parse_zones(zones)]
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise LookupError(f"no camera {camera_id}")
            settings = {**(row.settings or {}), **new}
            repo.update_camera(s, camera_id, settings=settings)
        zc = ZoneConfig.from_settings(settings)
        p = self._pipes.get(camera_id)
        if p is not None:
            p.zones = zc
            p.gate.set_zones(zc)
            p.events.set_zones(zc)
        return zc.to_settings()

    def zones(self, camera_id: int) -> ZoneConfig:
        p = self._pipes.get(camera_id)
        return p.zones if p is not None else ZoneConfig.from_settings(self._settings(camera_id))

    def config(self, camera_id: int) -> dict[str, Any]:
        settings = self._settings(camera_id)
        cfg = DetectConfig.from_settings(settings, self.known_labels, self.default_fps).to_json()
        cfg["active"] = camera_id in self._pipes
        note = getattr(self.worker.detector, "camera_note", None)
        cfg["note"] = note(camera_id) if callable(note) else None  # e.g. why nothing can be detected
        return cfg

    def _settings(self, camera_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise LookupError(f"no camera {camera_id}")
            return dict(row.settings or {})

    def _update_settings(self, camera_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise LookupError(f"no camera {camera_id}")
            settings = dict(row.settings or {})
            current = DetectConfig.from_settings(settings, self.known_labels, self.default_fps)
            cfg = validate_config(changes, self.known_labels, base=current)
            settings["detect"] = cfg.to_json()
            repo.update_camera(s, camera_id, settings=settings)
            return settings

    def _attach(self, camera_id: int, settings: dict[str, Any]) -> None:
        cam = self.manager.get(camera_id)
        if cam is None:
            return
        cfg = DetectConfig.from_settings(settings, self.known_labels, self.default_fps)
        try:
            zc = ZoneConfig.from_settings(settings)
        except ValueError as exc:
            log.warning("camera %s: masks/zones ignored: %s", camera_id, exc)
            zc = ZoneConfig()
        with self._lock:
            old = self._pipes.get(camera_id)
            if old is not None and old.source is cam:
                self._apply(old, cfg)
                return
            if old is not None:
                self._detach(camera_id)
            gate = MotionGate(zones=zc)
            tracker = make_tracker(self.tracker_kind, high=cfg.min_confidence, low=min(0.1, cfg.min_confidence),
                                   max_age_s=max(self.close_after, 1.0), fps=cfg.fps)
            p = _Pipeline(camera_id, cam.name, cfg, zc, gate, tracker, None, cam,  # type: ignore[arg-type]
                          rows=RowThrottle(self.rows_per_track_s))
            p.events = EventManager(
                camera_id, zones=zc, close_after=self.close_after, min_hits=self.min_hits,
                on_start=lambda ev, p=p: self._event_start(p, ev),
                on_notify=lambda ev, p=p: self._event_notify(p, ev),
                on_snapshot=lambda ev, f, d, p=p: self._event_snapshot(p, ev, f, d),
                on_end=lambda ev, p=p: self._event_end(p, ev),
            )
            self._pipes[camera_id] = p
            self.worker.add_camera(camera_id, cam, fps=cfg.fps, gate=gate, bypass_gate=cfg.bypass_gate)
        log.info("camera %s: detection on (%g fps, tracker %s)", camera_id, cfg.fps, tracker.kind)

    def _apply(self, p: _Pipeline, cfg: DetectConfig) -> None:
        p.config = cfg
        self.worker.set_fps(p.camera_id, cfg.fps)
        self.worker.set_bypass(p.camera_id, cfg.bypass_gate)
        tr = p.tracker
        if hasattr(tr, "high"):
            tr.high = cfg.min_confidence

    def _detach(self, camera_id: int) -> None:
        with self._lock:
            p = self._pipes.pop(camera_id, None)
            self.worker.remove_camera(camera_id)
        if p is not None:
            p.events.close_all()
            self._publish_overlay(p, None, [], time.time())
            log.info("camera %s: detection off", camera_id)

    # ----- bus
    def _on_camera_status(self, event: Event) -> None:
        cid = event.data.get("camera_id")
        if not isinstance(cid, int) or self._stop.is_set():
            return
        cam = self.manager.get(cid)
        p = self._pipes.get(cid)
        if cam is None or (p is not None and p.source is cam):
            return
        try:
            settings = self._settings(cid)
            if DetectConfig.from_settings(settings, self.known_labels, self.default_fps).enabled:
                self._attach(cid, settings)  # a reconnected camera is a new Camera object
        except Exception:
            log.exception("camera %s: could not attach detection", cid)

    def _on_camera_removed(self, event: Event) -> None:
        cid = event.data.get("camera_id")
        if cid in self._pipes:
            self._detach(cid)

    # ----- the pipeline (worker thread)
    def _on_result(self, camera_id: int, frame: Frame, detections: list[Detection]) -> None:
        p = self._pipes.get(camera_id)
        if p is None:
            return
        handle_frame(self, p, frame, detections)

    def _event_start(self, p: _Pipeline, ev: TrackedEvent) -> None:
        self.events_started += 1
        try:
            ev.db_id = self.store.create_event(p.camera_id, ev.label, ev.started_at, zones=ev.zones,
                                               max_confidence=ev.max_confidence, max_celsius=ev.max_celsius,
                                               max_counts=ev.max_counts, hint=ev.hint)
        except Exception:
            log.exception("camera %s: could not save event", p.camera_id)

    def _event_snapshot(self, p: _Pipeline, ev: TrackedEvent, frame: Frame, dets: list[Detection]) -> str | None:
        rel = self.store.save_screenshot(p.camera_id, frame, dets, palette=self._palette(p.camera_id), zones=p.zones)
        if rel and ev.db_id is not None:
            self.store.update_event(ev.db_id, snapshot_path=rel)
        if rel and ev.notified:  # a better snapshot of an announced event: integrations get an "update"
            self.bus.publish(TOPIC_EVENT, {**self._event_data(p, ev), "snapshot": True, "state": "update"})
        return rel

    @staticmethod
    def _event_data(p: _Pipeline, ev: TrackedEvent) -> dict[str, Any]:
        return {"kind": "detection", "camera_id": p.camera_id, "event_id": ev.db_id, "label": ev.label,
                "confidence": round(ev.max_confidence, 3),
                "max_celsius": None if ev.max_celsius is None else round(ev.max_celsius, 1),
                "zones": list(ev.zones), "snapshot": ev.snapshot_path is not None, "started_at": ev.started_at}

    def _event_notify(self, p: _Pipeline, ev: TrackedEvent) -> None:
        data = self._event_data(p, ev)
        self.bus.publish(TOPIC_EVENT, {**data, "state": "start"})
        if self.notes is None:
            return
        temp = f", {ev.max_celsius:.1f} °C" if ev.max_celsius is not None else ""
        zone = f" in {', '.join(ev.zones)}" if ev.zones else ""
        self.notes.notify("info", f"{ev.label.capitalize()} detected",
                          f"{p.name}: {ev.label}{zone} ({ev.max_confidence:.0%}{temp})", data=data)
        self.notifications_sent += 1

    def _event_end(self, p: _Pipeline, ev: TrackedEvent) -> None:
        if ev.db_id is not None:
            self.store.update_event(ev.db_id, ended_at=ev.ended_at, max_confidence=ev.max_confidence,
                                    max_celsius=ev.max_celsius, max_counts=ev.max_counts, hint=ev.hint,
                                    zones=ev.zones, snapshot_path=ev.snapshot_path)
        self.bus.publish(TOPIC_EVENT, {"state": "end", "camera_id": p.camera_id, "event_id": ev.db_id,
                                       "label": ev.label, "started_at": ev.started_at, "ended_at": ev.ended_at,
                                       "confidence": round(ev.max_confidence, 3), "zones": list(ev.zones)})

    def _palette(self, camera_id: int) -> str:
        try:
            return self.palette(camera_id)
        except Exception:  # noqa: BLE001
            return "inferno"

    # ----- overlay for the live view
    def _publish_overlay(self, p: _Pipeline, frame: Frame | None, dets: list[Detection], ts: float) -> None:
        h, w = frame.shape if frame is not None else (None, None)
        data = {"camera_id": p.camera_id, "seq": frame.seq if frame is not None else None, "timestamp": ts,
                "width": w, "height": h, "detections": overlay_items(dets)}
        with p.lock:
            p.latest = data
            p.detections = list(dets)
            p.latest_at = time.monotonic()
        self.bus.publish(TOPIC_DETECTIONS, data)

    def latest(self, camera_id: int) -> dict[str, Any] | None:
        """The newest overlay of a camera: ``{camera_id, seq, timestamp, width, height, detections:
        [{label, confidence, track_id, box, max_celsius, colour}]}``; None when detection is off.
        Detections older than ``overlay_ttl`` seconds are not shown."""
        p = self._pipes.get(camera_id)
        if p is None:
            return None
        with p.lock:
            if p.latest is None:
                return {"camera_id": camera_id, "seq": None, "timestamp": None, "width": None, "height": None,
                        "detections": []}
            data = dict(p.latest)
            if time.monotonic() - p.latest_at > self.overlay_ttl:
                data["detections"] = []
            return data

    def overlay(self, camera_id: int, image: np.ndarray) -> np.ndarray:
        """Draw the camera's masks, zones and current boxes onto ``image`` (BGR, the camera's frame
        size) in place and return it; unchanged when detection is off. For the live encoder."""
        p = self._pipes.get(camera_id)
        if p is None:
            return image
        with p.lock:
            dets = list(p.detections)
            fresh = time.monotonic() - p.latest_at <= self.overlay_ttl
        if image.ndim != 3:
            return image
        if p.zones.masks or p.zones.zones:
            draw_zones(image, p.zones)  # masks darkened, zones outlined and named
        if dets and fresh:
            draw_detections(image, dets)
        return image

    # ----- housekeeping
    def _housekeeping(self) -> None:
        while not self._stop.wait(self.housekeeping_interval):
            self.tick(time.time())

    def tick(self, now: float) -> None:
        """Close events unseen for ``close_after`` seconds; clear stale overlays."""
        for p in list(self._pipes.values()):
            try:
                p.events.tick(now)
                with p.lock:
                    stale = p.detections and time.monotonic() - p.latest_at > self.overlay_ttl
                if stale:
                    self._publish_overlay(p, None, [], now)
            except Exception:
                log.exception("camera %s: housekeeping failed", p.camera_id)

    # ----- status
    def status(self) -> dict[str, Any]:
        det = self.detector_status()
        cams = {}
        for cid, p in list(self._pipes.items()):
            slot = self.worker.slot(cid)
            note = getattr(self.worker.detector, "camera_note", None)
            cams[str(cid)] = {
                **p.config.to_json(), "note": note(cid) if callable(note) else None,
                "tracker": p.tracker.kind, "active_events": len(p.events.active()),
                "events_started": p.events.started, "notified": p.events.notified,
                **({} if slot is None else {k: v for k, v in slot.as_dict().items() if k != "camera_id"}),
            }
        return {
            "detector": {"state": det.state, "backend": det.backend, "model": det.model, "message": det.message},
            "worker": {k: v for k, v in self.worker_stats().items() if k != "cameras"},
            "store": self.store.stats.as_dict(),
            "cameras": cams,
            "events_started": self.events_started,
            "notifications": self.notifications_sent,
        }

    def health(self) -> dict[str, Any]:
        """For ``Runtime.health()["model"]``: ``{status, backend, model, detail}``."""
        det = self.detector_status()
        return {"status": det.state, "backend": det.backend, "model": det.model, "detail": det.message,
                "cameras": len(self._pipes)}


def handle_frame(svc: DetectionService, p: _Pipeline, frame: Frame, detections: list[Detection]) -> list[Detection]:
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


__all__ = [
    "KNOWN_LABELS",
    "TOPIC_DETECTIONS",
    "TOPIC_EVENT",
    "DetectConfig",
    "DetectionConfigError",
    "DetectionService",
    "handle_frame",
    "validate_config",
]

"""DetectionService: detection for every camera, glued together.

Per camera (while detection is on for it): a :class:`MotionGate`, a :class:`Tracker`, an
:class:`EventManager` with the camera's masks and zones. Shared: one :class:`DetectorWorker`
(one detector for all cameras) and one :class:`DetectionStore` (batched rows, screenshots).

Pipeline for each detector result (on the worker thread; :func:`.pipeline.handle_frame`)::

    detections ─► fill max/mean °C (radiometric frames) ─► keep wanted labels, drop masked boxes
      ─► tracker (track ids; ``min_confidence`` starts tracks) ─► events (start, notify, snapshot)
      ─► store rows ─► overlay: ``latest(camera_id)`` and bus topic ``"detections"``

Events: ``on_start`` inserts the event row; ``on_notify`` sends one notification per event through
:class:`NotificationService` (bus topic ``"notification"``) and publishes ``"detection.event"``
(``state`` = ``"start"``); a better snapshot, a new zone, a peak up by a degree or a new size hint of an
announced event publish ``state`` = ``"update"``; ``on_end`` updates the row and publishes ``state`` = ``"end"``.

Camera settings (``camera.settings``, JSON)::

    "detect": {"enabled": true, "fps": 5, "min_confidence": 0.5, "labels": ["person", "car"],
               "bypass_gate": false}
    "masks": [...], "zones": [...]          (see thermalstream.detect.zones)

The detector side and reports live in :mod:`.service_status`, the event hooks in :mod:`.service_events`,
the live overlay and housekeeping in :mod:`.service_overlay`.

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
from typing import Any

from thermalstream.bus import Event, EventBus
from thermalstream.capture.manager import CameraManager
from thermalstream.db import Database, repo
from thermalstream.detect.events import EventManager, RowThrottle
from thermalstream.detect.motion import MotionGate
from thermalstream.detect.pipeline import (
    KNOWN_LABELS,
    DetectConfig,
    DetectionConfigError,
    Pipeline,
    handle_frame,
    validate_config,
)
from thermalstream.detect.service_events import TOPIC_EVENT, DetectionEvents
from thermalstream.detect.service_overlay import TOPIC_DETECTIONS, DetectionOverlay
from thermalstream.detect.service_status import NO_DETECTOR, DetectionStatusReport
from thermalstream.detect.store import DetectionStore
from thermalstream.detect.tracking import make_tracker
from thermalstream.detect.types import TOPIC_STATE, Detection, Detector, DetectorStatus
from thermalstream.detect.worker import DetectorWorker
from thermalstream.detect.zones import ZoneConfig, parse_masks, parse_zones
from thermalstream.frame import Frame
from thermalstream.notifications import NotificationService

log = logging.getLogger(__name__)

DetectorFactory = Callable[[], Detector]


class DetectionService(DetectionStatusReport, DetectionEvents, DetectionOverlay):
    """Detection for every camera (mixins: the detector and reports, event hooks, the live overlay)."""

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
        self._pipes: dict[int, Pipeline] = {}
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
        cfg.update(self.camera_detector(camera_id))
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
                self._detach(camera_id, announce=False)  # a reconnected camera: detection goes on
            gate = MotionGate(zones=zc)
            tracker = make_tracker(self.tracker_kind, high=cfg.min_confidence, low=min(0.1, cfg.min_confidence),
                                   max_age_s=max(self.close_after, 1.0), fps=cfg.fps)
            p = Pipeline(camera_id, cam.name, cfg, zc, gate, tracker, None, cam,  # type: ignore[arg-type]
                          rows=RowThrottle(self.rows_per_track_s))
            p.events = EventManager(
                camera_id, zones=zc, close_after=self.close_after, min_hits=self.min_hits,
                on_start=lambda ev, p=p: self._event_start(p, ev),
                on_notify=lambda ev, p=p: self._event_notify(p, ev),
                on_snapshot=lambda ev, f, d, p=p: self._event_snapshot(p, ev, f, d),
                on_end=lambda ev, p=p: self._event_end(p, ev),
                on_update=lambda ev, p=p: self.bus.publish(TOPIC_EVENT, {**self._event_data(p, ev), "state": "update"}),
            )
            self._pipes[camera_id] = p
            self.worker.add_camera(camera_id, cam, fps=cfg.fps, gate=gate, bypass_gate=cfg.bypass_gate)
        log.info("camera %s: detection on (%g fps, tracker %s)", camera_id, cfg.fps, tracker.kind)
        if old is None:
            self._announce(camera_id, True)

    def _apply(self, p: Pipeline, cfg: DetectConfig) -> None:
        p.config = cfg
        self.worker.set_fps(p.camera_id, cfg.fps)
        self.worker.set_bypass(p.camera_id, cfg.bypass_gate)
        tr = p.tracker
        if hasattr(tr, "high"):
            tr.high = cfg.min_confidence

    def _detach(self, camera_id: int, announce: bool = True) -> None:
        with self._lock:
            p = self._pipes.pop(camera_id, None)
            self.worker.remove_camera(camera_id)
        if p is not None:
            p.events.close_all()
            self._publish_overlay(p, None, [], time.time())
            log.info("camera %s: detection off", camera_id)
            if announce:
                self._announce(camera_id, False)

    def _announce(self, camera_id: int, active: bool) -> None:
        """Say on the bus that a camera's detection started or stopped (MQTT retains it)."""
        self.bus.publish(TOPIC_STATE, {"camera_id": camera_id, "active": active})

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


__all__ = [
    "KNOWN_LABELS",
    "NO_DETECTOR",
    "TOPIC_DETECTIONS",
    "TOPIC_EVENT",
    "DetectConfig",
    "DetectionConfigError",
    "DetectionService",
    "handle_frame",
    "validate_config",
]

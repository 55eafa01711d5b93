"""The worker side of the boundary, free of any transport: the cameras one worker runs and their
per-camera services (capture, motion gate and detection, live JPEG once per frame, recording),
on the shared database and data folder. A local process (:mod:`.processes`) or a Ray actor feeds
it messages and sends what it ``emit``s back to the server.

Detection runs here, in the worker, with the configured detector (one per worker: a process
with YOLO loads its own model; the weightless hotspot detector costs nothing). That keeps a
camera's frames inside one process; the price is one model in memory per worker instead of one
shared detector (on Ray, ``THERMALSTREAM_RAY_DETECTORS`` pools them instead: :mod:`.ray_detect`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from thermalstream.bus import Event, EventBus
from thermalstream.cameras import _temperature, spot_temperature
from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.db import Database
from thermalstream.detect.service import DetectionService
from thermalstream.display import DisplaySettings
from thermalstream.live import LiveEncoder
from thermalstream.measure.service import MeasureService
from thermalstream.notifications import NotificationService
from thermalstream.radiometry import RadiometricSource, RadiometrySettings, summary
from thermalstream.record.events import EventRecordingService
from thermalstream.record.service import RecordingService
from thermalstream.sources import make_source
from thermalstream.sources.url import parse_camera_url
from thermalstream.workers.protocol import (
    CameraAssignment,
    EventReport,
    LiveFrame,
    RecordingEnded,
    Report,
    StatsReport,
    StatusReport,
)

log = logging.getLogger(__name__)

FORWARDED = ("notification", "detection.event", "detections", "alarm", "recording",
             "roi.samples")  # bus topics the server republishes
STATS_INTERVAL_S = 0.5


@dataclass
class _Cam:
    """What the worker keeps per camera besides the Camera itself."""

    assignment: CameraAssignment
    palette: str
    display: DisplaySettings
    radiometry: RadiometrySettings
    encoder: LiveEncoder | None = None
    unlisten: Callable[[], None] | None = None
    recording_id: int | None = None
    statuses: int = 0  # status changes so far: a delayed "live" is not sent after a newer status


class WorkerCore:
    """Runs the cameras assigned to one worker; every report goes to ``emit`` (any thread)."""

    def __init__(self, settings: Settings, worker_id: str, emit: Callable[[Report], None],
                 detector_factory: Callable[[], Any] | None = None) -> None:
        """``detector_factory``: the detector to use (the Ray pool's); default: the configured one."""
        from thermalstream.runtime import make_detector_factory, recording_config

        cv2.setNumThreads(settings.opencv_pool)  # as in the server
        self.settings = settings
        self.worker_id = worker_id
        self.emit = emit
        self.db = Database.create(settings, migrate=False)  # the server migrated it
        self.bus = EventBus()
        self.manager = CameraManager(self.bus, worker_id=worker_id, stall_s=settings.stall_timeout_s)
        self.notes = NotificationService(self.db, self.bus)
        self.recordings = RecordingService(self.db, self.manager, self.notes, settings,
                                           config=recording_config(settings))
        self.detection = DetectionService(self.db, self.manager, self.bus, self.notes, settings,
                                          detector_factory or make_detector_factory(settings), palette=self.palette)
        self._cams: dict[int, _Cam] = {}
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._stats_lock = threading.Lock()  # one StatsReport read and sent at a time
        self._stop = threading.Event()
        self.measure = _WorkerMeasure(self.db, self.manager, self.bus, self.notes, sample_hz=settings.roi_sample_hz,
                                      raw_days=settings.roi_raw_retention_days,
                                      minute_days=settings.roi_minute_retention_days, detection=self.detection,
                                      camera_name=self._name)
        self.measure.owned = self.camera_ids
        self.events = _WorkerEvents(self.recordings, self.manager, self.bus, self.detection)
        self.events.buffer_for.append(self.measure.records_alarms)
        self.bus.subscribe(self._on_status, "camera.status")
        for topic in FORWARDED:
            self.bus.subscribe(self._forward, topic)
        self.detection.start(attach_enabled=False)  # cameras attach when they go live (their settings say)
        self.measure.start()
        self.events.start()
        self._stats = threading.Thread(target=self._stats_loop, name="worker-stats", daemon=True)
        self._stats.start()

    # ----- the server's messages
    def assign(self, a: CameraAssignment) -> None:
        """Start a camera (KeyError when this worker runs it already)."""
        state = _Cam(a, a.settings.get("palette", "inferno"),
                     DisplaySettings.model_validate(a.settings.get("display") or {}),
                     RadiometrySettings.model_validate(a.radiometry or {}))
        with self._lock:
            if a.camera_id in self._cams:
                raise KeyError(f"camera {a.camera_id} already runs on worker {self.worker_id}")
            self._cams[a.camera_id] = state
        factory = lambda url, s=state: RadiometricSource(make_source(url), lambda: s.radiometry)  # noqa: E731
        try:
            self.manager.add(a.camera_id, parse_camera_url(a.url, must_exist=False), a.name, source_factory=factory)
        except Exception:
            with self._lock:
                self._cams.pop(a.camera_id, None)
            raise
        self.measure.reload(a.camera_id)
        if a.live:
            self.set_live(a.camera_id, True)

    def unassign(self, camera_id: int) -> None:
        """Stop a camera: its recording is closed (on the bus's camera.removed), then capture stops."""
        with self._lock:
            state = self._cams.pop(camera_id, None)
        if state is None:
            return
        self._stop_live(state)
        if camera_id in self.manager:
            self.manager.remove(camera_id)
        self.bus.publish("camera.removed", {"camera_id": camera_id})
        self._ended(camera_id, state)

    def command(self, camera_id: int, name: str, args: dict[str, Any]) -> Any:
        """Apply one command (see protocol.COMMANDS); its result is the Reply's value."""
        state = self._state(camera_id)
        if name == "record.start":
            row = self.recordings.start(camera_id, scheduled=bool(args.get("scheduled")),
                                        schedule_id=args.get("schedule_id"))
            state.recording_id = row["id"]
            return row
        if name == "record.stop":
            row = self.recordings.stop(camera_id)
            self._ended(camera_id, state)
            return row
        if name == "live":
            return self.set_live(camera_id, bool(args.get("on")))
        if name == "detect":
            return self._detect(camera_id, args.get("settings"), bool(args.get("zones")))
        if name == "snapshot":
            return self._snapshot(camera_id)
        if name == "temperature":
            cam = self.manager.get(camera_id)
            return spot_temperature(cam.latest() if cam is not None else None, float(args["x"]), float(args["y"]))
        if name == "display":
            state.display = DisplaySettings.model_validate(args.get("display") or {})
        elif name == "palette":
            state.palette = str(args["palette"])
        elif name == "radiometry":
            state.radiometry = RadiometrySettings.model_validate(args.get("radiometry") or {})
        elif name == "rename":
            cam = self.manager.get(camera_id)
            if cam is not None:
                cam.name = str(args["name"])
        elif name == "rois":
            self.measure.reload(camera_id)
        elif name == "record_mode":
            self.events.refresh()
        else:
            raise ValueError(f"unknown worker command {name!r}")
        return None

    def stop(self) -> None:
        """Close every recording, stop detection and every camera."""
        self._stop.set()
        with self._lock:
            states = list(self._cams.values())
        for s in states:
            self._stop_live(s)
        self.measure.shutdown()
        self.detection.shutdown()  # ends open events: event recordings get their "end"
        self.events.shutdown()
        self.recordings.shutdown()
        self.manager.stop_all()
        self.db.dispose()

    def camera_ids(self) -> list[int]:
        with self._lock:
            return list(self._cams)

    # ----- live pictures
    def _name(self, camera_id: int) -> str:
        cam = self.manager.get(camera_id)
        return cam.name if cam is not None else f"camera {camera_id}"

    def palette(self, camera_id: int) -> str:
        state = self._cams.get(camera_id)
        return state.palette if state is not None else "inferno"

    def set_live(self, camera_id: int, on: bool) -> bool:
        """Encode JPEGs for viewers while ``on`` (the encoder stops by itself 5 s after ``off``)."""
        state = self._state(camera_id)
        if not on:
            self._stop_live(state)
            return False
        enc = self._encoder(camera_id, state)
        if enc is None or state.unlisten is not None:
            return state.unlisten is not None
        state.unlisten = enc.add_listener(
            lambda ef, c=camera_id, e=enc: self.emit(LiveFrame.make(c, ef.seq, ef.timestamp, ef.jpeg, e.display.scale)))
        return True

    def _encoder(self, camera_id: int, state: _Cam) -> LiveEncoder | None:
        """The camera's one LiveEncoder (palette, display settings and detections of this worker)."""
        cam = self.manager.get(camera_id)
        if cam is None:
            return None
        enc = state.encoder
        if enc is None or enc.camera is not cam:
            enc = LiveEncoder(cam, quality=self.settings.jpeg_quality, max_fps=self.settings.live_fps,
                              palette=lambda s=state: s.palette, display=lambda s=state: s.display,
                              annotate=lambda image, c=camera_id: self._annotate(c, image))
            state.encoder = enc
        return enc

    def _snapshot(self, camera_id: int) -> tuple | None:
        enc = self._encoder(camera_id, self._state(camera_id))
        ef = enc.snapshot() if enc is not None else None
        return None if ef is None else (ef.seq, ef.timestamp, ef.jpeg, enc.display.scale)

    def _stop_live(self, state: _Cam) -> None:
        unlisten, state.unlisten = state.unlisten, None
        if unlisten is not None:
            unlisten()

    def _annotate(self, camera_id: int, image: np.ndarray) -> np.ndarray:
        if not self.detection.enabled(camera_id):
            return image
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
        return self.detection.overlay(camera_id, bgr)

    # ----- detection
    def _detect(self, camera_id: int, settings: dict[str, Any] | None, zones: bool = False) -> bool:
        """Detection off (None), or on with the settings the server saved; ``zones``: its masks and
        zones changed (applied to the running pipeline, as set_zones does in-process)."""
        if settings is None:
            self.detection.disable(camera_id, persist=False)
            return False
        self.detection._attach(camera_id, settings)  # noqa: SLF001 - settings as the server saved them
        if zones and self.detection.enabled(camera_id):
            self.detection.set_zones(camera_id, masks=settings.get("masks") or [], zones=settings.get("zones") or [])
        return self.detection.enabled(camera_id)

    # ----- reports
    def _state(self, camera_id: int) -> _Cam:
        state = self._cams.get(camera_id)
        if state is None:
            raise LookupError(f"camera {camera_id} does not run on worker {self.worker_id}")
        return state

    def _on_status(self, event: Event) -> None:
        cid, status = event.data.get("camera_id"), event.data["status"]
        cam, state = self.manager.get(cid), self._cams.get(cid)
        info = cam.info if cam is not None else None
        report = StatusReport(cid, status, event.data.get("reason") or "", None if info is None else {
            "width": info.width, "height": info.height, "radiometric": bool(info.radiometric), "fps": info.fps,
            "kind": info.kind})
        with self._status_lock:
            if state is not None:
                state.statuses += 1
            if status != "live" or cam is None or state is None:
                self.emit(report)
                return
        threading.Thread(target=self._announce_live, args=(cam, state, report, state.statuses), daemon=True,
                         name=f"live-{cid}").start()

    def _announce_live(self, cam, state: _Cam, report: StatusReport, serial: int) -> None:
        """"live" goes out after the camera's first stats (fps, temperature range of its first frame),
        so whoever sees it live also sees its values, as in-process."""
        cam.wait_frame(-1, 2.0)
        with self._stats_lock:
            self._stats_of(report.camera_id, state, self.recordings.recorder_stats(),
                           asdict(self.detection.detector_status()), self._counters())
        with self._status_lock:
            if state.statuses == serial:
                self.emit(report)

    def _forward(self, event: Event) -> None:
        self.emit(EventReport(event.topic, dict(event.data), event.user_id))

    def _ended(self, camera_id: int, state: _Cam) -> None:
        rid, state.recording_id = state.recording_id, None
        if rid is not None:
            self.emit(RecordingEnded(camera_id, rid))

    def _stats_loop(self) -> None:
        while not self._stop.wait(STATS_INTERVAL_S):
            try:
                self._send_stats()
            except Exception:  # noqa: BLE001 - counters must never stop the worker
                log.exception("worker %s: stats failed", self.worker_id)

    def _send_stats(self) -> None:
        with self._stats_lock:  # read and sent in order: the server never sees a counter go back
            recorders = self.recordings.recorder_stats()
            detector = asdict(self.detection.detector_status())
            counters = self._counters()
            with self._lock:
                states = dict(self._cams)
            for cid, state in states.items():
                self._stats_of(cid, state, recorders, detector, counters)

    def _counters(self) -> dict[str, Any]:
        """This worker's totals for the server's /metrics: its detector's counters and its queues."""
        out = {k: v for k, v in self.detection.worker.stats().items() if k != "cameras"}
        out.update(store_pending=self.detection.store.pending(), notifications_unsaved=len(self.notes.pending))
        return out

    def _stats_of(self, cid: int, state: _Cam, recorders: dict[int, dict], detector: dict,
                  counters: dict[str, Any]) -> None:
        cam = self.manager.get(cid)
        if cam is not None:
            if state.recording_id is not None and cid not in recorders:
                self._ended(cid, state)  # finished by itself (disk full, error)
            frame = cam.latest()
            rec = recorders.get(cid)
            slot = self.detection.worker.slot(cid)
            self.emit(StatsReport(cid, cam.stats().as_dict(), temperature=_temperature(frame),
                                  temperature_unit=summary(frame)["temperature_unit"],
                                  recording=None if rec is None else {**rec, "recording_id": state.recording_id},
                                  detection=self.detection.latest(cid), detector=detector,
                                  measure=self.measure.live(cid), events=self.events.info(cid),
                                  slot=None if slot is None else slot.as_dict(), counters=counters,
                                  detect_state=self.detection.camera_status(cid)))


class _WorkerMeasure(MeasureService):
    """ROI measurement of this worker's cameras only (``owned()``): reloaded when one is assigned."""

    owned: Callable[[], list[int]] = staticmethod(list)

    def reload(self, camera_id: int) -> None:
        if camera_id in self.owned():
            super().reload(camera_id)


class _WorkerEvents(EventRecordingService):
    """Record-on-events for this worker's cameras. The server clears the shared pre-capture buffer
    folder when it starts; a worker starting later must not delete its siblings' buffers."""

    def _clear_buffer_root(self) -> None:
        pass

    def refresh(self) -> None:
        """Re-read the cameras' modes now (the server saved a change)."""
        self._next_refresh = 0.0
        self._q.put(("wake",))

"""The runtime: everything a server (or a capture worker) owns, wired together, with no Panel in it."""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

from thermalstream import __version__
from thermalstream.alerts import AlertMailer
from thermalstream.auth import Auth
from thermalstream.auth.service import public_url
from thermalstream.bus import EventBus
from thermalstream.cameras import CameraNotFound, CameraService
from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.datasets.jobs import ExportService
from thermalstream.db import Database
from thermalstream.db.outage import log_failure
from thermalstream.detect.service import DetectionService
from thermalstream.detect.types import Detector
from thermalstream.display import DisplayStore
from thermalstream.integrations.mqtt import MqttBridge
from thermalstream.integrations.webhooks import Options as WebhookOptions
from thermalstream.integrations.webhooks import WebhookService, owner_visibility
from thermalstream.live import LiveEncoder
from thermalstream.measure.service import MeasureService
from thermalstream.notifications import NotificationService
from thermalstream.record.events import EventRecordingService
from thermalstream.record.radiometric import RadiometricOptions
from thermalstream.record.service import RecordingConfig, RecordingService
from thermalstream.record.video import VideoOptions
from thermalstream.schedules import ScheduleService
from thermalstream.storage import CleanupJob, RetentionPolicy, sample_storage
from thermalstream.storage.private import protect_data_dir
from thermalstream.workers.wiring import Wiring, connect, wiring

log = logging.getLogger(__name__)


def recording_config(settings: Settings) -> RecordingConfig:
    """The recorder's options from the ``THERMALSTREAM_RECORD_*`` settings."""
    return RecordingConfig(
        segment_seconds=settings.record_segment_seconds,
        video=VideoOptions(preset=settings.record_preset, crf=settings.record_crf, container=settings.record_container),
        radiometric=settings.record_radiometric,
        radiometric_options=RadiometricOptions(compression=settings.record_h5_compression),
        reserve_bytes=settings.record_reserve_mb * 1024 * 1024,
    )


def cli_command() -> str:
    """A `thermalstream` command that works from the current folder: the bare name when it is on
    PATH, else the script beside this Python (``.venv/bin/thermalstream``), else ``python -m``."""
    script = Path(sys.executable).parent / "thermalstream"
    found = shutil.which("thermalstream")
    if found and script.exists() and Path(found).resolve() == script.resolve():
        return "thermalstream"
    if script.exists():
        try:
            shown = str(script.relative_to(Path.cwd()))
        except ValueError:
            shown = str(script)
        return shlex.quote(shown)
    return f"{shlex.quote(sys.executable)} -m thermalstream"


def make_detector_factory(settings: Settings) -> Callable[[], Detector] | None:
    """The configured detector, built lazily on the detection service's loader thread."""
    if settings.detector == "none":
        return None
    if settings.detector == "hotspot":
        from thermalstream.detect.hotspot import HotspotDetector

        return lambda: HotspotDetector(threshold_c=settings.hotspot_threshold_c, delta_c=settings.hotspot_delta_c)

    def yolo() -> Detector:
        from thermalstream.detect.yolo import YoloDetector

        return YoloDetector.from_settings(settings, backend=settings.detect_backend, device=settings.detect_device,
                                          conf=settings.detect_conf)

    return yolo


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: EventBus
    manager: CameraManager
    notifications: NotificationService
    cameras: CameraService
    recordings: RecordingService
    schedules: ScheduleService
    detection: DetectionService
    cleanup: CleanupJob
    auth: Auth
    alerts: AlertMailer | None = None
    event_recordings: EventRecordingService | None = None  # record-on-events buffers (after detection)
    exports: ExportService | None = None  # background exports (CSV/Parquet/NetCDF/HDF5)
    measure: MeasureService | None = None  # ROI statistics, series and alarms
    display: DisplayStore | None = None  # per-camera level/span, isotherm, markers
    workers: Wiring = field(default_factory=Wiring)  # where cameras run (THERMALSTREAM_WORKERS)
    webhooks: WebhookService | None = None  # signed JSON POSTs of bus events (docs/webhooks.md)
    mqtt: MqttBridge | None = None  # MQTT / Home Assistant (off unless THERMALSTREAM_MQTT_URL is set)
    started_at: float = field(default_factory=time.time)
    version: str = __version__
    _encoders: dict[int, LiveEncoder] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, settings: Settings | None = None) -> "Runtime":
        """Open (and migrate) the database and build the services; cameras start with ``start()``."""
        settings = settings or Settings()
        cv2.setNumThreads(settings.opencv_pool)
        protect_data_dir(settings.data_dir)  # 0700/0600, before any file is made
        settings.ensure_dirs()
        db = Database.create(settings)
        bus = EventBus()
        manager = CameraManager(bus, stall_s=settings.stall_timeout_s)
        notes = NotificationService(db, bus)
        workers = wiring(settings, manager)
        cams = CameraService(db, manager, notes, settings, workers=workers.backend)
        recs = workers.recordings(db, manager, notes, settings, config=recording_config(settings))
        recs.reconcile()  # close what a crash left "recording" before anything records again
        schedules = ScheduleService(db, recs, notes, notify_success=False)
        detection = workers.detection(db, manager, bus, notes, settings,
                                      None if workers.remote else make_detector_factory(settings), palette=cams.palette)
        cleanup = CleanupJob(db, settings.recordings_dir, RetentionPolicy.from_settings(settings),
                             notifications=notes, thumbnails_dir=settings.data_dir / "thumbnails")
        auth = Auth.from_settings(db, settings)
        alerts = AlertMailer(bus, auth.users, auth.mailer, cams, public_url(settings))
        rt = cls(settings, db, bus, manager, notes, cams, recs, schedules, detection, cleanup, auth, alerts)
        manager.bus.subscribe(rt._forget_encoder, "camera.removed")
        auth.users.listeners.append(lambda uid: bus.publish("user.sessions", {"user_id": uid}, user_id=uid))
        rt.event_recordings = workers.events(recs, manager, bus, detection)
        rt.exports = ExportService(db, settings.recordings_dir, settings.data_dir / "exports", notes)
        rt.measure = workers.measure(db, manager, bus, notes, sample_hz=settings.roi_sample_hz,
                                     raw_days=settings.roi_raw_retention_days,
                                     minute_days=settings.roi_minute_retention_days, detection=detection,
                                     camera_name=lambda cid: cams.get(cid)["name"])
        rt.event_recordings.buffer_for.append(rt.measure.records_alarms)
        rt.display = workers.display(db)
        rt.workers = workers
        connect(workers, recs, detection, rt.display, rt.measure, rt.event_recordings)
        rt.webhooks = WebhookService(db, bus, WebhookOptions.from_settings(settings),
                                     owner_visibility(auth.users, cams)).start()  # queues from now on
        rt.mqtt = MqttBridge(settings, bus, cams, detection, recs, auth.tokens, __version__,
                             users=auth.users)  # listens from now on
        return rt

    def start(self) -> "Runtime":
        """Make sure an admin exists, add the default camera to an empty database, then connect
        every enabled camera and start detection, schedules and storage jobs."""
        created, one_time = self.auth.users.ensure_admin(self.settings.admin_password)
        if one_time:
            print(f"\nFirst start: created user 'admin' with the one-time password: {one_time}\n"
                  "Log in and change it. Lost it? Run: "
                  f"{cli_command()} users reset-password admin\n", flush=True)
        elif created:
            log.info("created the admin user from THERMALSTREAM_ADMIN_PASSWORD")
        self.cameras.archive_orphan_media()  # files of cameras deleted earlier: no later camera may own them
        self.cameras.workers.start()  # worker processes (or Ray actors); nothing for in-process
        if self.settings.default_camera and not self.cameras.list():
            self.cameras.connect(self.settings.default_camera, "Simulated thermal camera")
        if self.mqtt is not None:
            self.mqtt.start()  # connects in the background; never blocks start-up
        self.cameras.start_enabled()
        self.detection.start()
        if self.event_recordings is not None:
            self.event_recordings.start()  # pre-capture buffers for cameras in "events" mode
        if self.measure is not None:
            self.measure.start()  # ROIs and alarm rules of every camera
        self.schedules.start()  # catches up on windows that opened while the server was down
        self.schedules.add_interval_job("storage-cleanup", self.cleanup.run, seconds=self.settings.cleanup_interval_s)
        self.schedules.add_interval_job("storage-sample", self.sample_storage,
                                        seconds=self.settings.storage_sample_interval_s)
        return self

    def sample_storage(self) -> None:
        try:
            sample_storage(self.db, self.settings)
        except Exception:  # noqa: BLE001 - a sampling hiccup must not stop the scheduler
            log_failure(log, "storage sampling failed")

    def shutdown(self) -> None:
        with self._lock:
            encoders = list(self._encoders.values())
            self._encoders.clear()
        for enc in encoders:
            enc.stop()
        self.schedules.shutdown()
        if self.webhooks is not None:
            self.webhooks.shutdown()
        if self.measure is not None:
            self.measure.shutdown()
        self.detection.shutdown()  # ends open events: event recordings get their "end"
        if self.event_recordings is not None:
            self.event_recordings.shutdown()
        if self.alerts is not None:
            self.alerts.close()
        if self.exports is not None:
            self.exports.shutdown()
        self.auth.close()
        self.recordings.shutdown()
        self.manager.stop_all()
        if self.workers.remote:
            self.cameras.workers.stop()
        if self.mqtt is not None:
            self.mqtt.stop()  # after the cameras: their last status goes out, then "offline"
        self.db.dispose()

    def encoder(self, camera_id: int) -> LiveEncoder:
        """The shared live encoder of a connected camera; raises CameraNotFound."""
        cam = self.manager.get(camera_id)
        if cam is None:
            raise CameraNotFound(f"camera {camera_id} is not connected")
        if getattr(cam, "remote", False):
            return cam.encoder  # pictures come encoded from the camera's worker
        with self._lock:
            enc = self._encoders.get(camera_id)
            if enc is None or enc.camera is not cam:
                enc = LiveEncoder(
                    cam,
                    quality=self.settings.jpeg_quality,
                    max_fps=self.settings.live_fps,
                    palette=lambda: self.cameras.palette(camera_id),
                    annotate=lambda image: self._annotate(camera_id, image),
                    display=lambda: self.display.get(camera_id),
                )
                self._encoders[camera_id] = enc
            return enc

    def _annotate(self, camera_id: int, image: np.ndarray) -> np.ndarray:
        """Live view only: a copy of ``image`` with the camera's current detections drawn on it."""
        if not self.detection.enabled(camera_id):
            return image
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
        return self.detection.overlay(camera_id, bgr)

    def _forget_encoder(self, event) -> None:
        with self._lock:
            enc = self._encoders.pop(event.data.get("camera_id"), None)
        if enc is not None:
            enc.stop()
        if self.display is not None:
            self.display.forget(event.data.get("camera_id"))

    def origin_allowed(self, origin: str, host: str) -> bool:
        """WebSocket origin check: same host as the request (no cross-site video hijacking)."""
        try:
            return urlsplit(origin).netloc == host
        except ValueError:
            return False

    def health(self) -> dict:
        """The health report; ``status`` is "unavailable" (with a ``reason``) while the database is out."""
        if self.db.ping() is not None:
            return {"status": "unavailable", "reason": "the database is unreachable", "version": self.version,
                    "uptime_s": round(time.time() - self.started_at, 1), "database": self.db.dialect}
        return {
            "status": "ok",
            "version": self.version,
            "uptime_s": round(time.time() - self.started_at, 1),
            "model": self.detection.health(),
            "cameras": {"configured": len(self.manager), "active": self.manager.active_count()},
            "recordings": {"active": len(self.recordings.active()) + (
                self.event_recordings.active_count() if self.event_recordings is not None else 0)},
            "database": self.db.dialect,
            "integrations": {"mqtt": self.mqtt.health() if self.mqtt is not None else {"state": "off"},
                             "webhooks": self.webhooks.stats() if self.webhooks is not None else {"state": "off"}},
            "workers": self.cameras.workers.health(),  # backend, live workers and their cameras
        }

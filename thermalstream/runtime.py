"""The runtime: everything a server (or a capture worker) owns, wired together, with no Panel in it."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from thermalstream import __version__
from thermalstream.bus import EventBus
from thermalstream.cameras import CameraNotFound, CameraService
from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.db import Database
from thermalstream.live import LiveEncoder
from thermalstream.notifications import NotificationService
from thermalstream.record.radiometric import RadiometricOptions
from thermalstream.record.service import RecordingConfig, RecordingService
from thermalstream.record.video import VideoOptions

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


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: EventBus
    manager: CameraManager
    notifications: NotificationService
    cameras: CameraService
    recordings: RecordingService
    started_at: float = field(default_factory=time.time)
    version: str = __version__
    _encoders: dict[int, LiveEncoder] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, settings: Settings | None = None) -> "Runtime":
        """Open (and migrate) the database and build the services; cameras start with ``start()``."""
        settings = settings or Settings()
        settings.ensure_dirs()
        db = Database.create(settings)
        bus = EventBus()
        manager = CameraManager(bus)
        notes = NotificationService(db, bus)
        cams = CameraService(db, manager, notes)
        recs = RecordingService(db, manager, notes, settings, config=recording_config(settings))
        recs.reconcile()  # close what a crash left "recording" before anything records again
        rt = cls(settings, db, bus, manager, notes, cams, recs)
        manager.bus.subscribe(rt._forget_encoder, "camera.removed")
        return rt

    def start(self) -> "Runtime":
        """Add the default camera to an empty database, then connect every enabled camera."""
        if self.settings.default_camera and not self.cameras.list():
            self.cameras.connect(self.settings.default_camera, "Simulated thermal camera")
        self.cameras.start_enabled()
        return self

    def shutdown(self) -> None:
        with self._lock:
            encoders = list(self._encoders.values())
            self._encoders.clear()
        for enc in encoders:
            enc.stop()
        self.recordings.shutdown()
        self.manager.stop_all()
        self.db.dispose()

    def encoder(self, camera_id: int) -> LiveEncoder:
        """The shared live encoder of a connected camera; raises CameraNotFound."""
        cam = self.manager.get(camera_id)
        if cam is None:
            raise CameraNotFound(f"camera {camera_id} is not connected")
        with self._lock:
            enc = self._encoders.get(camera_id)
            if enc is None or enc.camera is not cam:
                enc = LiveEncoder(
                    cam,
                    quality=self.settings.jpeg_quality,
                    max_fps=self.settings.live_fps,
                    palette=lambda: self.cameras.palette(camera_id),
                )
                self._encoders[camera_id] = enc
            return enc

    def _forget_encoder(self, event) -> None:
        with self._lock:
            enc = self._encoders.pop(event.data.get("camera_id"), None)
        if enc is not None:
            enc.stop()

    def origin_allowed(self, origin: str, host: str) -> bool:
        """WebSocket origin check: same host as the request (no cross-site video hijacking)."""
        try:
            return urlsplit(origin).netloc == host
        except ValueError:
            return False

    def health(self) -> dict:
        return {
            "status": "ok",
            "version": self.version,
            "uptime_s": round(time.time() - self.started_at, 1),
            "model": {"status": "not configured", "detail": "object detection arrives with the detection feature"},
            "cameras": {"configured": len(self.manager), "active": self.manager.active_count()},
            "recordings": {"active": len(self.recordings.active())},
            "database": self.db.dialect,
        }

"""The camera manager: the cameras owned by one capture worker.

Nothing here is global. A server makes one manager; later, capture workers on several
machines each make their own, own the cameras whose ``worker_id`` is theirs, and publish
frames and status through a broker instead of the in-process bus.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from thermalstream.bus import EventBus
from thermalstream.capture.camera import DEFAULT_STALL_S, Camera, CameraStatus
from thermalstream.sources.url import CameraURL

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class CameraManager:
    def __init__(self, bus: EventBus | None = None, worker_id: str | None = None,
                 stall_s: float | None = DEFAULT_STALL_S) -> None:
        self.bus = bus or EventBus()
        self.worker_id = worker_id or default_worker_id()
        self.stall_s = stall_s  # the cameras' stall watchdog (see capture.camera.stall_limit)
        self._cameras: dict[int | str, Camera] = {}
        self._lock = threading.Lock()

    def add(self, camera_id: int | str, url: str | CameraURL, name: str = "", **kwargs) -> Camera:
        """Create and start a camera; raises KeyError if the id is taken."""
        kwargs.setdefault("stall_s", self.stall_s)
        cam = Camera(url, camera_id, name, bus=self.bus, **kwargs)
        with self._lock:
            if camera_id in self._cameras:
                raise KeyError(f"camera {camera_id} is already connected")
            self._cameras[camera_id] = cam
        return cam.start()

    def adopt(self, camera) -> None:
        """Hold a camera started elsewhere (a worker's :class:`~thermalstream.workers.remote.RemoteCamera`)."""
        with self._lock:
            self._cameras[camera.id] = camera

    def remove(self, camera_id: int | str) -> None:
        """Stop and forget a camera; KeyError if unknown."""
        with self._lock:
            cam = self._cameras.pop(camera_id)
        cam.stop()

    def get(self, camera_id: int | str) -> Camera | None:
        with self._lock:
            return self._cameras.get(camera_id)

    def cameras(self) -> list[Camera]:
        with self._lock:
            return list(self._cameras.values())

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self._cameras

    def __len__(self) -> int:
        return len(self._cameras)

    def active_count(self) -> int:
        return sum(1 for c in self.cameras() if c.status is CameraStatus.LIVE)

    def stop_all(self, timeout: float = 5.0) -> None:
        """Stop every camera in parallel, so one dead camera cannot hold up shutdown."""
        with self._lock:
            cams = list(self._cameras.values())
            self._cameras.clear()
        if not cams:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(cams))) as pool:
            list(pool.map(lambda c: c.stop(timeout), cams))

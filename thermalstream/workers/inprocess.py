"""The in-process backend (the default; notebooks): cameras run as threads on the server's own
CameraManager, exactly as before the worker boundary. The server's services are these cameras'
worker, so they act on them directly and commands carry nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from thermalstream.capture.camera import SourceFactory
from thermalstream.capture.manager import CameraManager
from thermalstream.sources import make_source
from thermalstream.sources.url import parse_camera_url
from thermalstream.workers.protocol import CameraAssignment


class InProcessBackend:
    """``source_factory(camera)`` gives the camera's source factory (radiometry applied)."""

    name = "inprocess"

    def __init__(self, manager: CameraManager,
                 source_factory: Callable[[CameraAssignment], SourceFactory] | None = None) -> None:
        self.manager = manager
        self.source_factory = source_factory or (lambda camera: make_source)

    def start(self) -> None:
        """Nothing to start: cameras are threads of this process."""

    def assign(self, camera: CameraAssignment) -> str:
        self.manager.add(camera.camera_id, parse_camera_url(camera.url, must_exist=False), camera.name,
                         source_factory=self.source_factory(camera))
        return self.manager.worker_id

    def unassign(self, camera_id: int) -> None:
        if camera_id in self.manager:
            self.manager.remove(camera_id)

    def command(self, camera_id: int, name: str, args: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        """Nothing to carry: the services in this process already applied the change."""
        return None

    def owner(self, camera_id: int) -> str | None:
        return self.manager.worker_id if camera_id in self.manager else None

    def stop(self) -> None:
        self.manager.stop_all()

    def health(self) -> dict[str, Any]:
        return {"backend": self.name, "workers": [{"id": self.manager.worker_id, "pid": os.getpid(), "alive": True,
                                                   "cameras": sorted(c.id for c in self.manager.cameras())}]}

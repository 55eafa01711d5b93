"""What the backends that run cameras outside the server share (:mod:`.processes`, :mod:`.ray_backend`):
the server's side of assigning and unassigning a camera, and the errors of a worker.

A subclass places cameras (``_place``), forgets a camera's owner (``_release``) and stops a camera
on its worker (``_stop_on``); everything else here is the same for every backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.sources.url import parse_camera_url
from thermalstream.workers.protocol import CameraAssignment
from thermalstream.workers.remote import RemoteCamera, WorkerHub


class WorkerError(RuntimeError):
    """A command failed on the worker in a way the server has no better exception for."""


class WorkerLost(WorkerError):
    """The worker died before it answered."""


class RemoteBackend:
    """The Backend protocol's assign/unassign over a subclass's workers. ``errors`` maps a worker's
    exception class name to the server's class (RecordingConflict…) so callers catch what they
    catch in-process. A worker object has ``alive`` and ``cameras`` (the ids it runs)."""

    name = "remote"
    # (camera) -> (seq, timestamp, jpeg, scale) the worker encodes now, where the backend offers it
    _snapshot: Callable[[int], tuple | None] | None = None

    def __init__(self, settings: Settings, hub: WorkerHub, manager: CameraManager, *,
                 errors: dict[str, type[Exception]] | None = None) -> None:
        self.settings = settings
        self.hub = hub
        self.manager = manager
        self.errors = {"LookupError": LookupError, "KeyError": KeyError, "ValueError": ValueError, **(errors or {})}
        self.on_lost: Callable[[int, str, str], None] | None = None  # (camera, dead worker, new worker)
        self.on_owner: Callable[..., None] | None = None  # (camera, worker or None, pid=None): the leases
        self._assignments: dict[int, CameraAssignment] = {}
        self._unplaced: set[int] = set()  # cameras waiting for a live worker
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.restarts = 0

    def assign(self, camera: CameraAssignment) -> str:
        """Run ``camera`` on one worker (``_place``); its RemoteCamera joins the manager. Returns
        the worker's id ("" while it waits for one)."""
        cam = self.hub.cameras.get(camera.camera_id)
        if cam is None:
            cam = RemoteCamera(camera.camera_id, parse_camera_url(camera.url, must_exist=False), camera.name,
                               self.manager.bus, self.unassign, self._viewers, self._snapshot)
            self.hub.cameras[camera.camera_id] = cam
        self.manager.adopt(cam)
        with self._lock:
            self._assignments[camera.camera_id] = camera
            return self._place(camera.camera_id)

    def unassign(self, camera_id: int) -> None:
        """Stop the camera on its worker (its recording is closed there); no error if it runs nowhere."""
        with self._lock:
            self._assignments.pop(camera_id, None)
            self._unplaced.discard(camera_id)
            w = self._release(camera_id)
            if w is not None:
                w.cameras.discard(camera_id)
        self.hub.cameras.pop(camera_id, None)
        if self.on_owner is not None:
            self.on_owner(camera_id, None, None)
        if w is not None and w.alive:
            try:
                self._stop_on(w, camera_id)
            except WorkerLost:
                pass

    def command(self, camera_id: int, name: str, args: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        raise NotImplementedError

    # ----- what a backend provides
    def _place(self, camera_id: int) -> str:
        """Give the camera to a worker (under the lock); "" while none can take it."""
        raise NotImplementedError

    def _release(self, camera_id: int) -> Any:
        """Forget who runs the camera (under the lock); returns that worker, or None."""
        raise NotImplementedError

    def _stop_on(self, worker: Any, camera_id: int) -> None:
        """Stop the camera on ``worker`` and wait for it (WorkerLost: the worker is gone)."""
        raise NotImplementedError

    def _viewers(self, camera_id: int, on: bool) -> None:
        try:
            self.command(camera_id, "live", {"on": on})
        except (LookupError, OSError, ValueError):
            pass  # not placed yet: its Assign carries ``live``

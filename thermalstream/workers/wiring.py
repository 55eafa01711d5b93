"""How the Runtime is built for ``THERMALSTREAM_WORKERS``: which service classes, which backend.

In-process (the default) changes nothing: the usual services on the server's own cameras. With
workers (processes, Ray) the server runs the Remote* services of :mod:`.services` and a
:class:`~.remote.WorkerHub` that applies the workers' reports; the server loads no detector.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from thermalstream.detect.service import DetectionService
from thermalstream.display import DisplayStore
from thermalstream.measure.service import MeasureService
from thermalstream.record.events import EventRecordingService
from thermalstream.record.service import RecordingConflict, RecordingNotFound, RecordingService, StorageFull
from thermalstream.workers.leases import Leases
from thermalstream.workers.protocol import Backend
from thermalstream.workers.remote import WorkerHub

# the class of each backend that runs cameras outside this process: module:attribute
REMOTE_BACKENDS = {"processes": "thermalstream.workers.processes:ProcessBackend",
                   "ray": "thermalstream.workers.ray_backend:RayBackend"}
# exceptions a worker raises that the server's callers catch by class
ERRORS: dict[str, type[Exception]] = {"RecordingConflict": RecordingConflict, "StorageFull": StorageFull,
                                      "RecordingNotFound": RecordingNotFound}


@dataclass
class Wiring:
    """What the Runtime builds: ``backend`` None means in-process (CameraService makes its own)."""

    backend: Backend | None = None
    hub: WorkerHub | None = None
    recordings: type[RecordingService] = RecordingService
    detection: type[DetectionService] = DetectionService
    display: type[DisplayStore] = DisplayStore
    measure: type[MeasureService] = MeasureService
    events: type[EventRecordingService] = EventRecordingService
    leases: Leases | None = None  # the worker_leases table (workers only)

    @property
    def remote(self) -> bool:
        return self.backend is not None


def wiring(settings: Any, manager: Any) -> Wiring:
    """The services and backend for ``settings.workers``; ValueError for a backend that is missing."""
    if settings.workers == "inprocess":
        return Wiring()
    from thermalstream.workers import services as remote

    module, _, attr = REMOTE_BACKENDS[settings.workers].partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ValueError(f"THERMALSTREAM_WORKERS={settings.workers} is not available here: {exc}") from None
    hub = WorkerHub(manager.bus)
    return Wiring(cls(settings, hub, manager, errors=ERRORS), hub, remote.RemoteRecordingService,
                  remote.RemoteDetectionService, remote.RemoteDisplayStore, remote.RemoteMeasureService,
                  remote.RemoteEventRecordings)


def connect(w: Wiring, *services: Any) -> None:
    """Point the Remote* services (recordings first) at the backend, the hub at the recordings."""
    if w.backend is None:
        return
    recordings = services[0]
    for svc in services:
        svc.backend = w.backend
    w.leases = Leases(recordings.db, w.backend.name)
    w.leases.clear()  # the previous run's workers are gone
    w.backend.on_owner = w.leases.record
    w.hub.on_recording_ended = recordings.ended
    w.backend.on_lost = recordings.resume

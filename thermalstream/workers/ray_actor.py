"""The worker side of the Ray backend: the actor that runs a
:class:`~thermalstream.workers.core.WorkerCore` on a Ray node (:mod:`.ray_backend` is the server side).

Ray pickles this class by reference: every node imports it from its own ThermalStream install,
which must be the same version as the server's (docs/cluster.md).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from thermalstream.config import Settings
from thermalstream.workers.outbox import Outbox
from thermalstream.workers.protocol import Assign, Hello, StatusReport, Unassign

POLL_S = 0.5  # longest wait inside one ``reports`` call
CHECK_FILE = ".cluster-check"  # written by the server in data_dir; every worker must read it back


class CameraWorkerActor:
    """One worker (made a Ray actor by :class:`RayBackend`). A node that cannot read the data
    folder's check token says so in ``hello`` instead of running cameras."""

    def __init__(self, settings: Settings, name: str, token: str, detectors: list[str] | None = None) -> None:
        """``detectors``: the names of the shared detector actors (:mod:`.ray_detect`); none: this
        worker loads its own detector."""
        import ray

        self.worker_id = f"{name}@{ray.util.get_node_ip_address()}:{os.getpid()}"
        self.node_id = ray.get_runtime_context().get_node_id()
        self.outbox = Outbox()
        self.core = None
        self.problem = _check_storage(settings, token)
        if self.problem is None:
            from thermalstream.workers.core import WorkerCore

            pool = None
            if detectors:
                from thermalstream.workers.ray_detect import PooledDetector

                pool = lambda: PooledDetector(detectors)  # noqa: E731
            self.core = WorkerCore(settings, self.worker_id, self.outbox.put, detector_factory=pool)

    def hello(self) -> tuple[Hello, str, str | None]:
        return Hello(self.worker_id, os.getpid()), self.node_id, self.problem

    def call(self, msg: Any) -> tuple[str, Any, str | None]:
        """Apply Assign, Unassign or Command: ("ok", value, None) or ("error", message, class name)."""
        try:
            if isinstance(msg, Assign):
                try:
                    return "ok", self.core.assign(msg.camera), None
                except Exception as exc:  # the camera's card says why
                    self.outbox.put(StatusReport(msg.camera.camera_id, "failed", str(exc)))
                    raise
            if isinstance(msg, Unassign):
                return "ok", self.core.unassign(msg.camera_id), None
            return "ok", self.core.command(msg.camera_id, msg.name, msg.args), None
        except Exception as exc:  # noqa: BLE001 - raised again on the server, by class name
            return "error", str(exc), type(exc).__name__

    def describe(self) -> dict[str, Any]:
        """Which detector this worker runs (``PooledDetector``: none loaded here, the pool's actors do)."""
        det = self.core.detection.worker.detector if self.core is not None else None
        return {"worker_id": self.worker_id, "node_id": self.node_id, "detector": type(det).__name__ if det else None}

    def reports(self, timeout: float = POLL_S) -> list[Any]:
        return self.outbox.take(timeout)

    def stop(self) -> None:
        if self.core is not None:
            self.core.stop()


def _check_storage(settings: Settings, token: str) -> str | None:
    """None when this node sees the server's data folder (the check file holds the server's token)."""
    try:
        seen = (settings.data_dir / CHECK_FILE).read_text().strip()
    except OSError as exc:
        seen = f"unreadable ({exc.__class__.__name__})"
    if seen != token:
        return (f"node {socket.gethostname()} does not see the server's data folder {settings.data_dir} "
                f"(check file {seen if seen.startswith('unreadable') else 'differs'}): mount the shared folder at "
                "the same path on every node (docs/cluster.md)")
    return None

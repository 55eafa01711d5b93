"""The worker process's side of :mod:`.processes`: run a WorkerCore on one end of a duplex pipe.

A live picture travels as a :class:`FrameHeader` followed by the raw ``LiveFrame.wire`` bytes
(``send_bytes``): no pickling of the picture, one receive into the bytes the server hands on.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import NamedTuple

from thermalstream.config import Settings
from thermalstream.workers.protocol import Assign, Hello, LiveFrame, Reply, Shutdown, StatusReport, Unassign

log = logging.getLogger(__name__)


class FrameHeader(NamedTuple):
    """Sent before the raw bytes of a LiveFrame's ``wire``."""

    camera_id: int
    seq: int
    timestamp: float
    scale: tuple | None


def child_main(conn, settings: Settings, worker_id: str) -> None:
    """Entry point of a worker process: run a WorkerCore until Shutdown or the server goes away."""
    from thermalstream.workers.core import WorkerCore

    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {worker_id} %(name)s %(levelname)s %(message)s")
    lock = threading.Lock()

    def emit(report) -> None:
        try:
            with lock:
                if isinstance(report, LiveFrame):
                    conn.send(FrameHeader(report.camera_id, report.seq, report.timestamp, report.scale))
                    conn.send_bytes(report.wire)
                else:
                    conn.send(report)
        except (OSError, ValueError):
            pass  # the server is gone: the receive loop ends too

    core = WorkerCore(settings, worker_id, emit)
    emit(Hello(worker_id, os.getpid()))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(msg, Shutdown):
                break
            _handle(core, msg, emit)
    finally:
        core.stop()


def _handle(core, msg, emit) -> None:
    """Apply one server message; a request gets its Reply, a failed Assign a "failed" status."""
    rid = getattr(msg, "request_id", None)
    try:
        if isinstance(msg, Assign):
            value = core.assign(msg.camera)
        elif isinstance(msg, Unassign):
            value = core.unassign(msg.camera_id)
        else:
            value = core.command(msg.camera_id, msg.name, msg.args)
    except Exception as exc:  # noqa: BLE001 - reported to the server, never lost
        log.warning("worker %s: %s failed: %s", core.worker_id, type(msg).__name__, exc)
        if rid is not None:
            emit(Reply(rid, error=str(exc), error_type=type(exc).__name__))
        elif isinstance(msg, Assign):
            emit(StatusReport(msg.camera.camera_id, "failed", str(exc)))
        return
    if rid is not None:
        emit(Reply(rid, value))

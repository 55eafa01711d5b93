"""The worker process's side of :mod:`.processes`: run a WorkerCore on one end of a duplex pipe.

Every report goes into an :class:`~.outbox.Outbox`; one sender thread writes whatever waits there
to the pipe, several reports in one ``writev``. A camera's encoder thread never waits for the
pipe (it used to: writing under a shared lock, three system calls per picture, each giving up the
GIL), and a picture not yet sent is replaced by its camera's newer one (latest frame wins).

A live picture travels as a pickled :class:`FrameHeader` record followed by a record with the raw
``LiveFrame.wire`` bytes; records are framed as ``multiprocessing.Connection`` frames them, so the
server reads them with ``recv()`` and ``recv_bytes()`` (the one copy into the bytes it hands on).
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from multiprocessing.reduction import ForkingPickler
from typing import Any, NamedTuple

from thermalstream.config import Settings
from thermalstream.workers.outbox import Outbox
from thermalstream.workers.protocol import Assign, Hello, LiveFrame, Reply, Shutdown, StatusReport, Unassign

log = logging.getLogger(__name__)
SENDER_IDLE_S = 0.5  # the sender's longest wait for a report before it looks whether to stop
SENDER_STOP_S = 10.0  # at shutdown, how long the last reports may take to leave
IOV_MAX = 1024  # buffers per writev (Linux's limit)


class FrameHeader(NamedTuple):
    """Sent before the raw bytes of a LiveFrame's ``wire``."""

    camera_id: int
    seq: int
    timestamp: float
    scale: tuple | None


_DONE = object()  # put after the last report: the sender writes what came before it and ends


def framed(payload: bytes) -> list[bytes]:
    """One record as ``Connection.send_bytes`` frames it (a 4-byte big-endian length first)."""
    n = len(payload)
    return [struct.pack("!i", n) if n <= 0x7FFFFFFF else struct.pack("!iQ", -1, n), payload]


def records(reports: list[Any]) -> list[bytes]:
    """The buffers that carry ``reports``: a LiveFrame as its header and its raw ``wire``, the rest
    pickled. A report that cannot be pickled is logged; a Reply then carries the error instead."""
    out: list[bytes] = []
    for r in reports:
        if isinstance(r, LiveFrame):
            out += framed(ForkingPickler.dumps(FrameHeader(r.camera_id, r.seq, r.timestamp, r.scale)))
            out += framed(r.wire)
            continue
        try:
            out += framed(ForkingPickler.dumps(r))
        except Exception as exc:  # one bad report must not stop the sender
            log.exception("worker report %s cannot be sent", type(r).__name__)
            if isinstance(r, Reply):
                out += framed(ForkingPickler.dumps(Reply(r.request_id, error=f"the worker's answer cannot be sent: {exc}",
                                                         error_type="WorkerError")))
    return out


def write_all(fd: int, buffers: list[bytes]) -> None:
    """Write every buffer to ``fd`` in order, with as few ``writev`` calls as it takes."""
    views = [memoryview(b) for b in buffers if len(b)]
    i = 0
    while i < len(views):
        n = os.writev(fd, views[i:i + IOV_MAX])
        while n > 0:  # drop what went out; a partly written buffer keeps its rest
            size = views[i].nbytes
            if n >= size:
                n -= size
                i += 1
            else:
                views[i] = views[i][n:]
                n = 0


def send_loop(fd: int, box: Outbox) -> None:
    """Write what waits in ``box`` to ``fd`` until ``_DONE`` comes or the server is gone."""
    while True:
        batch = box.take(SENDER_IDLE_S)
        done = any(r is _DONE for r in batch)
        try:
            write_all(fd, records([r for r in batch if r is not _DONE]))
        except OSError:
            return  # the server is gone: the receive loop ends too
        if done:
            return


def child_main(conn, settings: Settings, worker_id: str) -> None:
    """Entry point of a worker process: run a WorkerCore until Shutdown or the server goes away."""
    from thermalstream.workers.core import WorkerCore

    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {worker_id} %(name)s %(levelname)s %(message)s")
    box = Outbox()
    sender = threading.Thread(target=send_loop, args=(conn.fileno(), box), name="worker-send", daemon=True)
    sender.start()
    core = WorkerCore(settings, worker_id, box.put)
    box.put(Hello(worker_id, os.getpid()))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(msg, Shutdown):
                break
            _handle(core, msg, box.put)
    finally:
        core.stop()
        box.put(_DONE)  # its recordings' last reports leave before the process ends
        sender.join(SENDER_STOP_S)


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

"""The local processes backend: ``THERMALSTREAM_WORKER_PROCESSES`` worker processes (spawn
context), each running a :class:`~thermalstream.workers.core.WorkerCore` for its cameras.

One duplex pipe per worker carries pickled messages both ways. A live picture travels as a small
header followed by the raw ``LiveFrame.wire`` bytes (``send_bytes``), so the server receives each
frame exactly once into the bytes object it hands to every viewer.

Supervision: a thread watches every worker's process sentinel. When a worker dies (SIGKILL, a
crash), its cameras are placed on the live worker with the fewest cameras within a moment
(``on_lost`` lets the recording service resume their recordings and record the gap), and a
replacement process is started for the pool. Every camera has exactly one owner at a time
(``owner()``; the leases table mirrors it for operators).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.workers.backend import RemoteBackend, WorkerError, WorkerLost
from thermalstream.workers.child import FrameHeader, child_main
from thermalstream.workers.protocol import (
    Assign,
    Command,
    Hello,
    LiveFrame,
    Reply,
    Shutdown,
    Unassign,
)
from thermalstream.workers.remote import WorkerHub

log = logging.getLogger(__name__)
WATCH_S = 0.2  # how often the supervisor looks for dead workers
STOP_TIMEOUT_S = 40.0  # a worker closing its recordings at shutdown
READY_TIMEOUT_S = 60.0  # start() waits this long for the workers' Hello


# ----------------------------------------------------------------- the server side

@dataclass(eq=False)
class _Worker:
    id: str
    process: Any
    conn: Any
    cameras: set[int] = field(default_factory=set)
    ready: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    alive: bool = True
    pid: int | None = None

    def send(self, msg) -> None:
        with self.lock:
            self.conn.send(msg)


class ProcessBackend(RemoteBackend):
    """Worker processes on this machine, supervised (assign and unassign: RemoteBackend)."""

    name = "processes"

    def __init__(self, settings: Settings, hub: WorkerHub, manager: CameraManager, *, count: int | None = None,
                 errors: dict[str, type[Exception]] | None = None) -> None:
        super().__init__(settings, hub, manager, errors=errors)
        self.count = count or settings.worker_count
        self._ctx = mp.get_context("spawn")
        self._workers: dict[str, _Worker] = {}
        self._owner: dict[int, str] = {}
        self._early_deaths = 0  # workers in a row that died before they were ready (a crash loop)
        self._pending: dict[int, tuple[str, Future]] = {}
        self._ids = itertools.count(1)
        self._serial = itertools.count(1)
        self._pending_lock = threading.Lock()  # never held while sending: replies always get through
        self._supervisor: threading.Thread | None = None

    # ----- lifecycle
    def start(self) -> None:
        """Start the pool and wait until every worker is ready (cameras assigned before then would
        only wait in its pipe): a server answers requests once its cameras can start."""
        with self._lock:
            if self._supervisor is not None:
                return
            for _ in range(self.count):
                self._spawn()
            self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)
            self._supervisor.start()
        started = time.monotonic()
        if not self.wait_ready(READY_TIMEOUT_S):
            log.warning("worker processes not all ready after %.0f s; cameras start as they come up", READY_TIMEOUT_S)
        log.info("%d worker processes ready in %.1f s", self.count, time.monotonic() - started)

    def stop(self) -> None:
        """Shut every worker down (they close their recordings), then end stragglers."""
        self._stopping.set()
        with self._lock:
            workers = [w for w in self._workers.values() if w.alive]
        for w in workers:
            try:
                w.send(Shutdown())
            except (OSError, ValueError):
                pass
        for w in workers:
            w.process.join(STOP_TIMEOUT_S)
            if w.process.is_alive():
                log.error("worker %s did not stop in time: killed", w.id)
                w.process.kill()
                w.process.join(5)
            w.alive = False
            w.conn.close()
        if self._supervisor is not None:
            self._supervisor.join(2)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once every worker said Hello (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            workers = [w for w in self._workers.values() if w.alive]
        return all(w.ready.wait(max(0.0, deadline - time.monotonic())) for w in workers)

    # ----- the Backend protocol (assign, unassign: RemoteBackend)
    def command(self, camera_id: int, name: str, args: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        with self._lock:
            w = self._workers.get(self._owner.get(camera_id, ""))
        if w is None or not w.alive:
            raise LookupError(f"camera {camera_id} runs on no worker")
        if timeout is None:
            w.send(Command(camera_id, name, dict(args or {})))
            return None
        return self._request(w, lambda rid: Command(camera_id, name, dict(args or {}), rid), timeout)

    def owner(self, camera_id: int) -> str | None:
        with self._lock:
            return self._owner.get(camera_id)

    def health(self) -> dict[str, Any]:
        with self._lock:
            workers = [{"id": w.id, "pid": w.pid, "alive": w.alive and w.process.is_alive(),
                        "ready": w.ready.is_set(), "cameras": sorted(w.cameras)} for w in self._workers.values()]
        return {"backend": self.name, "processes": self.count, "restarts": self.restarts,
                "workers": [w for w in workers if w["alive"]]}

    def worker_pids(self) -> dict[str, int | None]:
        with self._lock:
            return {w.id: w.pid for w in self._workers.values() if w.alive}

    def _release(self, camera_id: int) -> _Worker | None:
        wid = self._owner.pop(camera_id, None)
        return self._workers.get(wid) if wid else None

    def _stop_on(self, w: _Worker, camera_id: int) -> None:
        self._request(w, lambda rid: Unassign(camera_id, rid), STOP_TIMEOUT_S)

    # ----- placement and supervision
    def _spawn(self) -> _Worker:
        wid = f"{socket.gethostname()}:w{next(self._serial)}"
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=child_main, args=(child, self.settings, wid), name=f"thermalstream-{wid}",
                                 daemon=True)
        proc.start()
        child.close()  # the worker sees EOF when this server goes away
        w = _Worker(wid, proc, parent, pid=proc.pid)
        self._workers[wid] = w
        threading.Thread(target=self._receive, args=(w,), name=f"worker-recv-{wid}", daemon=True).start()
        return w

    def _place(self, camera_id: int) -> str:
        """Give a camera to the live worker with the fewest cameras; with none alive it waits
        (placed when a worker says Hello). Returns the worker's id ("" while waiting)."""
        live = [w for w in self._workers.values() if w.alive]
        cam = self.hub.cameras[camera_id]
        if not live:
            self._unplaced.add(camera_id)
            cam.worker_id = None
            cam.set_status("reconnecting", "waiting for a worker process to start")
            if self.on_owner is not None:
                self.on_owner(camera_id, None, None)
            return ""
        self._unplaced.discard(camera_id)
        w = min(live, key=lambda x: (len(x.cameras), x.id))
        cam.worker_id = w.id
        cam.encoder.reset()
        w.cameras.add(camera_id)
        self._owner[camera_id] = w.id
        w.send(Assign(replace(self._assignments[camera_id], live=cam.encoder.live)))
        if self.on_owner is not None:
            self.on_owner(camera_id, w.id, w.pid)
        return w.id

    def _supervise(self) -> None:
        while not self._stopping.wait(WATCH_S):
            with self._lock:
                dead = [w for w in self._workers.values() if w.alive and not w.process.is_alive()]
            for w in dead:
                if self._stopping.is_set():
                    return
                try:
                    self._lost(w)
                except Exception:  # noqa: BLE001 - the supervisor must outlive any one failure
                    log.exception("moving the cameras of worker %s failed", w.id)

    def _lost(self, w: _Worker) -> None:
        code = w.process.exitcode
        reason = f"worker {w.id} (pid {w.pid}) died" + (f" (signal {-code})" if code and code < 0 else
                                                        f" (exit code {code})")
        log.error("%s; moving its cameras %s", reason, sorted(w.cameras))
        with self._lock:
            w.alive = False
            cams = sorted(w.cameras)
            w.cameras.clear()
        with self._pending_lock:
            for rid, (wid, fut) in list(self._pending.items()):
                if wid == w.id:
                    self._pending.pop(rid)
                    fut.set_exception(WorkerLost(reason))
        w.conn.close()
        moved = []
        for cid in cams:
            cam = self.hub.cameras.get(cid)
            if cam is None:
                continue
            cam.set_status("reconnecting", f"{reason}; moving to another worker")
            with self._lock:
                if cid in self._assignments:
                    moved.append((cid, self._place(cid)))
        for cid, new in moved:
            if self.on_lost is not None:
                try:
                    self.on_lost(cid, w.id, new)
                except Exception:  # noqa: BLE001
                    log.exception("camera %s: resuming after the loss of worker %s failed", cid, w.id)
        if not self._stopping.is_set():
            self._replace(w)

    def _replace(self, dead: _Worker) -> None:
        """Start a process in place of a dead one (the pool keeps its size); after workers that
        died before they were ready, wait longer each time (1, 2, 4… 30 s) instead of looping."""
        with self._lock:
            self.restarts += 1
            self._early_deaths = 0 if dead.ready.is_set() else self._early_deaths + 1
            delay = 0.0 if not self._early_deaths else min(30.0, 2.0 ** (self._early_deaths - 1))
        if delay:
            log.error("worker %s died before it was ready; next start in %g s", dead.id, delay)
        timer = threading.Timer(delay, self._respawn)
        timer.daemon = True
        timer.start()

    def _respawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set() and sum(x.alive for x in self._workers.values()) < self.count:
                self._spawn()

    # ----- messages
    def _receive(self, w: _Worker) -> None:
        conn = w.conn
        while True:
            try:
                msg = conn.recv()
                if isinstance(msg, FrameHeader):
                    msg = LiveFrame(msg.camera_id, msg.seq, msg.timestamp, conn.recv_bytes(), msg.scale)
            except (EOFError, OSError):
                return
            try:
                self._dispatch(w, msg)
            except Exception:  # noqa: BLE001
                log.exception("report from worker %s failed", w.id)

    def _dispatch(self, w: _Worker, msg) -> None:
        if isinstance(msg, Hello):
            w.pid = msg.pid
            w.ready.set()
            with self._lock:
                for cid in sorted(self._unplaced):
                    if cid in self._assignments and w.alive:
                        self._place(cid)
        elif isinstance(msg, Reply):
            with self._pending_lock:
                entry = self._pending.pop(msg.request_id, None)
            if entry is not None:
                entry[1].set_result(msg)
        else:
            self.hub.report(w.id, msg)

    def _request(self, w: _Worker, make: Callable[[int], Any], timeout: float) -> Any:
        rid = next(self._ids)
        fut: Future = Future()
        with self._pending_lock:
            self._pending[rid] = (w.id, fut)
        try:
            w.send(make(rid))
            reply: Reply = fut.result(timeout)
        except (OSError, ValueError) as exc:
            raise WorkerLost(f"worker {w.id} is gone: {exc}") from None
        except FutureTimeout:
            raise WorkerError(f"worker {w.id} did not answer within {timeout:g} s") from None
        finally:
            with self._pending_lock:
                self._pending.pop(rid, None)
        if reply.error is not None:
            raise self.errors.get(reply.error_type or "", WorkerError)(reply.error)
        return reply.value

    def _snapshot(self, camera_id: int) -> tuple | None:
        try:
            return self.command(camera_id, "snapshot", timeout=10.0)
        except (LookupError, WorkerError):
            return None  # moving or gone: the handler says "no frame yet"

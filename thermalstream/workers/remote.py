"""The server side of cameras that run on workers: :class:`RemoteCamera` (what the server's
services see of a camera: status, stats, source info, name), :class:`RemoteEncoder` (the live
pictures, as the viewers' handlers expect from a LiveEncoder) and :class:`WorkerHub`, which
applies every report a worker sends. Transport-free: the process and Ray backends both feed it.

Frames arrive once, encoded, framed as the /ws/video message (``LiveFrame.wire``): the hub hands
the same object to every viewer, so the server neither re-encodes nor copies a frame per viewer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from thermalstream.bus import EventBus
from thermalstream.capture.camera import CameraStatus
from thermalstream.capture.stats import CameraStats
from thermalstream.live.pictures import PictureFanout
from thermalstream.sources import SourceInfo
from thermalstream.sources.url import CameraURL
from thermalstream.workers.protocol import (
    EventReport,
    LiveFrame,
    RecordingEnded,
    Report,
    StatsReport,
    StatusReport,
)

log = logging.getLogger(__name__)
IDLE_S = 5.0  # the worker stops encoding this long after the last viewer left (as LiveEncoder)


class RemoteEncoder(PictureFanout[LiveFrame]):
    """A camera's live pictures from its worker, with LiveEncoder's interface for the handlers
    (listeners, ``wait`` and ``viewers``: :class:`~thermalstream.live.pictures.PictureFanout`).
    The worker encodes only while someone watches: ``on_viewers(True/False)`` tells it."""

    def __init__(self, camera: RemoteCamera, on_viewers: Callable[[bool], None],
                 snapshot: Callable[[], tuple | None] | None = None) -> None:
        """``snapshot()`` asks the worker for its newest frame encoded now: (seq, timestamp, jpeg, scale)."""
        super().__init__()
        self.camera = camera
        self._snapshot = snapshot
        self.display = SimpleNamespace(scale=None)  # the colour bar's (lo, hi, unit) of the newest picture
        self.live = False  # the worker is asked to encode
        self._on_viewers = on_viewers
        self._idle: threading.Timer | None = None

    def deliver(self, frame: LiveFrame) -> None:
        """A picture from the worker: kept as the newest and handed to every listener as it is."""
        self._publish(frame)

    def _accept(self, frame: LiveFrame) -> bool:
        if self._latest is not None and frame.seq <= self._latest.seq:
            return False  # an older picture overtaken by a newer one
        self.display.scale = frame.scale
        return True

    def reset(self) -> None:
        """The camera moved to another worker: its frame numbers start again."""
        with self._cond:
            self._latest = None

    def snapshot(self, timeout: float = 3.0) -> LiveFrame | None:
        """A fresh picture: the newest one while someone watches, else one the worker encodes now."""
        latest = self._latest
        if latest is not None and self.viewers > 0:
            return latest
        if self._snapshot is None:
            return self.wait(latest.seq if latest is not None else -1, timeout) or latest
        got = self._snapshot()
        if got is None:
            return latest
        seq, ts, jpeg, scale = got
        self.display.scale = scale
        return LiveFrame.make(self.camera.id, seq, ts, jpeg, scale)

    def stop(self) -> None:
        with self._cond:
            timer, self._idle = self._idle, None
        if timer is not None:
            timer.cancel()

    def _watched(self) -> None:
        self.stop()
        if not self.live:
            self.live = True
            self._on_viewers(True)

    def _unwatched(self) -> None:
        if self.viewers:
            return
        with self._cond:
            if self._idle is None:
                self._idle = threading.Timer(IDLE_S, self._went_idle)
                self._idle.daemon = True
                self._idle.start()

    def _went_idle(self) -> None:
        with self._cond:
            self._idle = None
            idle = self.viewers == 0 and self.live
            if idle:
                self.live = False
        if idle:
            self._on_viewers(False)


class RemoteCamera:
    """A camera running on a worker, as the server's services see it (the attributes and methods
    of ``capture.Camera`` they use). Its frames stay on the worker: ``latest()`` is None, and the
    temperature summary comes with the worker's stats."""

    remote = True

    def __init__(self, camera_id: int, url: CameraURL, name: str, bus: EventBus,
                 unassign: Callable[[int], None], on_viewers: Callable[[int, bool], None],
                 snapshot: Callable[[int], tuple | None] | None = None) -> None:
        self.id = camera_id
        self.url = url
        self.name = name
        self.bus = bus
        self.status = CameraStatus.CONNECTING
        self.reason = ""
        self.info: SourceInfo | None = None
        self.worker_id: str | None = None
        self.recording: dict[str, Any] | None = None  # the worker's recorder counters
        self.detection: dict[str, Any] | None = None  # the newest detection overlay
        self.detector: dict[str, Any] | None = None  # its worker's detector status
        self.measure: dict[str, Any] | None = None  # newest ROI values (MeasureService.live on the worker)
        self.events: dict[str, Any] | None = None  # record-on-events state on the worker
        self.detector_slot: dict[str, Any] | None = None  # its detector slot on the worker (last inference…)
        self.detect_state: dict[str, Any] | None = None  # its detection status entry on the worker
        self._unassign = unassign
        self._stats = CameraStats(0.0, 0, 0, None, 0)
        self._stats_from: str | None = None  # the worker whose counters _stats holds
        self._carried = (0, 0, 0)  # frames, dropped, reconnects counted on earlier workers (monotonic counters)
        self._stats_at = time.monotonic()
        self._temperature: tuple[dict[str, Any] | None, str | None] = (None, None)
        self.encoder = RemoteEncoder(self, lambda on: on_viewers(camera_id, on),
                                     None if snapshot is None else (lambda: snapshot(camera_id)))

    # ----- reports
    def set_status(self, status: str, reason: str = "", info: dict[str, Any] | None = None) -> None:
        if info:
            self.info = SourceInfo(kind=info.get("kind") or self.url.kind, width=info["width"], height=info["height"],
                                   fps=info.get("fps"), radiometric=bool(info.get("radiometric")))
        new = CameraStatus(status)
        if new is self.status and reason == self.reason:
            return
        self.status, self.reason = new, reason
        self.bus.publish("camera.status", {"camera_id": self.id, "status": new.value, "reason": reason})

    def update(self, report: StatsReport, worker_id: str | None = None) -> None:
        s = self._stats
        if self._stats_from not in (None, worker_id) or report.stats["frames"] < s.frames:
            f, d, r = self._carried  # moved or restarted: counting from 0 again; a move is a reconnect
            self._carried = (f + s.frames, d + s.dropped, r + s.reconnects + 1)
        self._stats_from = worker_id
        self._stats = CameraStats(**report.stats)
        self._stats_at = time.monotonic()
        self._temperature = (report.temperature, report.temperature_unit)
        self.recording = report.recording
        self.detection = report.detection
        self.detector = report.detector
        self.measure = report.measure
        self.events = report.events
        self.detector_slot = report.slot
        self.detect_state = report.detect_state

    # ----- what Camera offers
    def start(self) -> RemoteCamera:
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop it on its worker (recording closed there)."""
        self.encoder.stop()
        self._unassign(self.id)
        self.set_status(CameraStatus.STOPPED.value, "")

    close = stop

    @property
    def running(self) -> bool:
        return self.status not in (CameraStatus.STOPPED, CameraStatus.FAILED)

    def latest(self) -> None:
        return None

    def wait_frame(self, after_seq: int = -1, timeout: float | None = 5.0) -> None:
        time.sleep(min(timeout or 0.0, 0.5))

    def summary(self) -> tuple[dict[str, Any] | None, str | None]:
        """(min/mean/max of the newest frame, its unit) as the worker last reported them."""
        return self._temperature

    def stats(self) -> CameraStats:
        """The worker's counters, carried on over the workers the camera ran on before."""
        s, (frames, dropped, reconnects) = self._stats, self._carried
        age = s.last_frame_age
        if age is not None:
            age = round(age + time.monotonic() - self._stats_at, 3)
        return CameraStats(s.fps, frames + s.frames, dropped + s.dropped, age, reconnects + s.reconnects)

    def describe(self) -> dict[str, Any]:
        info = self.info
        return {"id": self.id, "name": self.name, "url": self.url.masked, "kind": self.url.kind,
                "status": self.status.value, "reason": self.reason, "radiometric": bool(info and info.radiometric),
                "width": info.width if info else None, "height": info.height if info else None,
                "worker": self.worker_id, **self.stats().as_dict()}


class WorkerHub:
    """Applies workers' reports on the server: cameras' status and stats, live pictures to
    viewers, bus events republished, finished recordings."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.cameras: dict[int, RemoteCamera] = {}
        self.counters = WorkerCounters()
        self.on_recording_ended: Callable[[int, int], None] | None = None

    def report(self, worker_id: str, msg: Report) -> None:
        """Apply one report from ``worker_id`` (reports of a camera it no longer owns are ignored)."""
        if isinstance(msg, EventReport):
            self.bus.publish(msg.topic, msg.data, user_id=msg.user_id)
            return
        if isinstance(msg, StatsReport) and msg.counters is not None:
            self.counters.update(worker_id, msg.counters)  # true of the worker, whoever owns the camera now
        cam = self.cameras.get(getattr(msg, "camera_id", None))
        if cam is None or cam.worker_id != worker_id:
            return
        if isinstance(msg, LiveFrame):
            cam.encoder.deliver(msg)
        elif isinstance(msg, StatsReport):
            cam.update(msg, worker_id)
        elif isinstance(msg, StatusReport):
            cam.set_status(msg.status, msg.reason, msg.info)
        elif isinstance(msg, RecordingEnded) and self.on_recording_ended is not None:
            self.on_recording_ended(msg.camera_id, msg.recording_id)


class WorkerCounters:
    """The workers' own totals (their detectors' calls, frames, errors, time; their queues) as
    their stats bring them. Counters are summed over every worker this server has had, so they
    never go down when a worker dies; gauges (queues) only over workers heard from lately."""

    COUNTERS = ("calls", "frames", "errors", "busy_s", "gate_skipped", "replaced")
    FRESH_S = 5.0  # a worker not heard from for this long is gone: its queues no longer count

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, tuple[float, dict[str, Any]]] = {}  # worker -> (when, its latest totals)
        self._banked = dict.fromkeys(self.COUNTERS, 0.0)  # totals of workers whose counts started again
        self._lock = threading.Lock()

    def update(self, worker_id: str, counters: dict[str, Any]) -> None:
        with self._lock:
            _at, prev = self._last.get(worker_id, (0.0, None))
            if prev is not None and counters.get("calls", 0) < prev.get("calls", 0):  # same id, counting anew
                for k in self.COUNTERS:
                    self._banked[k] += prev.get(k, 0)
            self._last[worker_id] = (self._clock(), dict(counters))

    def detector(self) -> dict[str, Any]:
        """DetectorWorker.stats()'s totals (without ``cameras``), over all the workers."""
        with self._lock:
            last = list(self._last.values())
        out: dict[str, Any] = {k: v + sum(c.get(k, 0) for _t, c in last) for k, v in self._banked.items()}
        fresh = [c for t, c in last if self._clock() - t < self.FRESH_S]
        out["running"] = any(c.get("running") for c in fresh)
        out["last_error"] = next((c["last_error"] for c in fresh if c.get("last_error")), None)
        return out

    def gauge(self, key: str) -> float:
        """A queue's depth summed over the workers heard from lately."""
        with self._lock:
            return sum(c.get(key, 0) for t, c in self._last.values() if self._clock() - t < self.FRESH_S)

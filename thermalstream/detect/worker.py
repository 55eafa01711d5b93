"""One shared detector worker for all cameras.

A single thread owns the detector (one model in memory, one set of inference threads) and
serves every camera:

* **Per-camera rate.** A camera is sampled at most ``fps`` times a second (default 5): when it is
  due, the worker takes the camera's newest frame (``source.latest()``) if it is newer than the
  last one it took. Cameras can also push frames with :meth:`DetectorWorker.submit`.
* **Motion gate.** Each sampled frame goes through the camera's :class:`MotionGate`; only frames
  with motion (or within the gate's hold time after it) reach the detector. ``bypass_gate``
  turns this off for a camera; ``keep_alive(camera_id)`` (the service calls it while a camera
  has open events) keeps the detector running on a camera whose object stands still. A
  *stateful* detector (``detector.stateful``, the hotspot detector: it learns each camera's
  background) gets every sampled frame, gate or not, through ``detect_keyed`` (one state per
  camera; ``forget`` when a camera is removed).
* **Latest wins.** Each camera has one slot. A newer frame replaces a waiting one (counted as
  ``replaced``); nothing queues, so a slow detector never works on old frames.
* **Fair.** Ready cameras are served round-robin, starting after the last camera served, so a
  busy camera cannot starve the others.
* **Batches.** Up to ``detector.max_batch`` ready cameras go to the detector in one call.
* **Unavailable detector.** While ``detector.status().state`` is not ``ready`` (checked at most
  once a second) or no detector is set, frames are dropped and counted; the rest keeps running.

Results go to ``on_result(camera_id, frame, detections)`` on the worker thread; it must be quick
(the service's pipeline is: filter, track, events, queue rows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from thermalstream.detect.motion import MotionGate, MotionResult
from thermalstream.detect.types import Detection, Detector
from thermalstream.frame import Frame

log = logging.getLogger(__name__)

ResultCallback = Callable[[Any, Frame, list[Detection]], None]


class FrameSource(Protocol):
    def latest(self) -> Frame | None: ...


@dataclass
class CameraSlot:
    camera_id: Any
    source: FrameSource | None
    fps: float
    gate: MotionGate | None
    bypass_gate: bool = False
    next_due: float = 0.0
    last_seq: int = -1
    pending: Frame | None = None
    keep_alive_until: float = 0.0
    last_motion: MotionResult | None = None
    # counters
    sampled: int = 0
    gated: int = 0  # sampled frames the gate kept from the detector
    replaced: int = 0  # frames superseded in the slot before the detector got to them
    detected: int = 0
    unavailable: int = 0
    last_inference_ms: float | None = None
    last_detect_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id, "fps": self.fps, "bypass_gate": self.bypass_gate, "sampled": self.sampled,
            "gate_skipped": self.gated, "replaced": self.replaced, "detected": self.detected,
            "unavailable": self.unavailable, "last_inference_ms": self.last_inference_ms,
            "last_detect_at": self.last_detect_at,
            "motion": None if self.last_motion is None else self.last_motion.motion,
            "gate": None if self.gate is None else self.gate.stats.as_dict(),
        }


class DetectorWorker:
    def __init__(
        self,
        detector: Detector | None,
        on_result: ResultCallback | None = None,
        *,
        default_fps: float = 5.0,
        poll_interval: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.detector = detector
        self.on_result = on_result
        self.default_fps = default_fps
        self.poll_interval = poll_interval
        self.clock = clock
        self.calls = 0
        self.frames = 0
        self.errors = 0
        self.busy_s = 0.0  # time spent inside the detector (latency sum; /metrics)
        self.last_error = ""
        self._slots: dict[Any, CameraSlot] = {}
        self._order: list[Any] = []
        self._rr = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = True
        self._ready_checked = -1e18

    # ----- cameras
    def add_camera(self, camera_id: Any, source: FrameSource | None = None, *, fps: float | None = None,
                   gate: MotionGate | None = None, bypass_gate: bool = False) -> CameraSlot:
        """Serve a camera: polled through ``source.latest()`` or fed by :meth:`submit`."""
        fps = self.default_fps if fps is None else float(fps)
        if not fps > 0:
            raise ValueError("detect fps must be more than 0")
        slot = CameraSlot(camera_id, source, fps, gate, bypass_gate)
        with self._cond:
            if camera_id in self._slots:
                raise KeyError(f"camera {camera_id} is already served")
            self._slots[camera_id] = slot
            self._order.append(camera_id)
            self._cond.notify_all()
        return slot

    def remove_camera(self, camera_id: Any) -> None:
        det = self.detector
        if det is not None and getattr(det, "stateful", False):
            try:
                det.forget(camera_id)
            except Exception:
                log.debug("detector could not forget camera %s", camera_id, exc_info=True)
        with self._cond:
            self._slots.pop(camera_id, None)
            if camera_id in self._order:
                i = self._order.index(camera_id)
                self._order.remove(camera_id)
                if i < self._rr:
                    self._rr -= 1
                self._rr = self._rr % len(self._order) if self._order else 0

    def slot(self, camera_id: Any) -> CameraSlot | None:
        return self._slots.get(camera_id)

    def cameras(self) -> list[Any]:
        with self._cond:
            return list(self._order)

    def set_fps(self, camera_id: Any, fps: float) -> None:
        if not fps > 0:
            raise ValueError("detect fps must be more than 0")
        self._slots[camera_id].fps = float(fps)

    def set_bypass(self, camera_id: Any, bypass: bool) -> None:
        self._slots[camera_id].bypass_gate = bool(bypass)

    def keep_alive(self, camera_id: Any, seconds: float = 1.0) -> None:
        """Run the detector on this camera for ``seconds`` even without motion (open events)."""
        s = self._slots.get(camera_id)
        if s is not None:
            s.keep_alive_until = max(s.keep_alive_until, self.clock() + seconds)

    def set_detector(self, detector: Detector | None) -> None:
        with self._cond:
            self.detector = detector
            self._ready_checked = -1e18
            self._cond.notify_all()

    # ----- frames
    def submit(self, camera_id: Any, frame: Frame, now: float | None = None) -> bool:
        """Offer a frame of a camera (rate limit and motion gate apply); True when it was slotted."""
        s = self._slots.get(camera_id)
        if s is None:
            return False
        now = self.clock() if now is None else now
        if now < s.next_due or frame.seq <= s.last_seq:
            return False
        ok = self._sample(s, frame, now)
        if ok:
            with self._cond:
                self._cond.notify_all()
        return ok

    def _sample(self, s: CameraSlot, frame: Frame, now: float) -> bool:
        period = 1.0 / s.fps
        s.next_due = now + period if now - s.next_due > period else s.next_due + period
        s.last_seq = frame.seq
        s.sampled += 1
        # a stateful detector (the hotspot detector's background) must see every sampled frame
        wanted = s.bypass_gate or s.gate is None or now < s.keep_alive_until or \
            bool(getattr(self.detector, "stateful", False))
        if s.gate is not None:
            try:
                s.last_motion = s.gate.update(frame, now)
            except Exception:
                log.exception("motion gate failed on camera %s", s.camera_id)
                s.last_motion = MotionResult(True, active=True)
            wanted = wanted or s.last_motion.active
        if not wanted:
            s.gated += 1
            return False
        with s.lock:
            if s.pending is not None:
                s.replaced += 1
            s.pending = frame
        return True

    def poll(self, now: float | None = None) -> float:
        """Sample every due camera that has a source; returns seconds until the next is due."""
        now = self.clock() if now is None else now
        wait = 1.0
        for s in list(self._slots.values()):
            if s.source is None:
                continue
            if now >= s.next_due:
                f = s.source.latest()
                if f is not None and f.seq > s.last_seq:
                    self._sample(s, f, now)
                else:
                    wait = min(wait, self.poll_interval)  # due, but no new frame yet
                    continue
            wait = min(wait, max(s.next_due - now, 0.0))
        return wait

    def _take_batch(self) -> list[tuple[CameraSlot, Frame]]:
        det = self.detector
        n = max(1, det.max_batch if det is not None else 1)
        batch = []
        with self._cond:
            order = list(self._order)
            if not order:
                return batch
            start = self._rr % len(order)
            last = None
            for k in range(len(order)):
                i = (start + k) % len(order)
                s = self._slots.get(order[i])
                if s is None:
                    continue
                with s.lock:
                    f, s.pending = s.pending, None
                if f is not None:
                    batch.append((s, f))
                    last = i
                    if len(batch) >= n:
                        break
            if last is not None:
                self._rr = (last + 1) % len(order)
        return batch

    def _detector_ready(self) -> bool:
        det = self.detector
        if det is None:
            return False
        now = time.monotonic()
        if now - self._ready_checked >= 1.0:
            self._ready_checked = now
            try:
                self._ready = det.status().state == "ready"
            except Exception:  # noqa: BLE001
                self._ready = False
        return self._ready

    def run_once(self, now: float | None = None) -> int:
        """Poll sources, then run the detector on one batch of ready cameras; returns frames detected."""
        self.poll(now)
        batch = self._take_batch()
        if not batch:
            return 0
        if not self._detector_ready():
            for s, _ in batch:
                s.unavailable += 1
            return 0
        frames = [f for _, f in batch]
        t0 = time.perf_counter()
        try:
            results = self.detector.detect_keyed([s.camera_id for s, _ in batch], frames)
            if len(results) != len(frames):
                raise RuntimeError(f"detector returned {len(results)} results for {len(frames)} frames")
        except Exception as exc:
            self.errors += 1
            self.last_error = f"{exc.__class__.__name__}: {exc}"
            log.exception("detector failed")
            return 0
        ms = (time.perf_counter() - t0) * 1000.0
        self.calls += 1
        self.frames += len(frames)
        self.busy_s += ms / 1000.0
        wall = time.time()
        for (s, f), dets in zip(batch, results):
            s.detected += 1
            s.last_inference_ms = round(ms, 2)
            s.last_detect_at = wall
            if self.on_result is not None:
                try:
                    self.on_result(s.camera_id, f, list(dets))
                except Exception:
                    log.exception("detection result handler failed for camera %s", s.camera_id)
        return len(frames)

    # ----- thread
    def start(self) -> DetectorWorker:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="detector-worker", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.run_once()
            except Exception:
                log.exception("detector worker iteration failed")
                done = 0
            if done:
                continue  # more may be ready
            wait = self.poll()
            if any(s.pending is not None for s in list(self._slots.values())):
                continue
            with self._cond:
                if not self._stop.is_set():
                    self._cond.wait(min(max(wait, 0.001), 0.5))

    def stats(self) -> dict[str, Any]:
        return {
            "running": self.running, "calls": self.calls, "frames": self.frames, "errors": self.errors,
            "busy_s": round(self.busy_s, 6),
            "last_error": self.last_error,
            "gate_skipped": sum(s.gated for s in self._slots.values()),
            "replaced": sum(s.replaced for s in self._slots.values()),
            "cameras": {str(cid): s.as_dict() for cid, s in list(self._slots.items())},
        }


__all__ = ["CameraSlot", "DetectorWorker", "FrameSource"]

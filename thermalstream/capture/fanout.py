"""Frame fan-out: the latest frame for viewers, bounded queues for consumers that need every frame."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from thermalstream.frame import Frame


class LatestFrame:
    """A single slot holding the newest frame. Writers never wait; readers wait for a newer seq."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._cond = threading.Condition()

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._frame = frame
            self._cond.notify_all()

    def get(self) -> Frame | None:
        return self._frame

    def wait_newer(self, seq: int, timeout: float | None = None) -> Frame | None:
        """The latest frame with ``frame.seq > seq``, waiting up to ``timeout``; None on timeout."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._frame is not None and self._frame.seq > seq, timeout)
            return self._frame if ok else None

    def wake(self) -> None:
        """Wake all waiters (used on shutdown)."""
        with self._cond:
            self._cond.notify_all()


@dataclass(eq=False)
class Subscription:
    """A bounded queue of every frame for one consumer (the recorder). When the consumer falls
    behind, new frames are dropped and counted: capture never waits."""

    maxsize: int = 64
    name: str = ""
    dropped: int = 0
    delivered: int = 0
    _q: queue.Queue = field(init=False)

    def __post_init__(self) -> None:
        self._q = queue.Queue(maxsize=self.maxsize)

    def offer(self, frame: Frame) -> bool:
        try:
            self._q.put_nowait(frame)
        except queue.Full:
            self.dropped += 1
            return False
        self.delivered += 1
        return True

    def get(self, timeout: float | None = None) -> Frame | None:
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None

    def qsize(self) -> int:
        return self._q.qsize()


class FanOut:
    """Latest-frame slot plus a set of every-frame subscriptions."""

    def __init__(self) -> None:
        self.latest = LatestFrame()
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(self, maxsize: int = 64, name: str = "") -> Subscription:
        sub = Subscription(maxsize=maxsize, name=name)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, frame: Frame) -> None:
        self.latest.put(frame)
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.offer(frame)

    @property
    def dropped(self) -> int:
        with self._lock:
            return sum(s.dropped for s in self._subs)

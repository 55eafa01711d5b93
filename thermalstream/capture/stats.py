"""Per-camera capture statistics."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CameraStats:
    fps: float
    frames: int
    dropped: int
    last_frame_age: float | None  # seconds since the last frame, None before the first
    reconnects: int

    def as_dict(self) -> dict:
        return asdict(self)


class FpsMeter:
    """Frames per second over a sliding window of recent frame times."""

    def __init__(self, window_s: float = 2.0, max_samples: int = 256) -> None:
        self.window_s = window_s
        self._t: deque[float] = deque(maxlen=max_samples)

    def tick(self, now: float | None = None) -> None:
        self._t.append(time.monotonic() if now is None else now)

    def fps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        while self._t and now - self._t[0] > self.window_s:
            self._t.popleft()
        if len(self._t) < 2:
            return 0.0
        span = self._t[-1] - self._t[0]
        return (len(self._t) - 1) / span if span > 0 else 0.0

    @property
    def last(self) -> float | None:
        return self._t[-1] if self._t else None

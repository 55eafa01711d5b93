"""Helpers shared by the drivers: boolean URL options and frame pacing."""

from __future__ import annotations

import threading
import time

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


def flag(params: dict[str, str], name: str, default: bool = False) -> bool:
    """A boolean URL option such as ``?loop=1``; absent means ``default``."""
    value = params.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE


class Pacer:
    """Spaces reads ``1/fps`` apart. A reader that falls behind skips ahead instead of getting a
    burst of frames. Setting ``stop`` (e.g. on close) cuts the wait short."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self._stop = stop or threading.Event()
        self._due = 0.0

    def reset(self) -> None:
        self._due = 0.0

    def wait(self, fps: float | None) -> None:
        if not fps or fps <= 0:
            return
        now = time.monotonic()
        if self._due > now:
            self._stop.wait(self._due - now)
        self._due = max(now, self._due) + 1.0 / fps

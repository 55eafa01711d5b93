"""Camera connection notifications, coalesced per camera.

One "Camera connection lost" per outage (a camera retrying with new error messages is still the
same outage) and one "Camera reconnected" when it is back. A camera that drops again within
``window_s`` of its last announced loss (flapping) is not announced at once: when the window
ends, one notification says it is still down, or how many brief interruptions it had.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class _State:
    name: str = ""
    reason: str = ""
    down_since: float | None = None  # monotonic; None while connected
    announced: bool = False  # this outage's "connection lost" was sent
    last_note: float = float("-inf")  # monotonic time of the last "connection lost"
    flaps: int = 0  # outages not announced in the current window
    timer: threading.Timer | None = None


class ConnectionAlerts:
    def __init__(self, notifications, window_s: float = 60.0) -> None:
        self.notes = notifications
        self.window_s = float(window_s)
        self._state: dict[Any, _State] = {}
        self._lock = threading.Lock()

    def lost(self, camera_id, name: str, reason: str) -> None:
        """The camera lost its connection (called for every retry; only the first one counts)."""
        now = time.monotonic()
        with self._lock:
            st = self._state.setdefault(camera_id, _State())
            st.name, st.reason = name, reason
            if st.down_since is not None:
                return
            st.down_since = now
            if now - st.last_note < self.window_s:
                st.flaps += 1
                self._schedule(camera_id, st, st.last_note + self.window_s - now)
                return
            st.announced, st.last_note = True, now
        self._send("warning", "Camera connection lost", f"{name}: {reason}; reconnecting", camera_id)

    def back(self, camera_id, name: str) -> None:
        """The camera delivers frames again."""
        with self._lock:
            st = self._state.get(camera_id)
            if st is None or st.down_since is None:
                return
            down = time.monotonic() - st.down_since
            st.down_since, announced = None, st.announced
            st.announced = False
        if announced:
            self._send("success", "Camera reconnected", f"{name}: live again after {down:.1f} s", camera_id)

    def forget(self, camera_id) -> None:
        with self._lock:
            st = self._state.pop(camera_id, None)
        if st is not None and st.timer is not None:
            st.timer.cancel()

    def _schedule(self, camera_id, st: _State, delay: float) -> None:
        if st.timer is None or not st.timer.is_alive():
            st.timer = threading.Timer(max(delay, 0.0), self._window_end, args=(camera_id,))
            st.timer.daemon = True
            st.timer.start()

    def _window_end(self, camera_id) -> None:
        with self._lock:
            st = self._state.get(camera_id)
            if st is None or not st.flaps:
                return
            flaps, st.flaps, st.timer = st.flaps, 0, None
            name, reason = st.name, st.reason
            still_down = st.down_since is not None and not st.announced
            if still_down:
                st.announced, st.last_note = True, time.monotonic()
        extra = f"{flaps} interruption(s) in the last {self.window_s:.0f} s"
        if still_down:
            self._send("warning", "Camera connection lost", f"{name}: {reason}; reconnecting ({extra})", camera_id)
        else:
            self._send("warning", "Camera connection unstable", f"{name}: {extra}, live now", camera_id)

    def _send(self, type_: str, title: str, message: str, camera_id) -> None:
        self.notes.notify(type_, title, message, data={"camera_id": camera_id})


__all__ = ["ConnectionAlerts"]

"""Reports on their way from a worker to the server, shared by the process and Ray backends: the
worker's threads hand every report to an :class:`Outbox` and never wait for the link."""

from __future__ import annotations

import threading
from typing import Any

from thermalstream.workers.protocol import LiveFrame


class Outbox:
    """Reports waiting to be sent: every report in order, but only the newest LiveFrame per camera
    (a slow link loses old pictures, never status or events)."""

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._frames: dict[int, LiveFrame] = {}
        self._cond = threading.Condition()
        self.replaced = 0  # pictures overtaken by a newer one of their camera before they were sent

    def put(self, report: Any) -> None:
        with self._cond:
            if isinstance(report, LiveFrame):
                if report.camera_id in self._frames:
                    self.replaced += 1
                self._frames[report.camera_id] = report
            else:
                self._items.append(report)
            self._cond.notify_all()

    def take(self, timeout: float) -> list[Any]:
        """Everything waiting (reports first, then pictures); [] after ``timeout`` with nothing."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._frames, timeout)
            out = self._items + list(self._frames.values())
            self._items, self._frames = [], {}
        return out

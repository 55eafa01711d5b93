"""A camera's newest live picture handed to every listener and to blocking readers. Shared by
:class:`~thermalstream.live.encoder.LiveEncoder` (pictures encoded in this process) and the
worker backends' :class:`~thermalstream.workers.remote.RemoteEncoder` (pictures a worker encoded).

Listeners must not block: they get the same object, in the publisher's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class _Numbered(Protocol):
    seq: int


P = TypeVar("P", bound=_Numbered)


class PictureFanout(Generic[P]):
    """The newest picture (``_publish``), its listeners and readers (``wait``). Subclasses hear
    of viewers coming and going through ``_watched`` and ``_unwatched``."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[P], None]] = []
        self._pollers = 0
        self._latest: P | None = None
        self._cond = threading.Condition()
        self.encoded = 0  # pictures published

    def add_listener(self, listener: Callable[[P], None]) -> Callable[[], None]:
        """Hand every new picture to ``listener``; returns the function that removes it."""
        with self._cond:
            self._listeners.append(listener)
        self._watched()

        def remove() -> None:
            with self._cond:
                if listener in self._listeners:
                    self._listeners.remove(listener)
            self._unwatched()

        return remove

    def wait(self, after_seq: int, timeout: float = 5.0) -> P | None:
        """Blocking read for thread-per-client consumers (MJPEG): the newest picture once it is
        newer than ``after_seq``, None after ``timeout``. Counts as a viewer while it waits."""
        with self._cond:
            self._pollers += 1
        self._watched()
        try:
            with self._cond:
                ok = self._cond.wait_for(lambda: self._latest is not None and self._latest.seq > after_seq, timeout)
                return self._latest if ok else None
        finally:
            with self._cond:
                self._pollers -= 1
            self._unwatched()

    @property
    def viewers(self) -> int:
        return len(self._listeners) + self._pollers

    def _publish(self, picture: P) -> bool:
        """Keep ``picture`` as the newest (if ``_accept`` takes it) and hand it to every listener."""
        with self._cond:
            if not self._accept(picture):
                return False
            self._latest = picture
            self.encoded += 1
            listeners = list(self._listeners)
            self._cond.notify_all()
        for listener in listeners:
            try:
                listener(picture)
            except Exception:
                log.exception("live listener failed")
        return True

    def _accept(self, picture: P) -> bool:
        """Whether to publish ``picture`` (called under the lock)."""
        return True

    def _watched(self) -> None:
        """A listener or reader came."""

    def _unwatched(self) -> None:
        """A listener or reader left."""

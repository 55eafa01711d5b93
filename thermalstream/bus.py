"""In-process publish/subscribe for events (camera status, notifications).

The interface is small on purpose so that a broker-backed bus (Redis, PostgreSQL
LISTEN/NOTIFY) can replace it when capture workers run on several machines.
Subscribers are called on the publisher's thread and must not block; a subscriber
that raises is logged and kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """``topic`` is e.g. ``"camera.status"`` or ``"notification"``; ``user_id`` limits delivery
    to one user's sessions (None: everyone allowed to see the topic)."""

    topic: str
    data: dict[str, Any] = field(default_factory=dict)
    user_id: int | None = None


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._subs: list[tuple[str, Handler]] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler, prefix: str = "") -> Callable[[], None]:
        """Call ``handler`` for events whose topic starts with ``prefix``; returns an unsubscribe function."""
        entry = (prefix, handler)
        with self._lock:
            self._subs.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)

        return unsubscribe

    def publish(self, topic: str, data: dict[str, Any] | None = None, user_id: int | None = None) -> Event:
        event = Event(topic, data or {}, user_id)
        with self._lock:
            subs = list(self._subs)
        for prefix, handler in subs:
            if event.topic.startswith(prefix):
                try:
                    handler(event)
                except Exception:  # a broken viewer must not break capture
                    log.exception("event handler failed for %s", topic)
        return event

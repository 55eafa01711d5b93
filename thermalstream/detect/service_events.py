"""DetectionService's event side: what each camera's :class:`EventManager` calls back.

``_event_start`` inserts the event row; ``_event_notify`` publishes ``"detection.event"`` (``state`` =
``"start"``) and sends one notification per event; a better snapshot of an announced event publishes
``state`` = ``"update"``; ``_event_end`` updates the row and publishes ``state`` = ``"end"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from thermalstream.detect.events import TrackedEvent
from thermalstream.detect.types import Detection
from thermalstream.frame import Frame

if TYPE_CHECKING:
    from thermalstream.bus import EventBus
    from thermalstream.detect.pipeline import Pipeline
    from thermalstream.detect.store import DetectionStore
    from thermalstream.notifications import NotificationService

log = logging.getLogger(__name__)

TOPIC_EVENT = "detection.event"


class DetectionEvents:
    """Mixed into :class:`~thermalstream.detect.service.DetectionService`: event rows, snapshots,
    notifications and the ``detection.event`` topic."""

    bus: EventBus
    store: DetectionStore
    notes: NotificationService | None
    palette: Callable[[int], str]
    events_started: int
    notifications_sent: int

    def _event_start(self, p: Pipeline, ev: TrackedEvent) -> None:
        self.events_started += 1
        try:
            ev.db_id = self.store.create_event(p.camera_id, ev.label, ev.started_at, zones=ev.zones,
                                               max_confidence=ev.max_confidence, max_celsius=ev.max_celsius,
                                               max_counts=ev.max_counts, hint=ev.hint)
        except Exception:
            log.exception("camera %s: could not save event", p.camera_id)

    def _event_snapshot(self, p: Pipeline, ev: TrackedEvent, frame: Frame, dets: list[Detection]) -> str | None:
        rel = self.store.save_screenshot(p.camera_id, frame, dets, palette=self._palette(p.camera_id), zones=p.zones)
        if rel and ev.db_id is not None:
            self.store.update_event(ev.db_id, snapshot_path=rel)
        if rel and ev.notified:  # a better snapshot of an announced event: integrations get an "update"
            self.bus.publish(TOPIC_EVENT, {**self._event_data(p, ev), "snapshot": True, "state": "update"})
        return rel

    @staticmethod
    def _event_data(p: Pipeline, ev: TrackedEvent) -> dict[str, Any]:
        return {"kind": "detection", "camera_id": p.camera_id, "event_id": ev.db_id, "label": ev.label,
                "confidence": round(ev.max_confidence, 3),
                "max_celsius": None if ev.max_celsius is None else round(ev.max_celsius, 1),
                "zones": list(ev.zones), "snapshot": ev.snapshot_path is not None, "started_at": ev.started_at}

    def _event_notify(self, p: Pipeline, ev: TrackedEvent) -> None:
        data = self._event_data(p, ev)
        self.bus.publish(TOPIC_EVENT, {**data, "state": "start"})
        if self.notes is None:
            return
        temp = f", {ev.max_celsius:.1f} °C" if ev.max_celsius is not None else ""
        zone = f" in {', '.join(ev.zones)}" if ev.zones else ""
        self.notes.notify("info", f"{ev.label.capitalize()} detected",
                          f"{p.name}: {ev.label}{zone} ({ev.max_confidence:.0%}{temp})", data=data)
        self.notifications_sent += 1

    def _event_end(self, p: Pipeline, ev: TrackedEvent) -> None:
        if ev.db_id is not None:
            self.store.update_event(ev.db_id, ended_at=ev.ended_at, max_confidence=ev.max_confidence,
                                    max_celsius=ev.max_celsius, max_counts=ev.max_counts, hint=ev.hint,
                                    zones=ev.zones, snapshot_path=ev.snapshot_path)
        self.bus.publish(TOPIC_EVENT, {"state": "end", "camera_id": p.camera_id, "event_id": ev.db_id,
                                       "label": ev.label, "started_at": ev.started_at, "ended_at": ev.ended_at,
                                       "confidence": round(ev.max_confidence, 3), "zones": list(ev.zones)})

    def _palette(self, camera_id: int) -> str:
        try:
            return self.palette(camera_id)
        except Exception:  # noqa: BLE001
            return "inferno"

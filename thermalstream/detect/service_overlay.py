"""DetectionService's live overlay: the newest boxes per camera for viewers, drawn onto the live
picture, published on bus topic ``"detections"``, cleared when stale by the housekeeping tick."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from thermalstream.detect.draw import draw_detections, draw_zones, overlay_items
from thermalstream.detect.types import Detection
from thermalstream.frame import Frame

if TYPE_CHECKING:
    from thermalstream.bus import EventBus
    from thermalstream.detect.pipeline import Pipeline

log = logging.getLogger(__name__)

TOPIC_DETECTIONS = "detections"


class DetectionOverlay:
    """Mixed into :class:`~thermalstream.detect.service.DetectionService`: overlay and housekeeping."""

    bus: EventBus
    overlay_ttl: float
    housekeeping_interval: float
    _pipes: dict[int, Pipeline]
    _stop: threading.Event

    # ----- overlay for the live view
    def _publish_overlay(self, p: Pipeline, frame: Frame | None, dets: list[Detection], ts: float) -> None:
        h, w = frame.shape if frame is not None else (None, None)
        data = {"camera_id": p.camera_id, "seq": frame.seq if frame is not None else None, "timestamp": ts,
                "width": w, "height": h, "detections": overlay_items(dets)}
        with p.lock:
            p.latest = data
            p.detections = list(dets)
            p.latest_at = time.monotonic()
        self.bus.publish(TOPIC_DETECTIONS, data)

    def latest(self, camera_id: int) -> dict[str, Any] | None:
        """The newest overlay of a camera: ``{camera_id, seq, timestamp, width, height, detections:
        [{label, confidence, track_id, box, max_celsius, colour}]}``; None when detection is off.
        Detections older than ``overlay_ttl`` seconds are not shown."""
        p = self._pipes.get(camera_id)
        if p is None:
            return None
        with p.lock:
            if p.latest is None:
                return {"camera_id": camera_id, "seq": None, "timestamp": None, "width": None, "height": None,
                        "detections": []}
            data = dict(p.latest)
            if time.monotonic() - p.latest_at > self.overlay_ttl:
                data["detections"] = []
            return data

    def overlay(self, camera_id: int, image: np.ndarray) -> np.ndarray:
        """Draw the camera's masks, zones and current boxes onto ``image`` (BGR, the camera's frame
        size) in place and return it; unchanged when detection is off. For the live encoder."""
        p = self._pipes.get(camera_id)
        if p is None:
            return image
        with p.lock:
            dets = list(p.detections)
            fresh = time.monotonic() - p.latest_at <= self.overlay_ttl
        if image.ndim != 3:
            return image
        if p.zones.masks or p.zones.zones:
            draw_zones(image, p.zones)  # masks darkened, zones outlined and named
        if dets and fresh:
            draw_detections(image, dets)
        return image

    # ----- housekeeping
    def _housekeeping(self) -> None:
        while not self._stop.wait(self.housekeeping_interval):
            self.tick(time.time())

    def tick(self, now: float) -> None:
        """Close events unseen for ``close_after`` seconds; clear stale overlays."""
        for p in list(self._pipes.values()):
            try:
                p.events.tick(now)
                with p.lock:
                    stale = p.detections and time.monotonic() - p.latest_at > self.overlay_ttl
                if stale:
                    self._publish_overlay(p, None, [], now)
            except Exception:
                log.exception("camera %s: housekeeping failed", p.camera_id)

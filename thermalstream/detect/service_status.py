"""DetectionService's detector side: loading it off the start-up path, its state, counters and
the status and health reports built from them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from thermalstream.detect.types import Detector, DetectorStatus

if TYPE_CHECKING:
    from thermalstream.detect.pipeline import Pipeline
    from thermalstream.detect.store import DetectionStore
    from thermalstream.detect.worker import DetectorWorker

log = logging.getLogger(__name__)

NO_DETECTOR = ("no detector configured (THERMALSTREAM_DETECTOR=none): set THERMALSTREAM_DETECTOR=hotspot "
               "(weightless) or yolo (with weights) and restart the server")


class DetectionStatusReport:
    """Mixed into :class:`~thermalstream.detect.service.DetectionService`: the detector and reports."""

    factory: Callable[[], Detector] | None
    worker: DetectorWorker
    store: DetectionStore
    events_started: int
    notifications_sent: int
    _load_status: DetectorStatus
    _pipes: dict[int, Pipeline]

    def _load_detector(self) -> None:
        try:
            det = self.factory()
        except Exception as exc:
            log.exception("loading the detector failed")
            self._load_status = DetectorStatus("error", message=f"{exc.__class__.__name__}: {exc}")
            return
        self.worker.set_detector(det)
        self._load_status = DetectorStatus("ready", model=getattr(det, "name", ""))

    def set_detector(self, detector: Detector | None) -> None:
        """Use this detector from now on (e.g. after `thermalstream models export`)."""
        self.worker.set_detector(detector)
        self._load_status = DetectorStatus("ready" if detector else "unavailable",
                                           message="" if detector else NO_DETECTOR)

    def detector_status(self, camera_id: int | None = None) -> DetectorStatus:
        """The detector's state; in-process one detector serves every camera, so ``camera_id`` is
        ignored (workers each have their own: :class:`~thermalstream.workers.services.RemoteDetectionService`)."""
        det = self.worker.detector
        if det is None:
            return self._load_status
        try:
            return det.status()
        except Exception as exc:  # noqa: BLE001
            return DetectorStatus("error", message=f"{exc.__class__.__name__}: {exc}")

    def worker_stats(self) -> dict[str, Any]:
        """The detector's counters (``DetectorWorker.stats()``: calls, frames, errors, busy_s, cameras…)."""
        return self.worker.stats()

    def camera_detector(self, camera_id: int) -> dict[str, Any]:
        """What detection does for this camera: ``note`` (e.g. why nothing can be detected), its
        ``detector`` (state, backend, model, message) and ``last_inference_ms``."""
        note = getattr(self.worker.detector, "camera_note", None)
        slot = self.worker.slot(camera_id)
        return {"note": note(camera_id) if callable(note) else None,
                "detector": asdict(self.detector_status(camera_id)),
                "last_inference_ms": None if slot is None else slot.last_inference_ms}

    # ----- status
    def status(self) -> dict[str, Any]:
        det = self.detector_status()
        cams = {str(cid): entry for cid in self.active_cameras() if (entry := self.camera_status(cid)) is not None}
        return {
            "detector": {"state": det.state, "backend": det.backend, "model": det.model, "message": det.message},
            "worker": {k: v for k, v in self.worker_stats().items() if k != "cameras"},
            "store": self.store.stats.as_dict(),
            "cameras": cams,
            "events_started": self.events_started,
            "notifications": self.notifications_sent,
        }

    def active_cameras(self) -> list[int]:
        """The cameras detection is on for (and attached)."""
        return list(self._pipes)

    def camera_status(self, camera_id: int) -> dict[str, Any] | None:
        """A camera's entry in ``status()["cameras"]``: its config, detector, tracker, events and
        detector slot; None while detection is off for it."""
        p = self._pipes.get(camera_id)
        if p is None:
            return None
        slot = self.worker.slot(camera_id)
        return {**p.config.to_json(), **self.camera_detector(camera_id),
                "tracker": p.tracker.kind, "active_events": len(p.events.active()),
                "events_started": p.events.started, "notified": p.events.notified,
                **({} if slot is None else {k: v for k, v in slot.as_dict().items() if k != "camera_id"})}

    def health(self) -> dict[str, Any]:
        """For ``Runtime.health()["model"]``: ``{status, backend, model, detail}``."""
        det = self.detector_status()
        return {"status": det.state, "backend": det.backend, "model": det.model, "detail": det.message,
                "cameras": len(self._pipes)}

"""The server's services when cameras run on workers: the same classes and answers as in-process,
with the per-camera part sent to the camera's worker through the Backend.

* :class:`RemoteRecordingService`: start/stop run on the worker (which writes the rows and the
  folder); queries read the shared database as always. When a worker dies while recording, the
  recording is closed from its folder, a new one starts on the camera's new worker, and the gap
  is recorded in the old ``recording.json`` (``gaps``, ``continued_in``), in the old row's
  ``error`` and in a warning notification.
* :class:`RemoteDetectionService`: switching and settings saved here, applied on the worker.
* :class:`RemoteDisplayStore`: level/span changes reach the worker that draws the picture.
* :class:`RemoteMeasureService`, :class:`RemoteEventRecordings`: ROIs, alarm rules and the
  record-on-events mode are saved here as always; the camera's worker measures and buffers, and
  its live values and state come back with its stats.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict
from typing import Any

from thermalstream.db.models import Recording
from thermalstream.db.types import as_utc
from thermalstream.detect.service import DetectConfig, DetectionService
from thermalstream.detect.types import DetectorStatus
from thermalstream.display import DisplaySettings, DisplayStore
from thermalstream.measure.service import MeasureService
from thermalstream.record.events import EventRecordingService
from thermalstream.record.recorder import MANIFEST, read_manifest
from thermalstream.record.service import REFUSE_STATUSES, RecordingConflict, RecordingService, _Session
from thermalstream.workers.protocol import Backend

log = logging.getLogger(__name__)
COMMAND_TIMEOUT_S = 30.0
RESUME_ATTEMPTS = 5  # the new worker can be lost too (a Ray actor restarting): the camera moves on
RESUME_WAIT_S = 3.0


class _RemoteRecorder:
    """Stands for the worker's Recorder in the server's session table (counters from its stats)."""

    def __init__(self, camera) -> None:
        self.camera = camera

    def stats(self) -> dict[str, Any]:
        rec = getattr(self.camera, "recording", None) or {}
        return {"frames": rec.get("frames", 0), "dropped": rec.get("dropped", 0), "queued": rec.get("queued", 0),
                "segments": rec.get("segments", 0), "bytes": rec.get("bytes", 0)}


class RemoteRecordingService(RecordingService):
    """RecordingService whose recorders run on the cameras' workers."""

    backend: Backend | None = None

    def start(self, camera_id: int, scheduled: bool = False, schedule_id: int | None = None) -> dict[str, Any]:
        cam = self.manager.get(camera_id)
        if cam is None:
            raise RecordingConflict(f"camera {camera_id} is not connected")
        status = getattr(cam.status, "value", cam.status)
        if status in REFUSE_STATUSES:
            reason = f" ({cam.reason})" if cam.reason else ""
            raise RecordingConflict(f"camera {camera_id} is {status}{reason}: cannot record")
        if self.is_recording(camera_id):
            raise RecordingConflict(f"camera {camera_id} is already recording")
        row = self.backend.command(camera_id, "record.start", {"scheduled": scheduled, "schedule_id": schedule_id},
                                   timeout=COMMAND_TIMEOUT_S)
        self._track(camera_id, row["id"], row["path"], cam)
        return self.get(row["id"])

    def stop(self, camera_id: int) -> dict[str, Any]:
        with self._lock:
            sess = self._active.get(camera_id)
        if sess is None:
            raise RecordingConflict(f"camera {camera_id} is not recording")
        try:
            self.backend.command(camera_id, "record.stop", timeout=self.config.stop_timeout + 5)
        finally:
            self.ended(camera_id, sess.recording_id)
        return self.get(sess.recording_id)

    def ended(self, camera_id: int, recording_id: int) -> None:
        """The worker says this recording finished (or the server stopped it)."""
        with self._lock:
            sess = self._active.get(camera_id)
            if sess is not None and sess.recording_id == recording_id:
                del self._active[camera_id]
                sess.done.set()

    def shutdown(self) -> None:
        """Workers close their recordings when they stop; only the bus and the retry thread end here."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self._stop_sync()

    def _on_camera_removed(self, event) -> None:
        with self._lock:
            sess = self._active.pop(event.data.get("camera_id"), None)
        if sess is not None:
            sess.done.set()  # the worker closed it with the camera

    def _track(self, camera_id: int, recording_id: int, path: str, cam) -> None:
        sess = _Session(camera_id, recording_id, self.resolve(path), cam.name, recorder=_RemoteRecorder(cam))
        with self._lock:
            self._active[camera_id] = sess

    # ----- a worker died
    def resume(self, camera_id: int, dead: str, new: str) -> None:
        """The camera moved from the dead worker ``dead`` to ``new``: if it was recording, record
        on again in a new recording and record the gap."""
        with self._lock:
            sess = self._active.pop(camera_id, None)
        if sess is None:
            return
        threading.Thread(target=self._resume, args=(sess, dead, new), name=f"resume-recording-{camera_id}",
                         daemon=True).start()  # retries must not hold up the moves of other cameras

    def _resume(self, sess: _Session, dead: str, new: str) -> None:
        """Start the new recording (again, when the new worker is lost too and the camera moves on),
        then close the dead worker's one."""
        note = f"worker {dead} died while recording"
        for attempt in range(1, RESUME_ATTEMPTS + 1):
            try:
                row = self.start(sess.camera_id)
            except Exception as exc:  # noqa: BLE001 - said in the notification; the old one is closed
                if attempt < RESUME_ATTEMPTS:
                    log.warning("camera %s: recording could not resume yet (%s); trying again",
                                sess.camera_id, exc)
                    time.sleep(RESUME_WAIT_S)
                    continue
                log.exception("camera %s: recording could not resume on worker %s", sess.camera_id, new)
                new_id, msg, end = None, f"{note}; recording could not resume: {exc}", None
            else:
                where = (self.backend.owner(sess.camera_id) if self.backend is not None else None) or new
                msg = f"{note}; recording continues in recording {row['id']} on worker {where}"
                new_id, end = row["id"], time.time()
            break
        self._close_lost(sess, msg, end, new_id)

    def _close_lost(self, sess: _Session, reason: str, end: float | None, new_id: int | None) -> None:
        """Close the dead worker's recording from what decodes in its folder, write the gap (from
        its last readable frame to the new recording's start) and tell the users."""
        try:
            report: dict[str, list] = {"dropped_segments": [], "closed": [], "failed": [], "missing": []}
            segs = self._scan(sess.directory, report)
            man = read_manifest(sess.directory) or {}
            self._apply(sess.recording_id, segs, int(man.get("dropped", 0) or 0), reason)
            with self.db.session() as s:
                r = s.get(Recording, sess.recording_id)
                start = as_utc(r.started_at).timestamp() if r is not None else time.time()
                if r is not None:
                    r.error = reason  # shown with the recording: why it ended early
            last = max((st + probe.duration_s for _i, st, _p, probe in segs), default=start)
            gap = {"start": last, "end": end, "reason": reason}
            _write_gap(sess.directory, gap, new_id)
        except Exception:  # noqa: BLE001 - the next start reconciles it from the folder
            log.exception("recording %s: closing after the worker died failed", sess.recording_id)
            gap = {"start": None, "end": end, "reason": reason}
        length = f"; {end - gap['start']:.1f} s not recorded" if end and gap["start"] else ""
        self._notify("warning", "Recording interrupted: worker lost", f"{sess.camera_name}: {reason}{length}",
                     camera_id=sess.camera_id, recording_id=new_id, previous_recording_id=sess.recording_id,
                     gap_start=gap["start"], gap_end=end)


def _write_gap(directory, gap: dict[str, Any], new_id: int | None) -> None:
    """Add the gap to a dead recorder's manifest (nobody else writes it any more) and finish it."""
    man = read_manifest(directory) or {"format": "thermalstream-recording/1", "segments": []}
    man["gaps"] = [*(man.get("gaps") or []), gap]
    man["finished"] = True
    man["ended_at"] = man.get("ended_at") or gap["start"]
    man["interrupted"] = gap["reason"]
    man["continued_in"] = new_id
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(man, indent=1))
    os.replace(tmp, directory / MANIFEST)


class RemoteDetectionService(DetectionService):
    """Detection switched and configured here (saved in the camera's settings), run by the
    camera's worker. The server loads no detector."""

    backend: Backend | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._remote_on: set[int] = set()

    def enabled(self, camera_id: int) -> bool:
        return camera_id in self._remote_on

    def config(self, camera_id: int) -> dict[str, Any]:
        cfg = super().config(camera_id)
        cfg["active"] = camera_id in self._remote_on
        return cfg

    def configure(self, camera_id: int, **changes: Any) -> dict[str, Any]:
        """As in-process; ``enabled: false`` also stops detection on the camera's worker (the
        base class detaches only pipelines of its own, and the server has none)."""
        out = super().configure(camera_id, **changes)
        if out["enabled"] or camera_id not in self._remote_on:
            return out
        self._detach(camera_id)
        return self.config(camera_id)

    def set_zones(self, camera_id: int, *, masks: Any = None, zones: Any = None) -> dict[str, Any]:
        out = super().set_zones(camera_id, masks=masks, zones=zones)
        if camera_id in self._remote_on:
            self._send(camera_id, self._settings(camera_id), zones=True)
        return out

    def detector_status(self, camera_id: int | None = None) -> DetectorStatus:
        """The detector of the camera's worker (as it last reported), or with no camera the
        workers' detectors (each loads its own): an error or loading one first."""
        reported = getattr(self.manager.get(camera_id), "detector", None) if camera_id is not None else None
        if reported:
            return DetectorStatus(**reported)
        found = [DetectorStatus(**c.detector) for c in self.manager.cameras() if getattr(c, "detector", None)]
        if found:
            order = {"error": 0, "loading": 1, "unavailable": 2, "ready": 3}
            return min(found, key=lambda d: order.get(d.state, 0))
        if self.settings.detector == "none":
            return super().detector_status()
        return DetectorStatus("loading", message="the detector loads in each worker process that runs a camera")

    def health(self) -> dict[str, Any]:
        return {**super().health(), "cameras": len(self._remote_on)}

    def active_cameras(self) -> list[int]:
        return sorted(self._remote_on)

    def camera_detector(self, camera_id: int) -> dict[str, Any]:
        """As in-process, from the camera's worker's last report."""
        cam = self.manager.get(camera_id)
        state = getattr(cam, "detect_state", None) or {}
        slot = getattr(cam, "detector_slot", None) or {}
        return {"note": state.get("note"), "detector": asdict(self.detector_status(camera_id)),
                "last_inference_ms": slot.get("last_inference_ms")}

    def camera_status(self, camera_id: int) -> dict[str, Any] | None:
        """The camera's entry as its worker reported it; until the first report, its saved
        config and what is known of its worker's detector."""
        if camera_id not in self._remote_on:
            return None
        state = getattr(self.manager.get(camera_id), "detect_state", None)
        if state:
            return {**state, **self.camera_detector(camera_id)}
        try:
            cfg = DetectConfig.from_settings(self._settings(camera_id), self.known_labels, self.default_fps)
        except (LookupError, ValueError):
            return None  # removed meanwhile, or settings the worker refuses too (its log says why)
        return {**cfg.to_json(), **self.camera_detector(camera_id)}

    def worker_stats(self) -> dict[str, Any]:
        """The workers' detector counters (summed over every worker so far) and each camera's slot."""
        slots = {str(c.id): c.detector_slot for c in self.manager.cameras() if getattr(c, "detector_slot", None)}
        return {**self.backend.hub.counters.detector(), "cameras": slots}

    def latest(self, camera_id: int) -> dict[str, Any] | None:
        if camera_id not in self._remote_on:
            return None
        cam = self.manager.get(camera_id)
        return getattr(cam, "detection", None) or {"camera_id": camera_id, "seq": None, "timestamp": None,
                                                   "width": None, "height": None, "detections": []}

    def _attach(self, camera_id: int, settings: dict[str, Any]) -> None:
        if self.manager.get(camera_id) is None:
            return
        new = camera_id not in self._remote_on
        self._remote_on.add(camera_id)
        self._send(camera_id, settings)
        if new:
            self._announce(camera_id, True)

    def _detach(self, camera_id: int, announce: bool = True) -> None:
        if camera_id in self._remote_on:
            self._remote_on.discard(camera_id)
            self._send(camera_id, None)
            if announce:
                self._announce(camera_id, False)

    def _on_camera_removed(self, event) -> None:
        self._remote_on.discard(event.data.get("camera_id"))

    def _send(self, camera_id: int, settings: dict[str, Any] | None, zones: bool = False) -> None:
        try:
            self.backend.command(camera_id, "detect", {"settings": settings, "zones": zones})
        except LookupError:
            pass  # not placed: its worker attaches it from the saved settings when it goes live


class RemoteDisplayStore(DisplayStore):
    """Display settings saved as always, and sent to the worker that draws the camera's picture."""

    backend: Backend | None = None

    def set(self, camera_id: int, value: DisplaySettings) -> DisplaySettings:
        out = super().set(camera_id, value)
        try:
            self.backend.command(camera_id, "display", {"display": out.model_dump()})
        except LookupError:
            pass  # not running: its Assign carries the saved settings
        return out


class RemoteMeasureService(MeasureService):
    """ROIs and alarm rules measured by the cameras' workers; live values from their stats."""

    backend: Backend | None = None

    def start(self) -> RemoteMeasureService:
        return self  # nothing to sample here: each worker measures its cameras

    def reload(self, camera_id: int) -> None:
        try:
            self.backend.command(camera_id, "rois")
        except LookupError:
            pass  # not running: its worker reads the ROIs and rules when it starts the camera

    def live(self, camera_id: int) -> dict[str, Any] | None:
        return getattr(self.manager.get(camera_id), "measure", None)

    def records_alarms(self, camera_id: int) -> bool:
        return False  # the worker keeps the camera's pre-capture buffer


class RemoteEventRecordings(EventRecordingService):
    """Record-on-events modes saved here; the cameras' workers buffer and record. The shared
    pre-capture buffer folder is cleared when this is built, before any worker starts."""

    backend: Backend | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clear_buffer_root()

    def start(self) -> RemoteEventRecordings:
        return self

    def set_mode(self, camera_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        super().set_mode(camera_id, changes)
        try:
            self.backend.command(camera_id, "record_mode")
        except LookupError:
            pass  # not running: its worker reads the mode when it starts the camera
        return self.info(camera_id)

    def info(self, camera_id: int) -> dict[str, Any]:
        out = super().info(camera_id)
        state = getattr(self.manager.get(camera_id), "events", None) or {}
        return {**out, "buffering": bool(state.get("buffering")), "recording_id": state.get("recording_id")}

    def active_count(self) -> int:
        return sum(1 for c in self.manager.cameras() if (getattr(c, "events", None) or {}).get("recording_id"))

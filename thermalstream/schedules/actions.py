"""What a schedule trigger does to a camera: start its recording, or stop a scheduled one outside every window."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from thermalstream.db.models import Camera, Recording, RecordingSchedule
from thermalstream.db.types import as_utc
from thermalstream.notifications import notify_quietly
from thermalstream.schedules.windows import window_state

log = logging.getLogger(__name__)


class ScheduleActions:
    """The start/stop actions of :class:`~thermalstream.schedules.service.ScheduleService` (its base):
    uses its ``db``, ``recorder``, ``notifications`` and ``notify_success``; each returns the action taken."""

    def _act(self, action: str, schedule_id: int | None, camera_id: int | None, now: datetime, reason: str,
             **extra: Any) -> dict[str, Any]:
        out = {"action": action, "schedule_id": schedule_id, "camera_id": camera_id,
               "at": as_utc(now).isoformat(), "reason": reason, **extra}
        log.info("schedule %s camera %s: %s (%s)", schedule_id, camera_id, action, reason)
        return out

    def _current(self, camera_id: int) -> tuple[bool, Recording | None]:
        """(recording?, the newest ``recording`` row of the camera if any)."""
        with self.db.session() as s:
            row = s.scalars(select(Recording).where(Recording.camera_id == camera_id,
                                                    Recording.status == "recording")
                            .order_by(Recording.started_at.desc(), Recording.id.desc()).limit(1)).first()
        probe = getattr(self.recorder, "is_recording", None)
        recording = bool(probe(camera_id)) if callable(probe) else row is not None
        return recording, (row if recording else None)

    def _camera_name(self, camera_id: int) -> str:
        with self.db.session() as s:
            cam = s.get(Camera, camera_id)
            return cam.name if cam is not None else f"camera {camera_id}"

    def _start(self, sched: dict[str, Any], now: datetime, reason: str) -> dict[str, Any]:
        cam = sched["camera_id"]
        recording, _row = self._current(cam)
        if recording:
            return self._act("none", sched["id"], cam, now, f"{reason}: already recording")
        data = {"camera_id": cam, "schedule_id": sched["id"]}
        try:
            rec = self.recorder.start(cam, scheduled=True, schedule_id=sched["id"])
        except Exception as exc:
            conflict = any("Conflict" in k.__name__ or "Full" in k.__name__ for k in type(exc).__mro__)
            if not conflict:
                log.exception("recorder.start failed for camera %s", cam)
            notify_quietly(self.notifications, "warning", "Scheduled recording not started",
                           f"{self._camera_name(cam)} ({sched['name']}): {exc}", {**data, "error": str(exc)})
            return self._act("start_failed", sched["id"], cam, now, reason, error=f"{exc}")
        rec_id = rec.get("id") if isinstance(rec, Mapping) else None
        if self.notify_success:
            notify_quietly(self.notifications, "info", "Scheduled recording started",
                           f"{self._camera_name(cam)} ({sched['name']})", {**data, "recording_id": rec_id})
        return self._act("start", sched["id"], cam, now, reason, recording_id=rec_id)

    def _stop_if_due(self, camera_id: int, now: datetime, sched: dict[str, Any] | None, reason: str) -> dict[str, Any]:
        sid = sched["id"] if sched else None
        with self.db.session() as s:
            rows = s.scalars(select(RecordingSchedule).where(
                RecordingSchedule.camera_id == camera_id, RecordingSchedule.enabled.is_(True))).all()
            still_open = [r.id for r in rows if window_state(r, now)[0]]
        if still_open:
            return self._act("none", sid, camera_id, now,
                             f"{reason}: schedule {still_open[0]}'s window is open; recording continues")
        recording, row = self._current(camera_id)
        if not recording:
            return self._act("none", sid, camera_id, now, f"{reason}: not recording")
        if row is not None and not row.scheduled:
            return self._act("none", sid, camera_id, now, f"{reason}: a manual recording is left running")
        data = {"camera_id": camera_id, "schedule_id": sid if sid is not None else (row.schedule_id if row else None)}
        try:
            rec = self.recorder.stop(camera_id)
        except Exception as exc:
            conflict = any("Conflict" in k.__name__ for k in type(exc).__mro__)
            if not conflict:
                log.exception("recorder.stop failed for camera %s", camera_id)
            notify_quietly(self.notifications, "warning", "Scheduled recording not stopped",
                           f"{self._camera_name(camera_id)}: {exc}", {**data, "error": str(exc)})
            return self._act("stop_failed", sid, camera_id, now, reason, error=f"{exc}")
        rec_id = rec.get("id") if isinstance(rec, Mapping) else (row.id if row is not None else None)
        if self.notify_success:
            name = f" ({sched['name']})" if sched else ""
            notify_quietly(self.notifications, "info", "Scheduled recording stopped",
                           f"{self._camera_name(camera_id)}{name}", {**data, "recording_id": rec_id})
        return self._act("stop", sid, camera_id, now, reason, recording_id=rec_id)


__all__ = ["ScheduleActions"]

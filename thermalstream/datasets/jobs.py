"""Exports that run in the background: one worker thread, progress, and a notification with the
download link when the file is ready.

A job belongs to the user who asked for it; its file is served only to that user (or an admin), and
only while they may still see every camera in it. Jobs are kept in memory: after a restart the list
is empty, and the files left under ``exports/`` are deleted by the next job's clean-up (files live
``EXPORT_TTL_S``).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from thermalstream.datasets.export import SUFFIX, export_radiometric, export_table
from thermalstream.datasets.recording import RecordingData
from thermalstream.db import Database
from thermalstream.db.models import Recording

log = logging.getLogger(__name__)
EXPORT_TTL_S = 24 * 3600
KINDS = {"detections": ("csv", "parquet"), "events": ("csv", "parquet"), "radiometric": ("netcdf", "hdf5"),
         "roi_series": ("csv", "parquet")}


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat() if t else None


class ExportRequest(BaseModel):
    """What to export. Radiometric data: a ``recording_id``, or a ``camera_id`` with ``since`` and
    ``until``. Tables: filtered as on the Detections page. ROI series: ``roi_ids`` (and ``since``,
    ``until``, ``resolution``)."""

    kind: Literal["detections", "events", "radiometric", "roi_series"]
    format: Literal["csv", "parquet", "netcdf", "hdf5"]
    camera_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    recording_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    since: datetime | None = None
    until: datetime | None = None
    label: str | None = Field(default=None, max_length=64)
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    step: int = Field(default=1, ge=1, le=100_000, description="radiometric: every n-th frame")
    roi_ids: list[int] | None = Field(default=None, min_length=1, max_length=100, description="roi_series: the ROIs")
    resolution: Literal["auto", "raw", "minute"] = Field(default="auto", description="roi_series: samples or minutes")

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _consistent(self) -> ExportRequest:
        if self.format not in KINDS[self.kind]:
            raise ValueError(f"{self.kind} exports as {' or '.join(KINDS[self.kind])}, not {self.format}")
        if self.kind == "radiometric" and self.recording_id is None and not (
                self.camera_id and self.since and self.until):
            raise ValueError("radiometric exports need recording_id, or camera_id with since and until")
        if self.kind == "roi_series" and not self.roi_ids:
            raise ValueError("roi_series exports need roi_ids")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


@dataclass
class ExportJob:
    id: str
    user_id: int
    request: ExportRequest
    camera_ids: list[int] | None  # None: every camera (a user who sees all of them)
    status: str = "queued"  # queued, running, done, failed
    progress: float = 0.0
    error: str | None = None
    path: Path | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.request.kind, "format": self.request.format, "status": self.status,
                "progress": round(self.progress, 3), "error": self.error, "camera_ids": self.camera_ids,
                "filename": self.path.name if self.path and self.status == "done" else None,
                "size_bytes": self.path.stat().st_size if self.path and self.status == "done" else None,
                "download_url": f"/api/exports/{self.id}/download" if self.status == "done" else None,
                "created_at": _iso(self.created_at), "finished_at": _iso(self.finished_at)}


class ExportService:
    def __init__(self, db: Database, recordings_dir: Path, exports_dir: Path, notifications=None) -> None:
        self.db = db
        self.recordings_dir = Path(recordings_dir)
        self.dir = Path(exports_dir)
        self.notifications = notifications
        self._jobs: dict[str, ExportJob] = {}
        self._queue: queue.Queue[ExportJob | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- public ----------------------------------------------------------------------------------
    def submit(self, user_id: int, request: ExportRequest, visible: set[int] | None) -> ExportJob:
        """Queue an export for ``user_id``, limited to the ``visible`` cameras (None: all).
        Raises KeyError for a recording or camera the user may not see (answer 404)."""
        cams = self._cameras_of(request, visible)
        job = ExportJob("x" + secrets.token_hex(8), user_id, request, cams)
        with self._lock:
            self._jobs[job.id] = job
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="exports", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def get(self, job_id: str, user_id: int, visible: set[int] | None, admin: bool = False) -> ExportJob:
        """The job if this user may see it (KeyError otherwise: answer 404, no probing)."""
        job = self._jobs.get(job_id)
        if job is None or (job.user_id != user_id and not admin):
            raise KeyError(job_id)
        if visible is not None and (job.camera_ids is None or not set(job.camera_ids) <= visible):
            raise KeyError(job_id)
        return job

    def list(self, user_id: int, admin: bool = False) -> list[ExportJob]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if admin or j.user_id == user_id]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def wait(self, job_id: str, timeout: float = 60.0) -> ExportJob:
        deadline = time.monotonic() + timeout
        while self._jobs[job_id].status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
        return self._jobs[job_id]

    def shutdown(self) -> None:
        self._queue.put(None)

    # --- work ------------------------------------------------------------------------------------
    def _cameras_of(self, req: ExportRequest, visible: set[int] | None) -> list[int] | None:
        if req.kind == "roi_series":
            from thermalstream.measure.store import roi_camera

            cams = {rid: roi_camera(self.db, rid) for rid in req.roi_ids or []}
            for rid, cam in cams.items():
                if cam is None or (visible is not None and cam not in visible):
                    raise KeyError(f"no ROI {rid}")
            return sorted(set(cams.values()))  # type: ignore[arg-type]
        if req.recording_id is not None:
            with self.db.session() as s:
                row = s.get(Recording, req.recording_id)
                cam = row.camera_id if row is not None else None
            if cam is None or (visible is not None and cam not in visible):
                raise KeyError(f"no recording {req.recording_id}")
            return [cam]
        if req.camera_id is not None:
            if visible is not None and req.camera_id not in visible:
                raise KeyError(f"no camera {req.camera_id}")
            return [req.camera_id]
        return sorted(visible) if visible is not None else None

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.status = "running"
            try:
                self._cleanup()
                job.path = self._export(job)
                job.status, job.progress = "done", 1.0
            except Exception as exc:  # noqa: BLE001 - reported on the job and in a notification
                log.warning("export %s failed: %s", job.id, exc)
                job.status, job.error = "failed", str(exc) or type(exc).__name__
            job.finished_at = time.time()
            self._notify(job)

    def _export(self, job: ExportJob) -> Path:
        req = job.request
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = self.dir / f"{req.kind}_{stamp}_{job.id}{SUFFIX[req.format]}"
        self.dir.mkdir(parents=True, exist_ok=True)
        if req.kind == "radiometric":
            rec = self._recording_data(req)

            def progress(done: int, total: int) -> None:
                job.progress = done / total

            return export_radiometric(rec, out, req.format, start=req.since, end=req.until, step=req.step,
                                      progress=progress)
        if req.kind == "roi_series":
            from thermalstream.measure.series import rois_dataframe

            return export_table(rois_dataframe(self.db, req.roi_ids or [], req.since, req.until, req.resolution),
                                out, req.format)
        from thermalstream.datasets.tables import events_dataframe
        from thermalstream.detect.queries import detections_dataframe

        # the cameras the user saw when asking; none at all: camera 0, which never exists (ids start at 1)
        cams = None if job.camera_ids is None else (job.camera_ids or [0])
        if req.kind == "detections":
            df = detections_dataframe(self.db, camera=cams, label=req.label, since=req.since, until=req.until,
                                      min_confidence=req.min_confidence, limit=None)
        else:
            df = events_dataframe(self.db, camera=cams, label=req.label, since=req.since, until=req.until)
        return export_table(df, out, req.format)

    def _recording_data(self, req: ExportRequest) -> RecordingData:
        with self.db.session() as s:
            if req.recording_id is not None:
                rows = [s.get(Recording, req.recording_id)]
            else:
                rows = list(s.query(Recording).filter(Recording.camera_id == req.camera_id,
                                                      Recording.started_at <= req.until)
                            .filter((Recording.ended_at.is_(None)) | (Recording.ended_at >= req.since))
                            .order_by(Recording.started_at))
            folders = [self.recordings_dir / r.path for r in rows if r is not None]
        files = sorted((f for d in folders for f in d.glob("*.h5")), key=lambda p: (p.parent.name, p.name))
        if not files:
            raise ValueError("no radiometric data in that range (picture-only camera, or nothing recorded)")
        return RecordingData(files, {"camera_id": req.camera_id or "", "recording_id": req.recording_id or ""})

    def _notify(self, job: ExportJob) -> None:
        if self.notifications is None:
            return
        what = f"{job.request.kind} ({job.request.format})"
        if job.status == "done":
            self.notifications.notify("success", "Export ready", f"Your {what} export is ready to download.",
                                      user_id=job.user_id, data={"export_id": job.id,
                                                                 "download_url": job.public()["download_url"]})
        else:
            self.notifications.notify("error", "Export failed", f"Your {what} export failed: {job.error}",
                                      user_id=job.user_id, data={"export_id": job.id})

    def _cleanup(self) -> None:
        cutoff = time.time() - EXPORT_TTL_S
        for f in self.dir.glob("*"):
            if f.is_file() and f.stat().st_mtime < cutoff:
                f.unlink(missing_ok=True)
        with self._lock:
            for jid in [j.id for j in self._jobs.values() if (j.finished_at or time.time()) < cutoff]:
                del self._jobs[jid]


__all__ = ["EXPORT_TTL_S", "ExportJob", "ExportRequest", "ExportService"]

"""Recording sessions: start/stop per camera, one database row per recording, segment rows as
segments close (brought up to the folder by :mod:`.reconcile`, also after a database outage),
notifications, and reconciliation after a crash.

    svc = RecordingService(db, manager, notifications, settings)
    svc.reconcile()                      # at startup, before anything records
    row = svc.start(camera_id)           # RecordingConflict (HTTP 409) when it cannot start
    ...
    row = svc.stop(camera_id)            # ended_at, duration_s, frames, dropped_frames, size_bytes, segments
    svc.list(camera_id=1, since=..., until=...)
    svc.shutdown()

Files: ``settings.recordings_dir / cam{camera_id} / {UTC start}_r{recording id} /`` holds the
segments ``seg00000_<UTC start>Z.mp4`` (+ ``.h5`` for radiometric cameras) and
``recording.json``; ``Recording.path`` is that folder relative to ``recordings_dir`` and every
path the service touches is resolved and checked to lie inside it.

``duration_s`` is the media duration (the sum of the segments, gaps excluded); ``ended_at -
started_at`` is the wall-clock span.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from thermalstream.db import Database
from thermalstream.db.models import Camera as CameraRow
from thermalstream.db.models import Recording
from thermalstream.db.types import utcnow
from thermalstream.notifications import notify_quietly
from thermalstream.record.catalog import RecordingCatalog
from thermalstream.record.errors import RecordingConflict, RecordingError, RecordingNotFound, StorageFull
from thermalstream.record.radiometric import RadiometricOptions
from thermalstream.record.reconcile import BUFFER_DIRNAME, FolderTruth
from thermalstream.record.recorder import (
    DEFAULT_RESERVE_BYTES,
    MANIFEST,
    DiskFull,
    Gap,
    Recorder,
    RecorderResult,
    Segment,
    free_bytes,
    safety_floor,
)
from thermalstream.record.video import VideoOptions

log = logging.getLogger(__name__)

REFUSE_STATUSES = ("failed", "stopped")
__all__ = ["BUFFER_DIRNAME", "MANIFEST", "Gap", "RecordingConfig", "RecordingConflict", "RecordingError",
           "RecordingNotFound", "RecordingService", "StorageFull"]


@dataclass
class RecordingConfig:
    """How recordings are written (Settings has no recording fields yet; see the report)."""

    segment_seconds: float = 10.0
    video: VideoOptions = field(default_factory=VideoOptions)
    radiometric: bool = True  # lossless HDF5 beside the video for radiometric cameras
    radiometric_options: RadiometricOptions = field(default_factory=RadiometricOptions)
    queue_size: int = 64
    gap_after: float = 2.0
    reserve_bytes: int = DEFAULT_RESERVE_BYTES
    min_free_bytes: int | None = None  # hard floor checked every frame (None: 1 MB + 8 frames)
    disk_check_s: float = 1.0
    stop_timeout: float = 30.0
    db_retry_s: float = 2.0  # how often rows are caught up with their folders after a failed write


@dataclass(eq=False)
class _Session:
    camera_id: int
    recording_id: int
    directory: Path
    camera_name: str
    recorder: Recorder | None = None
    done: threading.Event = field(default_factory=threading.Event)
    row: dict[str, Any] | None = None


def _fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


class RecordingService(RecordingCatalog, FolderTruth):
    """Start and stop recordings, keep their rows and folders (queries: :class:`RecordingCatalog`)."""

    def __init__(
        self,
        db: Database,
        manager,
        notifications,
        settings,
        *,
        config: RecordingConfig | None = None,
        palette: Callable[[int], str | None] | None = None,
    ) -> None:
        """``manager`` is the CameraManager; ``palette(camera_id)`` names the palette a radiometric
        camera is recorded with (None: the camera's white-hot display image)."""
        self.db = db
        self.manager = manager
        self.notes = notifications
        self.settings = settings
        self.config = config or RecordingConfig()
        self.palette = palette
        self.root = Path(settings.recordings_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self._active: dict[int, _Session] = {}
        self._lock = threading.Lock()
        self._init_sync()
        bus = getattr(manager, "bus", None)
        self._unsub = bus.subscribe(self._on_camera_removed, "camera.removed") if bus is not None else None

    # ------------------------------------------------------------------ paths

    def resolve(self, relative: str | os.PathLike) -> Path:
        """``recordings_dir / relative``, resolved; ValueError when it leaves ``recordings_dir``."""
        rel = Path(relative)
        if rel.is_absolute():
            raise ValueError(f"path {str(relative)!r} must be relative to the recordings folder")
        p = (self.root / rel).resolve()
        if p != self.root and not p.is_relative_to(self.root):
            raise ValueError(f"path {str(relative)!r} is outside the recordings folder")
        return p

    def _rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def _delete(self, path: Path) -> bool:
        """Delete a file only if it lies inside the recordings folder."""
        p = path.resolve()
        if not p.is_relative_to(self.root) or p == self.root:
            log.error("refusing to delete %s: outside %s", path, self.root)
            return False
        try:
            p.unlink()
            return True
        except FileNotFoundError:
            return False

    # ------------------------------------------------------------------ commands

    def start(self, camera_id: int, scheduled: bool = False, schedule_id: int | None = None) -> dict[str, Any]:
        """Start recording a connected camera; returns the new row. Raises RecordingConflict
        (not connected, failed, already recording, camera not saved) or StorageFull."""
        cam = self.manager.get(camera_id)
        if cam is None:
            raise RecordingConflict(f"camera {camera_id} is not connected")
        status = getattr(cam.status, "value", cam.status)
        if status in REFUSE_STATUSES:
            reason = f" ({cam.reason})" if getattr(cam, "reason", "") else ""
            raise RecordingConflict(f"camera {camera_id} is {status}{reason}: cannot record")
        cfg = self.config
        with self._lock:
            if camera_id in self._active:
                raise RecordingConflict(f"camera {camera_id} is already recording")
            free = free_bytes(self.root)
            floor = (safety_floor(cam.info, cfg.radiometric) if cfg.min_free_bytes is None else cfg.min_free_bytes)
            limit = max(cfg.reserve_bytes, floor)
            if free < limit:
                msg = (f"disk full: {free / 1e6:.1f} MB free in the recordings folder, below the "
                       f"{limit / 1e6:.1f} MB " + ("reserve" if limit == cfg.reserve_bytes else "safety floor"))
                self._notify("error", "Recording refused: disk full", f"{cam.name}: {msg}", camera_id=camera_id)
                raise StorageFull(msg)
            now = utcnow()
            try:
                with self.db.session() as s:
                    if s.get(CameraRow, camera_id) is None:
                        raise RecordingConflict(f"camera {camera_id} is not saved in the database")
                    row = Recording(camera_id=camera_id, started_at=now, path="", scheduled=bool(scheduled),
                                    schedule_id=schedule_id, status="recording")
                    s.add(row)
                    s.flush()
                    row.path = f"cam{camera_id}/{now.strftime('%Y%m%dT%H%M%SZ')}_r{row.id}"
                    rec_id, rel = row.id, row.path
            except IntegrityError as exc:
                raise RecordingConflict(f"cannot record camera {camera_id}: {exc.orig}") from None
            sess = _Session(camera_id, rec_id, self.resolve(rel), cam.name)
            palette = self.palette(camera_id) if self.palette is not None else None
            recorder = Recorder(
                cam, sess.directory, segment_seconds=cfg.segment_seconds, video=cfg.video,
                radiometric=None if cfg.radiometric else False, radiometric_options=cfg.radiometric_options,
                palette=palette, queue_size=cfg.queue_size, gap_after=cfg.gap_after,
                reserve_bytes=cfg.reserve_bytes, min_free_bytes=cfg.min_free_bytes, disk_check_s=cfg.disk_check_s,
                on_segment=lambda seg, s=sess: self._on_segment(s, seg),
                on_finished=lambda res, s=sess: self._on_finished(s, res),
            )
            sess.recorder = recorder
            try:
                recorder.start()
            except DiskFull as exc:
                self._finish_row(rec_id, RecorderResult(error=str(exc), disk_full=True))
                self._notify("error", "Recording refused: disk full", f"{cam.name}: {exc}", camera_id=camera_id,
                             recording_id=rec_id)
                raise StorageFull(str(exc)) from None
            self._active[camera_id] = sess
        self._notify("success", "Recording started", f"{cam.name}" + (" (scheduled)" if scheduled else ""),
                     camera_id=camera_id, recording_id=rec_id)
        self.announce("started", camera_id=camera_id, recording_id=rec_id, scheduled=bool(scheduled),
                      status="recording", started_at=now)
        return self.get(rec_id)

    def stop(self, camera_id: int) -> dict[str, Any]:
        """Stop a camera's recording; returns the finished row (with ``gaps``). RecordingConflict
        when the camera is not recording."""
        with self._lock:
            sess = self._active.get(camera_id)
        if sess is None:
            raise RecordingConflict(f"camera {camera_id} is not recording")
        sess.recorder.stop(self.config.stop_timeout)
        if not sess.done.wait(self.config.stop_timeout):
            log.error("recording %s did not finish in time", sess.recording_id)
        return self.get(sess.recording_id)

    def is_recording(self, camera_id: int) -> bool:
        with self._lock:
            return camera_id in self._active

    def recorder_stats(self) -> dict[int, dict[str, Any]]:
        """Live counters of each running recorder by camera (frames, dropped, queued, segments, bytes)."""
        with self._lock:
            sessions = [(cid, s.recorder) for cid, s in self._active.items() if s.recorder is not None]
        return {cid: rec.stats() for cid, rec in sessions}

    def active(self) -> list[dict[str, Any]]:
        """The recordings in progress (rows with live frame/drop counters)."""
        with self._lock:
            ids = [s.recording_id for s in self._active.values()]
        return self.list(ids=ids) if ids else []

    def shutdown(self) -> None:
        """Stop every recording (closing their segments) and stop listening to the bus."""
        with self._lock:
            cams = list(self._active)
        for cid in cams:
            try:
                self.stop(cid)
            except RecordingConflict:
                pass
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self._stop_sync()

    def _on_camera_removed(self, event) -> None:
        cid = event.data.get("camera_id")
        if self.is_recording(cid):
            try:
                self.stop(cid)
            except RecordingConflict:
                pass

    # ------------------------------------------------------------------ recorder callbacks (its thread)

    def _on_segment(self, sess: _Session, seg: Segment) -> None:
        try:
            self.sync(sess.recording_id, sess.directory, sess.recorder)
        except Exception as exc:  # noqa: BLE001 - retried from the folder's manifest
            self._retry_later(sess.recording_id, sess.directory, exc, sess.recorder)
            return
        self.announce("segment", camera_id=sess.camera_id, recording_id=sess.recording_id)

    def _on_finished(self, sess: _Session, res: RecorderResult) -> None:
        try:
            try:
                self.sync(sess.recording_id, sess.directory, sess.recorder)
                self._finish_row(sess.recording_id, res)
            except Exception as exc:  # noqa: BLE001 - the recorder is finished: the retry closes the row
                self._retry_later(sess.recording_id, sess.directory, exc, sess.recorder)
            size = _fmt_size(res.size_bytes)
            if res.error:
                title = "Recording stopped: disk full" if res.disk_full else "Recording failed"
                self._notify("error", title, f"{sess.camera_name}: {res.error}. "
                             f"{len(res.segments)} segment(s) kept ({res.duration_s:.1f} s, {size}).",
                             camera_id=sess.camera_id, recording_id=sess.recording_id)
            else:
                gaps = f", {len(res.gaps)} gap(s)" if res.gaps else ""
                drops = f", {res.dropped} frame(s) dropped" if res.dropped else ""
                self._notify("success", "Recording stopped",
                             f"{sess.camera_name}: {res.duration_s:.1f} s in {len(res.segments)} segment(s), "
                             f"{size}{drops}{gaps}", camera_id=sess.camera_id, recording_id=sess.recording_id)
            self.announce("stopped", camera_id=sess.camera_id, recording_id=sess.recording_id,
                          status="failed" if res.error else "completed", error=res.error, ended_at=utcnow(),
                          duration_s=res.duration_s, segments=len(res.segments), size_bytes=res.size_bytes)
        except Exception:
            log.exception("finishing recording %s failed", sess.recording_id)
        finally:
            with self._lock:
                if self._active.get(sess.camera_id) is sess:
                    del self._active[sess.camera_id]
            sess.done.set()

    def _finish_row(self, rec_id: int, res: RecorderResult) -> None:
        with self.db.session() as s:
            row = s.get(Recording, rec_id)
            if row is None:
                return
            row.ended_at = utcnow()
            row.duration_s = res.duration_s
            row.frames = sum(x.frames for x in res.segments)
            row.dropped_frames = res.dropped
            row.size_bytes = res.size_bytes
            row.segments = len(res.segments)
            row.status = "failed" if res.error else "completed"
            row.error = res.error

    def announce(self, state: str, **data: Any) -> None:
        """Publish bus topic ``recording``: ``state`` started | stopped for integrations (MQTT, webhooks) and
        pages; segment (a closed segment's row is saved) for pages only (integrations carry no segments)."""
        bus = getattr(self.manager, "bus", None)
        if bus is not None:
            bus.publish("recording", {"state": state, **data})

    def _notify(self, type_: str, title: str, message: str, **data: Any) -> None:
        notify_quietly(self.notes, type_, title, message, data)

    def delete(self, recording_id: int) -> dict[str, Any]:
        """Delete a finished, unprotected recording: its folder first (the folder is the truth: segments,
        HDF5 files, manifest), then its rows and thumbnail. RecordingConflict while it records or
        when it is protected; RecordingNotFound for an unknown id."""
        with self._lock:
            if any(sess.recording_id == recording_id for sess in self._active.values()):
                raise RecordingConflict(f"recording {recording_id} is still recording: stop it first")
        with self.db.session() as s:
            row = s.get(Recording, recording_id)
            if row is None:
                raise RecordingNotFound(f"no recording {recording_id}")
            if row.protected:
                raise RecordingConflict(f"recording {recording_id} is protected: unprotect it first")
            if row.status == "recording":
                raise RecordingConflict(f"recording {recording_id} is still recording: stop it first")
            path = row.path
        files = self._delete_folder(path)
        with self.db.session() as s:
            row = s.get(Recording, recording_id)
            if row is not None:
                s.delete(row)
        if self.settings is not None:
            self._delete(Path(self.settings.data_dir) / "thumbnails" / f"recording{int(recording_id)}.jpg")
        log.info("recording %s deleted (%d files)", recording_id, files)
        return {"id": recording_id, "files": files}

    def _delete_folder(self, relative: str) -> int:
        """The files of one recording's folder (at least cam*/name/ below the root; links not followed),
        then the folder itself when it is empty."""
        target = self.resolve(relative)
        if target.is_file():
            return int(self._delete(target))
        if not target.is_dir() or len(target.relative_to(self.root).parts) < 2:
            return 0
        files = sum(self._delete(e) for e in target.iterdir() if e.is_file() and not e.is_symlink())
        try:
            target.rmdir()
        except OSError:
            log.warning("recording folder %s kept: it holds more than recording files", target)
        return files

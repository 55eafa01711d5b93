"""Event recordings assembled: path-checked buffer files, the row, segments moved in, manifest, closing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.outage import log_failure
from thermalstream.db.types import utcnow
from thermalstream.record.event_mode import RecordMode
from thermalstream.record.recorder import Recorder
from thermalstream.record.segments import RecorderResult, Segment, segment_name
from thermalstream.record.service import RecordingService

log = logging.getLogger(__name__)


def dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(eq=False)
class EventRec:
    """An event recording being collected."""

    recording_id: int
    directory: Path
    event_id: int | None
    started_at: float  # epoch of the earliest segment (or event start - pre_s before any)
    open_events: set = field(default_factory=set)
    event_ids: list = field(default_factory=list)
    last_end: float | None = None  # latest event end (frame time)
    deadline: float | None = None  # last_end + post_s once no event is open
    deadline_mono: float = 0.0
    segments: list[Segment] = field(default_factory=list)

    @property
    def last_seg_end(self) -> float | None:
        return self.segments[-1].end if self.segments else None


@dataclass(eq=False)
class Buffer:
    """One camera's rolling buffer."""

    camera_id: int
    camera: Any = None
    recorder: Recorder | None = None
    directory: Path | None = None
    segments: deque = field(default_factory=deque)  # closed, unclaimed Segments (oldest first)
    newest_end: float = 0.0
    rec: EventRec | None = None
    retry_at: float = 0.0
    failed_note_sent: bool = False
    finalize_on_finish: bool = False
    stale_dirs: list = field(default_factory=list)


class BufferFiles:
    """Every path is checked to lie inside the recordings folder (deletions: inside ``.buffer``)."""

    def __init__(self, root: Path, buffer_root: Path) -> None:
        self.root = root
        self.buffer_root = buffer_root

    def inside(self, path: Path, root: Path | None = None) -> Path:
        root = root or self.root
        p = path.resolve()
        if p == root or not p.is_relative_to(root):
            raise ValueError(f"{path} is outside {root}")
        return p

    def delete(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            self.inside(path, self.buffer_root.resolve()).unlink()
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("not deleting %s: %s", path, exc)

    def remove_dir(self, d: Path | None) -> None:
        """Remove a buffer folder (only ever one inside ``.buffer``)."""
        if d is None or not d.exists():
            return
        try:
            p = self.inside(d, self.buffer_root.resolve())
            if p.is_symlink():
                raise ValueError("a link")
            shutil.rmtree(p)
        except (OSError, ValueError) as exc:
            log.warning("cannot remove buffer folder %s: %s", d, exc)

    def discard(self, buf: Buffer) -> None:
        """Delete every buffered (unclaimed) segment."""
        while buf.segments:
            seg = buf.segments.popleft()
            self.delete(seg.path)
            self.delete(seg.radiometric_path)

    def prune(self, buf: Buffer, keep_s: float) -> None:
        """Delete buffered segments ending over ``keep_s`` before the newest, and emptied old folders."""
        keep_from = buf.newest_end - keep_s
        while buf.segments and buf.segments[0].end < keep_from:
            seg = buf.segments.popleft()
            self.delete(seg.path)
            self.delete(seg.radiometric_path)
        for d in list(buf.stale_dirs):
            if not any(s.path.parent == d for s in buf.segments):
                self.remove_dir(d)
                buf.stale_dirs.remove(d)

    def clear_root(self) -> None:
        b = self.buffer_root
        if b.is_symlink():
            log.error("%s is a link: not touching it", b)
            return
        if b.is_dir() and b.resolve().parent == self.root:
            shutil.rmtree(b, ignore_errors=True)


class EventCollector:
    """Opens, fills and closes the event recording of a camera's :class:`Buffer`."""

    def __init__(self, recordings: RecordingService, files: BufferFiles, name: Callable[[int], str]) -> None:
        self.recs = recordings
        self.db = recordings.db
        self.files = files
        self.name = name

    def open(self, buf: Buffer, event_id: int | None, started: float, mode: RecordMode) -> None:
        cid = buf.camera_id
        since = started - mode.pre_s
        claimed = [s for s in buf.segments if s.end > since]
        first = claimed[0].start if claimed else started  # lowered when an earlier segment is attached
        try:
            with self.db.session() as s:
                row = Recording(camera_id=cid, started_at=dt(first), path="", scheduled=False,
                                event_id=event_id, status="recording")
                s.add(row)
                s.flush()
                row.path = f"cam{cid}/{dt(first).strftime('%Y%m%dT%H%M%SZ')}_r{row.id}"
                rid, rel = row.id, row.path
        except Exception:
            log.exception("camera %s: cannot create the event recording row", cid)
            return
        try:
            d = self.recs.resolve(rel)
            d.mkdir(parents=True, exist_ok=True)
        except (OSError, ValueError) as exc:
            self.recs._finish_row(rid, RecorderResult(error=f"cannot create {rel}: {exc}"))
            log.error("camera %s: cannot create %s: %s", cid, rel, exc)
            return
        buf.rec = EventRec(rid, d, event_id, first)
        # older buffered segments are not needed; the claimed ones move into the recording
        while buf.segments:
            seg = buf.segments.popleft()
            if seg in claimed:
                self.attach(buf, seg)
            else:
                self.files.delete(seg.path)
                self.files.delete(seg.radiometric_path)
        log.info("camera %s: event recording %s started for event %s (%d buffered segment(s))",
                 cid, rid, event_id, len(claimed))
        self.recs._notify("success", "Recording started", f"{self.name(cid)} (event)", camera_id=cid,
                          recording_id=rid, event_id=event_id)
        self.recs.announce("started", camera_id=cid, recording_id=rid, event_id=event_id, scheduled=False,
                           status="recording", started_at=first)

    def attach(self, buf: Buffer, seg: Segment) -> None:
        rec = buf.rec
        assert rec is not None
        index = len(rec.segments)
        try:
            src = self.files.inside(seg.path, self.files.buffer_root.resolve())
            dst = self.files.inside(rec.directory / segment_name(index, seg.start))
            os.replace(src, dst)
            rad = None
            if seg.radiometric_path is not None and seg.radiometric_path.exists():
                rad_src = self.files.inside(seg.radiometric_path, self.files.buffer_root.resolve())
                rad = self.files.inside(dst.with_suffix(".h5"))
                os.replace(rad_src, rad)
        except (OSError, ValueError) as exc:
            log.error("camera %s: cannot move segment %s into recording %s: %s",
                      buf.camera_id, seg.path, rec.recording_id, exc)
            return
        moved = Segment(index, dst, seg.start, seg.end, seg.frames, seg.duration_s, seg.size_bytes, rad)
        rec.segments.append(moved)
        try:
            with self.db.session() as s:
                s.add(RecordingSegment(recording_id=rec.recording_id, path=self.recs._rel(dst),
                                       started_at=dt(seg.start), ended_at=dt(seg.end),
                                       size_bytes=seg.size_bytes, frames=seg.frames))
                row = s.get(Recording, rec.recording_id)
                if row is not None:
                    self._totals(row, rec)
                    if seg.start < rec.started_at:
                        rec.started_at = seg.start
                        row.started_at = dt(seg.start)
        except Exception as exc:  # noqa: BLE001 - synced from the manifest below once the database is back
            log_failure(log, "camera %s: cannot save segment row of recording %s", buf.camera_id, rec.recording_id)
            self.recs.retry_sync(rec.recording_id, rec.directory, exc)
        else:
            self.recs.announce("segment", camera_id=buf.camera_id, recording_id=rec.recording_id)
        self.write_manifest(buf)

    @staticmethod
    def _totals(row: Recording, rec: EventRec) -> None:
        row.frames = sum(x.frames for x in rec.segments)
        row.size_bytes = sum(x.size_bytes for x in rec.segments)
        row.segments = len(rec.segments)
        row.duration_s = round(sum(x.duration_s for x in rec.segments), 3)

    def finalize(self, buf: Buffer, note: str | None) -> None:
        rec, buf.rec = buf.rec, None
        if rec is None:
            return
        cid = buf.camera_id
        error = note if note else (None if rec.segments else "no segment was recorded")
        try:
            with self.db.session() as s:
                row = s.get(Recording, rec.recording_id)
                if row is not None:
                    self._totals(row, rec)
                    row.ended_at = dt(rec.last_seg_end) if rec.segments else utcnow()
                    row.status = "failed" if error else "completed"
                    row.error = error
        except Exception:
            log.exception("camera %s: cannot close event recording %s", cid, rec.recording_id)
        self.write_manifest(buf, rec)
        dur = sum(x.duration_s for x in rec.segments)
        size = sum(x.size_bytes for x in rec.segments)
        log.info("camera %s: event recording %s closed (%d segment(s), %.1f s)", cid, rec.recording_id,
                 len(rec.segments), dur)
        if error:
            self.recs._notify("error", "Recording failed", f"{self.name(cid)} (event): {error}. "
                              f"{len(rec.segments)} segment(s) kept ({dur:.1f} s).", camera_id=cid,
                              recording_id=rec.recording_id, event_id=rec.event_id)
        else:
            self.recs._notify("success", "Recording stopped",
                              f"{self.name(cid)} (event): {dur:.1f} s in {len(rec.segments)} segment(s), "
                              f"{size / 1e6:.1f} MB", camera_id=cid, recording_id=rec.recording_id,
                              event_id=rec.event_id)
        self.recs.announce("stopped", camera_id=cid, recording_id=rec.recording_id, event_id=rec.event_id,
                           status="failed" if error else "completed", error=error, duration_s=round(dur, 3),
                           ended_at=rec.last_seg_end if rec.segments else time.time(),
                           segments=len(rec.segments), size_bytes=size)

    def write_manifest(self, buf: Buffer, rec: EventRec | None = None) -> None:
        rec = rec or buf.rec
        if rec is None:
            return
        doc = {
            "format": "thermalstream-recording/1", "camera_id": str(buf.camera_id), "trigger": "events",
            "event_id": rec.event_id, "event_ids": list(rec.event_ids),
            "segments": [x.as_dict(rec.directory) for x in rec.segments], "gaps": [],
            "frames": sum(x.frames for x in rec.segments), "dropped": 0,
        }
        try:
            d = self.files.inside(rec.directory)
            tmp = d / "recording.json.tmp"
            tmp.write_text(json.dumps(doc, indent=1))
            os.replace(tmp, d / "recording.json")
        except (OSError, ValueError) as exc:
            log.warning("cannot write the manifest of recording %s: %s", rec.recording_id, exc)


__all__ = ["Buffer", "BufferFiles", "EventCollector", "EventRec", "dt"]

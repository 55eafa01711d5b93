"""The recording folder is the source of truth: the database is brought up to it.

:class:`FolderTruth` is the part of :class:`~thermalstream.record.service.RecordingService`
that reconciles rows with folders:

* :meth:`~FolderTruth.sync` adds the rows of segments that are on disk but not in the database,
  recounts the totals and closes a finished row, from the recorder while it exists, else from
  the folder's ``recording.json``; a write that fails (database outage, full disk) is retried
  every ``db_retry_s`` by one thread;
* :meth:`~FolderTruth.reconcile` runs at start: every recording is synced from its manifest,
  rows left "recording" by a crash are closed from what decodes (every readable frame is kept,
  see :mod:`.repair`), vanished files are marked missing and orphan folders indexed.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from thermalstream.db.models import Camera as CameraRow
from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.outage import outage_reason
from thermalstream.record.recorder import Recorder
from thermalstream.record.repair import rebuild_video, repair_radiometric
from thermalstream.record.segments import parse_segment_name, read_manifest
from thermalstream.record.video import probe_segment

log = logging.getLogger("thermalstream.record.service")

# The event recorder's rolling pre-capture buffer (thermalstream.record.events) lives in
# ``recordings_dir/.buffer``: never a recording and never an orphan.
BUFFER_DIRNAME = ".buffer"


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class FolderTruth:
    """Mixed into RecordingService, whose ``db``, ``root``, ``config``, ``_lock``, ``_active``,
    ``resolve``, ``_rel`` and ``_delete`` it uses; its own state is set up by ``_init_sync``."""

    def _init_sync(self) -> None:
        self._sync_lock = threading.Lock()  # one writer of segment rows from a manifest at a time
        self._unsynced: dict[int, tuple[Path, Recorder | None]] = {}  # id -> (folder, recorder): database out
        self._retry_thread: threading.Thread | None = None
        self._closing = threading.Event()

    def _stop_sync(self) -> None:
        self._closing.set()
        t = self._retry_thread
        if t is not None and t is not threading.current_thread():
            t.join(5)
        if self._unsynced:
            log.warning("recordings %s: rows not caught up at shutdown; the next start reconciles them "
                        "from their folders", self.unsynced)

    # ------------------------------------------------------------------ the folder is the source of truth

    def sync(self, recording_id: int, directory: Path, recorder: Recorder | None = None) -> bool:
        """Bring a recording's rows up to its folder: add the rows of segments that are on disk but
        not in the database, recount the totals, and close a row still "recording" once the
        recorder finished. What the folder holds comes from the recorder while it is known (its
        manifest may not be writable on a full disk), else from the manifest. True when
        something changed. Database errors propagate (callers retry)."""
        man = _folder_doc(directory, recorder)
        if not man:
            return False
        segs = [x for x in man.get("segments", []) if (directory / x["path"]).is_file()]
        with self._sync_lock, self.db.session() as s:
            r = s.get(Recording, recording_id)
            if r is None:
                return False
            have = set(s.scalars(select(RecordingSegment.path).where(RecordingSegment.recording_id == recording_id)))
            added = 0
            for x in segs:
                rel = self._rel(directory / x["path"])
                if rel not in have:
                    s.add(RecordingSegment(recording_id=recording_id, path=rel, started_at=_dt(x["start"]),
                                           ended_at=_dt(x["end"]), size_bytes=x["size_bytes"], frames=x["frames"]))
                    have.add(rel)
                    added += 1
            close = bool(man.get("finished")) and r.status == "recording"
            if added or close:
                r.frames = sum(int(x["frames"]) for x in segs)
                r.size_bytes = sum(int(x["size_bytes"]) for x in segs)
                r.segments = len(have)
                r.duration_s = round(sum(float(x["duration_s"]) for x in segs), 3)
                r.dropped_frames = max(int(r.dropped_frames or 0), int(man.get("dropped") or 0))
            if close:
                r.status = "failed" if man.get("error") else "completed"
                r.error = man.get("error")
                r.ended_at = _dt(man.get("ended_at") or (segs[-1]["end"] if segs else r.started_at.timestamp()))
            return bool(added or close)

    def retry_sync(self, recording_id: int, directory: Path, exc: Exception) -> None:
        """A write of this recording's rows failed (``exc``): sync it from its manifest later."""
        self._retry_later(recording_id, directory, exc, None)

    def _retry_later(self, recording_id: int, directory: Path, exc: Exception, recorder: Recorder | None) -> None:
        """A database write failed: the folder keeps the truth, a thread retries every ``db_retry_s``."""
        if outage_reason(exc) is None:
            log.error("recording %s: database write failed: %s (retrying)", recording_id, exc)
        with self._lock:
            self._unsynced[recording_id] = (directory, recorder)
            if self._retry_thread is None or not self._retry_thread.is_alive():
                self._retry_thread = threading.Thread(target=self._retry_loop, name="recordings-db-retry",
                                                      daemon=True)
                self._retry_thread.start()

    def _retry_loop(self) -> None:
        while not self._closing.wait(self.config.db_retry_s):
            with self._lock:
                todo = dict(self._unsynced)
            if not todo:
                return
            for rid, (d, rec) in todo.items():
                if rec is not None and rec.ended_at is not None and not (read_manifest(d) or {}).get("finished"):
                    rec.write_manifest()  # the folder first (its disk may have been full at the stop)
                try:
                    self.sync(rid, d, rec)
                except Exception as exc:  # noqa: BLE001 - still out: next round
                    if outage_reason(exc) is None:
                        log.exception("recording %s: catching up with its folder failed", rid)
                    break
                with self._lock:
                    self._unsynced.pop(rid, None)
                log.info("recording %s: database caught up with its folder", rid)
            flush = getattr(self.notes, "flush", None)
            if flush is not None:
                flush()

    @property
    def unsynced(self) -> list[int]:
        """Recordings whose rows wait for the database to come back."""
        with self._lock:
            return sorted(self._unsynced)

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self) -> dict[str, list]:
        """Close what a crash left behind; call at startup before recording anything.

        * rows left "recording": every segment on disk is decoded with PyAV; an unreadable one
          (the segment open at the crash, faststart) is deleted and reported; the row gets the
          true frames, duration, size, segments and end, and status "completed" (or "failed" when
          nothing decodes); its segment rows are rebuilt from the files;
        * rows whose folder or segment files are all gone: status "missing";
        * folders of segments with no row ("orphans") are reported, and indexed as a completed
          recording when their ``cam{id}`` parent names a saved camera.

        Returns ``{"closed": [ids], "missing": [ids], "failed": [ids], "dropped_segments": [paths],
        "orphans": [paths], "indexed": [ids]}`` (paths relative to recordings_dir)."""
        report: dict[str, list] = {"closed": [], "missing": [], "failed": [], "dropped_segments": [],
                                   "orphans": [], "indexed": [], "synced": []}
        with self._lock:
            busy = {s.recording_id for s in self._active.values()}
        with self.db.session() as s:
            rows = [(r.id, r.path, r.status, r.started_at) for r in s.scalars(
                select(Recording).where(Recording.status != "missing").order_by(Recording.id))]
            seg_rows: dict[int, list[str]] = {}
            for rid, p in s.execute(select(RecordingSegment.recording_id, RecordingSegment.path)):
                seg_rows.setdefault(rid, []).append(p)
        known_dirs: set[Path] = set()
        for rid, rel, status, started in rows:
            if rid in busy:
                continue
            try:
                d = self.resolve(rel) if rel else None
            except ValueError:
                d = None
            if d is None:
                self._set_status(rid, "failed", f"recording path {rel!r} is outside the recordings folder")
                report["failed"].append(rid)
                continue
            known_dirs.add(d)
            if status == "recording" and (read_manifest(d) or {}).get("finished"):
                self._sync_at_start(rid, d, report)  # the recorder finished during a database outage
            elif status == "recording":
                self._reconcile_open(rid, d, report)
            elif not d.is_dir() or (seg_rows.get(rid) and not any(_exists(self.root, p) for p in seg_rows[rid])):
                self._set_status(rid, "missing", "the recording's files are gone")
                report["missing"].append(rid)
            else:
                self._sync_at_start(rid, d, report)
        self._find_orphans(known_dirs, report)
        if any(report[k] for k in ("closed", "missing", "failed", "dropped_segments", "orphans", "indexed", "synced")):
            log.info("recordings reconciled: %s", {k: v for k, v in report.items() if v})
        return report

    def _sync_at_start(self, rid: int, d: Path, report: dict[str, list]) -> None:
        try:
            if self.sync(rid, d):
                report["synced"].append(rid)
        except Exception:  # noqa: BLE001 - the next start tries again
            log.exception("recording %s: catching up with its folder failed", rid)

    def _set_status(self, rid: int, status: str, error: str | None) -> None:
        with self.db.session() as s:
            r = s.get(Recording, rid)
            if r is not None:
                r.status = status
                r.error = error

    def _scan(self, d: Path, report: dict[str, list]) -> list[tuple[int, float, Path, Any]]:
        """Decode every segment of a folder; unreadable ones are deleted (with their .h5) and reported."""
        found = []
        for p in d.iterdir() if d.is_dir() else []:
            parsed = parse_segment_name(p.name)
            if parsed is not None and p.is_file():
                found.append((parsed[0], parsed[1], p))
        found.sort()
        out = []
        for idx, start, p in found:
            probe = self._salvage(p)
            if probe.ok:
                out.append((idx, start, p, probe))
                continue
            log.warning("dropping unreadable segment %s: %s", p, probe.error)
            report["dropped_segments"].append(self._rel(p))
            self._delete(p)
            self._delete(p.with_suffix(".h5"))
        return out

    def _salvage(self, p: Path):
        """Probe a segment, keeping every frame that can be read: its HDF5 file is cut to whole
        frames, and when the video holds none (a crash in its first fragment) it is rebuilt
        from the HDF5 frames."""
        h5 = p.with_suffix(".h5")
        kept = repair_radiometric(h5) if h5.exists() else 0
        probe = probe_segment(p)
        if probe.ok or not kept:
            return probe
        try:
            rebuild_video(h5, p, options=self.config.video)
        except Exception as exc:  # noqa: BLE001 - then the segment is dropped as before
            log.warning("cannot rebuild %s from %s: %s", p.name, h5.name, exc)
            return probe
        log.warning("segment %s had no whole fragment: rebuilt from its %d radiometric frames", p, kept)
        return probe_segment(p)

    def _apply(self, rid: int, segs: list[tuple[int, float, Path, Any]], dropped: int, note: str) -> None:
        with self.db.session() as s:
            r = s.get(Recording, rid)
            s.execute(delete(RecordingSegment).where(RecordingSegment.recording_id == rid))
            total_frames = total_size = 0
            total_dur = 0.0
            end = None
            for _idx, start, p, probe in segs:
                h5 = p.with_suffix(".h5")
                size = probe.size_bytes + (h5.stat().st_size if h5.exists() else 0)
                seg_end = start + probe.duration_s
                s.add(RecordingSegment(recording_id=rid, path=self._rel(p), started_at=_dt(start),
                                       ended_at=_dt(seg_end), size_bytes=size, frames=probe.frames))
                total_frames += probe.frames
                total_size += size
                total_dur += probe.duration_s
                end = seg_end
            r.frames, r.size_bytes, r.segments = total_frames, total_size, len(segs)
            r.duration_s = round(total_dur, 3)
            r.dropped_frames = max(int(r.dropped_frames or 0), int(dropped))
            r.ended_at = _dt(end) if end is not None else (r.ended_at or r.started_at)
            r.status = "completed" if segs else "failed"
            r.error = note if segs else (note + "; no segment decodes")

    def _reconcile_open(self, rid: int, d: Path, report: dict[str, list]) -> None:
        if not d.is_dir():
            self._set_status(rid, "missing", "the recording's files are gone")
            report["missing"].append(rid)
            return
        before = len(report["dropped_segments"])
        segs = self._scan(d, report)
        dropped_here = report["dropped_segments"][before:]
        man = read_manifest(d) or {}
        note = "closed at startup after an unclean shutdown"
        if dropped_here:
            note += f"; unreadable segment(s) dropped: {', '.join(Path(x).name for x in dropped_here)}"
        self._apply(rid, segs, int(man.get("dropped", 0) or 0), note)
        report["closed" if segs else "failed"].append(rid)

    def _find_orphans(self, known: set[Path], report: dict[str, list]) -> None:
        dirs: dict[Path, bool] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == self.root and BUFFER_DIRNAME in dirnames:
                dirnames.remove(BUFFER_DIRNAME)  # the event pre-capture buffer: not recordings
            for fn in filenames:
                if fn.endswith((".mp4", ".h5")) and here not in known and here.resolve() not in known:
                    dirs.setdefault(here, False)
                    if parse_segment_name(fn) is not None:
                        dirs[here] = True
        for d, has_segments in sorted(dirs.items()):
            rel = self._rel(d) if d != self.root else "."
            report["orphans"].append(rel)
            cam_id = _camera_id_of(d.parent.name) if has_segments and d != self.root else None
            if cam_id is None:
                continue
            with self.db.session() as s:
                if s.get(CameraRow, cam_id) is None:
                    continue
            segs = self._scan(d, report)
            if not segs:
                continue
            with self.db.session() as s:
                r = Recording(camera_id=cam_id, started_at=_dt(segs[0][1]), path=rel, status="recording")
                s.add(r)
                s.flush()
                rid = r.id
            man = read_manifest(d) or {}
            self._apply(rid, segs, int(man.get("dropped", 0) or 0), "indexed from files found on disk")
            report["indexed"].append(rid)


def _folder_doc(directory: Path, recorder: Recorder | None) -> dict[str, Any] | None:
    """A recording folder's truth: the recorder's own account while it exists, else its manifest."""
    if recorder is None:
        return read_manifest(directory)
    res = recorder.result()
    return {"segments": [x.as_dict(directory) for x in res.segments], "dropped": res.dropped, "error": res.error,
            "finished": recorder.ended_at is not None, "ended_at": recorder.ended_at}


def _camera_id_of(name: str) -> int | None:
    if name.startswith("cam") and name[3:].isdigit():
        return int(name[3:])
    return None


def _exists(root: Path, rel: str) -> bool:
    try:
        p = (root / rel).resolve()
    except OSError:
        return False
    return p.is_relative_to(root) and p.exists()


__all__ = ["BUFFER_DIRNAME", "FolderTruth"]

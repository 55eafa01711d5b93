"""Deleting what a retention plan picked, safely, and the periodic cleanup job.

Deleting (:func:`apply_cleanup`): every path is resolved and must be a regular file strictly
inside ``recordings_dir`` (``..``, absolute paths elsewhere and symbolic links are refused and
reported, and their rows kept). Segment paths are relative to ``recordings_dir`` (a path relative
to the recording's own folder is accepted too). Files beside a segment with the same stem
(``000012.mp4`` + ``000012.h5`` / ``.jpg``) go with it. The recording row is updated (size,
segments, frames, start and duration trimmed to the remaining segments). **A recording whose
last segment is deleted by retention is deleted** (row, its own file if ``path`` is a file, its
folder if left empty): "missing" is kept for files that vanished unexpectedly (restart
reconciliation), not for footage the policy removed on purpose.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.outage import log_failure
from thermalstream.db.types import as_utc, utcnow
from thermalstream.notifications import notify_quietly
from thermalstream.storage.paths import StoragePathError, resolve_root, safe_file_to_delete, safe_path
from thermalstream.storage.retention import (
    CleanupPlan,
    RetentionPolicy,
    SegmentInfo,
    collect_segments,
    plan_cleanup,
)
from thermalstream.storage.usage import dir_usage, free_bytes

log = logging.getLogger(__name__)


def _prune_empty_dirs(start: Path, root: Path) -> None:
    """Remove ``start`` and its parents while empty, stopping below ``root`` (never root itself)."""
    p = start
    while p != root and p.is_relative_to(root):
        try:
            p.rmdir()
        except OSError:
            return
        p = p.parent


def _companions(path: Path) -> list[Path]:
    try:
        return [p for p in path.parent.iterdir() if p != path and p.stem == path.stem and p.name != path.name]
    except OSError:
        return []


def _locate(root: Path, seg_path: str, rec_path: str | None) -> Path | None:
    """The segment's file (relative to the root, or else to the recording's folder); None if gone."""
    found = safe_file_to_delete(root, seg_path)
    if found is None and rec_path and not Path(seg_path).is_absolute():
        try:
            found = safe_file_to_delete(root, Path(rec_path) / seg_path)
        except StoragePathError:
            found = None
    return found


def apply_cleanup(
    db: Database, recordings_dir: str | os.PathLike[str], plan: CleanupPlan | Iterable[SegmentInfo],
    *, companions: bool = True, thumbnails_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Delete the planned segments' files and rows; update or delete their recordings.

    Each segment is re-checked in its own transaction first: a recording protected since planning,
    or a segment that has become the open one, is skipped. A path that is not a regular file strictly
    inside ``recordings_dir`` is refused and its row kept. With ``thumbnails_dir``, the cached
    ``recording<id>.jpg`` of every deleted or trimmed recording is removed too. Returns counts, bytes freed, the
    recordings deleted or trimmed, and refused/failed paths.
    """
    root = resolve_root(recordings_dir)
    segments = plan.delete if isinstance(plan, CleanupPlan) else list(plan)
    result: dict[str, Any] = {"deleted_segments": 0, "freed_bytes": 0, "files": 0, "skipped": 0,
                              "recordings_deleted": [], "recordings_trimmed": [], "refused": [], "errors": []}
    trimmed: set[int] = set()
    for info in segments:
        try:
            with db.session() as s:
                seg = s.get(RecordingSegment, info.id)
                if seg is None:
                    continue
                rec = seg.recording
                if rec.protected:
                    result["skipped"] += 1
                    continue
                others = [x for x in rec.segment_rows if x.id != seg.id]
                if rec.status == "recording" and (
                    seg.ended_at is None
                    or all((as_utc(x.started_at), x.id) < (as_utc(seg.started_at), seg.id) for x in others)
                ):
                    result["skipped"] += 1
                    continue
                try:
                    file = _locate(root, seg.path, rec.path)
                except StoragePathError as exc:
                    log.error("retention refused to delete %r: %s", seg.path, exc)
                    result["refused"].append({"segment_id": seg.id, "path": seg.path, "reason": str(exc)})
                    continue
                size = int(seg.size_bytes or 0)
                rec.size_bytes = max(0, int(rec.size_bytes or 0) - size)
                rec.frames = max(0, int(rec.frames or 0) - int(seg.frames or 0))
                rec.segments = len(others)
                rec.segment_rows.remove(seg)
                s.delete(seg)
                rec_deleted = False
                if not others and rec.status != "recording":
                    s.delete(rec)
                    rec_deleted = True
                elif others:
                    first = min(others, key=lambda x: (as_utc(x.started_at), x.id))
                    if as_utc(first.started_at) > as_utc(rec.started_at):
                        rec.started_at = first.started_at
                        if rec.ended_at is not None:
                            rec.duration_s = max(0.0, (as_utc(rec.ended_at) - as_utc(first.started_at)).total_seconds())
                s.flush()
                freed = 0
                if file is not None:
                    extra = [c for c in _companions(file) if _safe_or_none(root, c)] if companions else []
                    freed += file.stat().st_size
                    file.unlink()
                    result["files"] += 1
                    for c in extra:
                        try:
                            freed += c.stat().st_size
                            c.unlink()
                            result["files"] += 1
                        except OSError as exc:
                            result["errors"].append({"path": str(c), "error": str(exc)})
                    if rec_deleted:
                        _delete_recording_path(root, rec.path, result, s)
                    _prune_empty_dirs(file.parent, root)
                elif rec_deleted:
                    _delete_recording_path(root, rec.path, result, s)
                result["deleted_segments"] += 1
                result["freed_bytes"] += freed
                if rec_deleted:
                    result["recordings_deleted"].append(rec.id)
                    trimmed.discard(rec.id)
                else:
                    trimmed.add(rec.id)
        except OSError as exc:  # the file could not be removed: the transaction rolled back, the row stays
            log.error("retention could not delete segment %s (%s): %s", info.id, info.path, exc)
            result["errors"].append({"segment_id": info.id, "path": info.path, "error": str(exc)})
    result["recordings_trimmed"] = sorted(trimmed)
    if thumbnails_dir is not None:  # the first frame of a deleted or trimmed recording: made again on demand
        for rid in result["recordings_deleted"] + result["recordings_trimmed"]:
            try:
                thumb = safe_file_to_delete(thumbnails_dir, f"recording{int(rid)}.jpg")
                if thumb is not None:
                    thumb.unlink()
                    result["files"] += 1
            except (OSError, StoragePathError) as exc:
                result["errors"].append({"path": f"recording{rid}.jpg", "error": str(exc)})
    return result


def _safe_or_none(root: Path, p: Path) -> Path | None:
    try:
        return safe_file_to_delete(root, p)
    except StoragePathError:
        return None


def _delete_recording_path(root: Path, rec_path: str | None, result: dict[str, Any], s: Any = None) -> None:
    """A deleted recording's own ``path``. A file inside the root is removed. A folder (the
    RecordingService keeps one per recording, with ``recording.json``) loses its remaining regular
    files and is removed when it is at least two levels below the root (never the root or a camera
    folder) and no other recording or segment row points into it; otherwise it is removed only
    if empty. Links and sub-folders are never followed."""
    if not rec_path:
        return
    try:
        target = safe_path(root, rec_path)
    except StoragePathError as exc:
        result["refused"].append({"path": rec_path, "reason": str(exc)})
        return
    try:
        if target.is_dir() and not Path(root / rec_path).is_symlink():
            if len(target.relative_to(root).parts) >= 2 and not _referenced(s, root, target):
                for entry in target.iterdir():
                    if entry.is_file() and not entry.is_symlink():
                        entry.unlink()
                        result["files"] += 1
            _prune_empty_dirs(target, root)
        elif (f := safe_file_to_delete(root, rec_path)) is not None:
            f.unlink()
            result["files"] += 1
            _prune_empty_dirs(f.parent, root)
    except (OSError, StoragePathError) as exc:
        result["errors"].append({"path": rec_path, "error": str(exc)})


def _referenced(s: Any, root: Path, folder: Path) -> bool:
    """Whether any remaining recording or segment row has a path in ``folder`` (True if unknown)."""
    if s is None:
        return True
    rel = folder.relative_to(root).as_posix()
    if rel in ("", "."):
        return True
    for col in (Recording.path, RecordingSegment.path):
        q = select(col).where(or_(col == rel, col.startswith(rel + "/", autoescape=True))).limit(1)
        if s.execute(q).first() is not None:
            return True
    return False


# --- the periodic job --------------------------------------------------------------------------


class CleanupJob:
    """One retention pass per call, safe to schedule every few minutes (e.g.
    ``schedules.add_interval_job("storage-cleanup", job, seconds=300)``).

    Measures the recordings folder and free space, plans, applies, and notifies: ``info`` when
    something was deleted, ``warning`` when a limit stays unmet (only when that changes, not every
    pass), ``error`` when a path outside the storage root was refused. Overlapping calls are
    skipped. Never raises: failures are logged and returned.
    """

    def __init__(
        self,
        db: Database,
        recordings_dir: str | os.PathLike[str],
        policy: RetentionPolicy,
        *,
        notifications: Any = None,
        free_fn: Callable[[str | os.PathLike[str]], int] = free_bytes,
        clock: Callable[[], datetime] = utcnow,
        thumbnails_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.thumbnails_dir = thumbnails_dir
        self.db = db
        self.recordings_dir = Path(recordings_dir)
        self.policy = policy
        self.notifications = notifications
        self.free_fn = free_fn
        self.clock = clock
        self._lock = threading.Lock()
        self._last_unmet: tuple[str, ...] = ()
        self.last_result: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any]:
        return self.run()

    def warnings(self) -> dict[str, str]:
        """Limits that cannot be met now (limit -> why), from the last pass or a dry plan."""
        if not self.policy.active:
            return {}
        last = self.last_result
        if last and last.get("plan") is not None:
            return dict(last["plan"].get("unsatisfied") or {})
        try:
            return dict(self.plan().unsatisfied)
        except Exception:  # noqa: BLE001 - a warning must not break the page
            log_failure(log, "planning retention for its warnings failed")
            return {}

    def plan(self, now: datetime | None = None) -> CleanupPlan:
        segs = collect_segments(self.db, self.recordings_dir)
        total = dir_usage(self.recordings_dir).bytes
        free = self.free_fn(self.recordings_dir) if self.policy.min_free_bytes is not None else None
        return plan_cleanup(segs, self.policy, now=now or self.clock(), total_bytes=total, free_bytes=free)

    def run(self, now: datetime | None = None, *, dry_run: bool = False) -> dict[str, Any]:
        if not self._lock.acquire(blocking=False):
            return {"skipped": "a cleanup pass is already running"}
        try:
            if not self.policy.active:
                return {"plan": None, "result": None}
            plan = self.plan(now)
            out: dict[str, Any] = {"plan": plan.to_dict(), "result": None}
            if not dry_run and plan.delete:
                out["result"] = apply_cleanup(self.db, self.recordings_dir, plan, thumbnails_dir=self.thumbnails_dir)
            if not dry_run:
                self._notify(plan, out["result"])
            self.last_result = out
            return out
        except Exception as exc:
            log_failure(log, "storage cleanup failed")
            return {"error": f"{exc.__class__.__name__}: {exc}"}
        finally:
            self._lock.release()

    def _notify(self, plan: CleanupPlan, result: dict[str, Any] | None) -> None:
        notes = self.notifications
        if result and result["deleted_segments"]:
            why = sorted({plan.reasons[s.id] for s in plan.delete if s.id in plan.reasons})
            notify_quietly(notes, "info", "Storage cleanup",
                           f"Deleted {result['deleted_segments']} segment(s), {result['freed_bytes'] / 1e6:.1f} MB "
                           f"({', '.join(why)}); {len(result['recordings_deleted'])} recording(s) removed.",
                           {"deleted_segments": result["deleted_segments"], "freed_bytes": result["freed_bytes"],
                            "recordings_deleted": result["recordings_deleted"], "reasons": why})
        if result and result["refused"]:
            notify_quietly(notes, "error", "Storage cleanup refused paths",
                           f"{len(result['refused'])} path(s) are outside the recordings folder and were not touched: "
                           + ", ".join(r["path"] for r in result["refused"][:5]),
                           {"refused": result["refused"][:20]})
        unmet = tuple(sorted(plan.unsatisfied))
        if unmet and unmet != self._last_unmet:
            notify_quietly(notes, "warning", "Storage limit not met", " ".join(plan.unsatisfied.values()),
                           {"unsatisfied": plan.unsatisfied})
        self._last_unmet = unmet


__all__ = ["CleanupJob", "apply_cleanup"]

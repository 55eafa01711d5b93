"""Retention: which recording segments to delete, and deleting them safely.

Policy (:class:`RetentionPolicy`, GB are 10**9 bytes; None switches a limit off):

* ``max_age_days`` — a segment whose end (or start, while it has no end) is older than this goes;
* ``max_total_gb`` — the recordings folder (as measured on disk) must not exceed this;
* ``min_free_gb`` — the filesystem holding the recordings keeps at least this much free (reserve).

Planning (:func:`plan_cleanup`, pure) takes segments **oldest first** (segment start, then id),
across all cameras, and picks until every limit is met. Never picked:

* segments of a **protected** recording;
* the **open** segment of a recording still ``recording`` (its newest segment, and any segment
  without an end). Older, closed segments of a long running recording may go (so a recording
  that runs for weeks cannot fill the disk), unless ``trim_active=False``.

Safety brake: one pass deletes at most ``max(brake_min_files, ceil(brake_fraction × E))``
segments (E = segments that may be deleted at all; defaults 0.5 and 10) — **unless** the
size or free-space limit needs more *and* deleting more does satisfy that limit. So:

* age-based deletion never removes more than half the archive in one pass (a clock that jumped
  years ahead makes everything look old); a real backlog is cleared over successive passes;
* a size/free limit that cannot be met even by deleting every unprotected segment (a reserve
  larger than a small disk, protected recordings or other files) deletes nothing for that
  limit (deleting would empty the archive and still miss it); the plan reports it as unmet,
  the job warns once, and :meth:`CleanupJob.warnings` shows it on the Storage page and in
  ``/api/storage``.

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
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.outage import log_failure
from thermalstream.db.types import as_utc, utcnow
from thermalstream.storage.paths import StoragePathError, resolve_root, safe_file_to_delete, safe_path
from thermalstream.storage.usage import dir_usage, free_bytes

log = logging.getLogger(__name__)

GB = 10**9


def _limit(name: str, value: Any, *, allow_zero: bool) -> float | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'≥ 0' if allow_zero else '> 0'} (or empty for no limit), got {value!r}")
    return v


@dataclass(frozen=True)
class RetentionPolicy:
    max_age_days: float | None = None
    max_total_gb: float | None = None
    min_free_gb: float | None = None
    brake_fraction: float = 0.5
    brake_min_files: int = 10
    trim_active: bool = True  # False: no segment of a recording still "recording" is deleted

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_age_days", _limit("max_age_days", self.max_age_days, allow_zero=False))
        object.__setattr__(self, "max_total_gb", _limit("max_total_gb", self.max_total_gb, allow_zero=False))
        object.__setattr__(self, "min_free_gb", _limit("min_free_gb", self.min_free_gb, allow_zero=True))
        if isinstance(self.trim_active, str):
            object.__setattr__(self, "trim_active", self.trim_active.strip().lower() in ("1", "true", "yes", "on"))
        if not 0 < self.brake_fraction <= 1:
            raise ValueError(f"brake_fraction must be in (0, 1], got {self.brake_fraction!r}")
        if self.brake_min_files < 0:
            raise ValueError("brake_min_files must be ≥ 0")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RetentionPolicy:
        """From a dict with ``max_age_days``, ``max_total_gb``, ``min_free_gb`` (also accepted with a
        ``retention_`` prefix, as settings would name them); other keys are ignored."""
        names = ("max_age_days", "max_total_gb", "min_free_gb", "brake_fraction", "brake_min_files", "trim_active")
        kw: dict[str, Any] = {}
        for n in names:
            for key in (n, f"retention_{n}"):
                if key in values:
                    kw[n] = values[key]
        return cls(**kw)

    @classmethod
    def from_settings(cls, settings: Any) -> RetentionPolicy:
        """From ``settings.retention_max_age_days`` / ``retention_max_total_gb`` /
        ``retention_min_free_gb`` where the settings object has them (missing: no limit)."""
        names = ("max_age_days", "max_total_gb", "min_free_gb", "brake_fraction", "brake_min_files", "trim_active")
        return cls.from_mapping({n: getattr(settings, f"retention_{n}") for n in names
                                 if getattr(settings, f"retention_{n}", None) is not None})

    @property
    def max_total_bytes(self) -> int | None:
        return None if self.max_total_gb is None else int(self.max_total_gb * GB)

    @property
    def min_free_bytes(self) -> int | None:
        return None if self.min_free_gb is None else int(self.min_free_gb * GB)

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.max_age_days, self.max_total_gb, self.min_free_gb))

    def to_dict(self) -> dict[str, Any]:
        return {"max_age_days": self.max_age_days, "max_total_gb": self.max_total_gb, "min_free_gb": self.min_free_gb,
                "brake_fraction": self.brake_fraction, "brake_min_files": self.brake_min_files,
                "trim_active": self.trim_active}


@dataclass(frozen=True)
class SegmentInfo:
    """What planning needs to know about one segment (no database session attached)."""

    id: int
    recording_id: int
    camera_id: int
    path: str
    started_at: datetime
    ended_at: datetime | None
    size_bytes: int
    protected: bool = False
    open: bool = False
    active: bool = False  # its recording is still "recording"

    @property
    def age_reference(self) -> datetime:
        return as_utc(self.ended_at or self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "recording_id": self.recording_id, "camera_id": self.camera_id, "path": self.path,
                "started_at": as_utc(self.started_at).isoformat(),
                "ended_at": as_utc(self.ended_at).isoformat() if self.ended_at else None,
                "size_bytes": self.size_bytes, "protected": self.protected, "open": self.open}


@dataclass
class CleanupPlan:
    delete: list[SegmentInfo] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # segment id -> "age" | "total" | "reserve"
    total_bytes: int = 0  # before
    free_bytes: int | None = None  # before
    eligible: int = 0  # segments that may be deleted at all
    cap: int = 0  # the brake's limit for this pass
    braked: int = 0  # segments a limit wanted but the brake held back
    unsatisfied: dict[str, str] = field(default_factory=dict)  # limit -> why it is still not met

    @property
    def bytes(self) -> int:
        return sum(s.size_bytes for s in self.delete)

    def to_dict(self) -> dict[str, Any]:
        return {
            "delete": [dict(s.to_dict(), reason=self.reasons.get(s.id)) for s in self.delete],
            "segments": len(self.delete), "bytes": self.bytes, "total_bytes": self.total_bytes,
            "free_bytes": self.free_bytes, "eligible": self.eligible, "cap": self.cap, "braked": self.braked,
            "unsatisfied": dict(self.unsatisfied),
        }


def collect_segments(db: Database, recordings_dir: str | os.PathLike[str] | None = None) -> list[SegmentInfo]:
    """Every segment with its recording's camera, protected flag and open state, oldest first.

    A segment row with size 0 gets its size from the file when ``recordings_dir`` is given.
    """
    q = (
        select(RecordingSegment, Recording.camera_id, Recording.protected, Recording.status)
        .join(Recording, RecordingSegment.recording_id == Recording.id)
        .order_by(RecordingSegment.started_at, RecordingSegment.id)
    )
    with db.session() as s:
        rows = s.execute(q).all()
    newest: dict[int, tuple[datetime, int]] = {}
    for seg, _cam, _prot, status in rows:
        if status == "recording":
            key = (as_utc(seg.started_at), seg.id)
            if seg.recording_id not in newest or key > newest[seg.recording_id]:
                newest[seg.recording_id] = key
    out = []
    for seg, cam, prot, status in rows:
        is_open = status == "recording" and (
            seg.ended_at is None or newest.get(seg.recording_id) == (as_utc(seg.started_at), seg.id))
        size = int(seg.size_bytes or 0)
        if size == 0 and recordings_dir is not None:
            try:
                size = os.lstat(safe_path(recordings_dir, seg.path)).st_size
            except (OSError, StoragePathError):
                pass
        out.append(SegmentInfo(seg.id, seg.recording_id, cam, seg.path, as_utc(seg.started_at),
                               as_utc(seg.ended_at) if seg.ended_at else None, size, bool(prot), is_open,
                               status == "recording"))
    return out


def _take_for_limit(
    need: int, candidates: list[SegmentInfo], chosen: list[SegmentInfo], reasons: dict[int, str],
    reason: str,
) -> tuple[bool, int]:
    """Pick oldest candidates until ``need`` bytes are freed. Returns (satisfied, braked count)."""
    available = sum(c.size_bytes for c in candidates)
    if available >= need:
        freed = 0
        for c in candidates:
            if freed >= need:
                break
            chosen.append(c)
            reasons[c.id] = reason
            freed += c.size_bytes
        return True, 0
    # Cannot be met even by deleting every candidate: deleting would empty the archive and still
    # miss the limit (a reserve larger than a small disk), so nothing goes for it; it is reported.
    return False, len(candidates)


def plan_cleanup(
    segments: Iterable[SegmentInfo],
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    total_bytes: int | None = None,
    free_bytes: int | None = None,
) -> CleanupPlan:
    """Which segments to delete so that ``policy`` holds (see the module docstring for the rules).

    ``total_bytes``: what the recordings occupy now (default: the sum of the segments' sizes);
    ``free_bytes``: free space on their filesystem now (needed for ``min_free_gb``; None skips
    that limit). Pure: nothing is read or deleted.
    """
    now = as_utc(now) if now is not None else utcnow()
    segs = list(segments)
    if total_bytes is None:
        total_bytes = sum(s.size_bytes for s in segs)
    eligible = sorted((s for s in segs if not s.protected and not s.open and (policy.trim_active or not s.active)),
                      key=lambda s: (s.started_at, s.id))
    cap = max(policy.brake_min_files, math.ceil(policy.brake_fraction * len(eligible)))
    plan = CleanupPlan(total_bytes=total_bytes, free_bytes=free_bytes, eligible=len(eligible), cap=cap)
    chosen: list[SegmentInfo] = []
    reasons: dict[int, str] = {}

    if policy.max_age_days is not None:
        cutoff = now - timedelta(days=policy.max_age_days)
        old = [s for s in eligible if s.age_reference < cutoff]
        for s in old[:cap]:
            chosen.append(s)
            reasons[s.id] = "age"
        if len(old) > cap:
            plan.braked += len(old) - cap
            plan.unsatisfied["max_age_days"] = (
                f"{len(old) - cap} segment(s) older than {policy.max_age_days:g} days kept by the safety brake "
                f"(at most {cap} deletions per pass); the next passes continue")

    def rest() -> list[SegmentInfo]:
        ids = {c.id for c in chosen}
        return [s for s in eligible if s.id not in ids]

    def freed() -> int:
        return sum(c.size_bytes for c in chosen)

    if policy.max_total_bytes is not None:
        need = total_bytes - freed() - policy.max_total_bytes
        if need > 0:
            ok, braked = _take_for_limit(need, rest(), chosen, reasons, "total")
            if not ok:
                plan.braked += braked
                plan.unsatisfied["max_total_gb"] = (
                    f"recordings use {total_bytes / GB:.3f} GB, over the {policy.max_total_gb:g} GB limit, and deleting "
                    "every unprotected segment would not be enough (protected or open recordings, or other "
                    "files): nothing is deleted for this limit and the archive is kept; "
                    "raise THERMALSTREAM_RETENTION_MAX_TOTAL_GB or free space")

    if policy.min_free_bytes is not None and free_bytes is not None:
        need = policy.min_free_bytes - (free_bytes + freed())
        if need > 0:
            ok, braked = _take_for_limit(need, rest(), chosen, reasons, "reserve")
            if not ok:
                plan.braked += braked
                plan.unsatisfied["min_free_gb"] = (
                    f"{free_bytes / GB:.3f} GB free, under the {policy.min_free_gb:g} GB free-space reserve, and "
                    "deleting every unprotected segment would not free enough (a small disk, other files or "
                    "protected recordings): nothing is deleted for the reserve and the archive is kept; lower "
                    "THERMALSTREAM_RETENTION_MIN_FREE_GB or free space")

    chosen.sort(key=lambda s: (s.started_at, s.id))
    plan.delete = chosen
    plan.reasons = reasons
    return plan


# --- applying a plan ---------------------------------------------------------------------------


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

    def _send(self, kind: str, title: str, message: str, data: dict[str, Any]) -> None:
        if self.notifications is None:
            return
        try:
            self.notifications.notify(kind, title, message, data=data)
        except Exception:
            log.exception("could not send the cleanup notification")

    def _notify(self, plan: CleanupPlan, result: dict[str, Any] | None) -> None:
        if result and result["deleted_segments"]:
            why = sorted({plan.reasons[s.id] for s in plan.delete if s.id in plan.reasons})
            self._send("info", "Storage cleanup",
                       f"Deleted {result['deleted_segments']} segment(s), {result['freed_bytes'] / 1e6:.1f} MB "
                       f"({', '.join(why)}); {len(result['recordings_deleted'])} recording(s) removed.",
                       {"deleted_segments": result["deleted_segments"], "freed_bytes": result["freed_bytes"],
                        "recordings_deleted": result["recordings_deleted"], "reasons": why})
        if result and result["refused"]:
            self._send("error", "Storage cleanup refused paths",
                       f"{len(result['refused'])} path(s) are outside the recordings folder and were not touched: "
                       + ", ".join(r["path"] for r in result["refused"][:5]),
                       {"refused": result["refused"][:20]})
        unmet = tuple(sorted(plan.unsatisfied))
        if unmet and unmet != self._last_unmet:
            self._send("warning", "Storage limit not met", " ".join(plan.unsatisfied.values()),
                       {"unsatisfied": plan.unsatisfied})
        self._last_unmet = unmet

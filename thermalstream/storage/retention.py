"""Retention policy and planning: which recording segments to delete (pure; nothing is deleted here).

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
  the job warns once, and :meth:`~thermalstream.storage.cleanup.CleanupJob.warnings` shows it on
  the Storage page and in ``/api/storage``.

Deleting what a plan picked, and the periodic job: :mod:`thermalstream.storage.cleanup`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from thermalstream.db.engine import Database
from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.types import as_utc, utcnow
from thermalstream.storage.paths import StoragePathError, safe_path

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

"""Storage usage over time: one :class:`~thermalstream.db.models.StorageSample` row per category
(and per camera folder) each time :func:`sample_storage` runs, read back for charts.

Rows written per call (all with the same timestamp):

* ``category`` in recordings / screenshots / detections / thumbnails, ``camera_id=None``: the
  folder's total; plus one row per integer-named camera folder (``camera_id`` set);
* ``disk_free`` and ``disk_total`` (``camera_id=None``): the filesystem holding the recordings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from thermalstream.db.engine import Database
from thermalstream.db.models import StorageSample
from thermalstream.db.types import as_utc, utcnow
from thermalstream.storage.usage import usage as measure_usage

DISK_CATEGORIES = ("disk_free", "disk_total")
_ALL = object()


def sample_storage(
    db: Database, roots: Any, *, now: datetime | None = None, snapshot: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Measure (or take ``snapshot``, a :func:`thermalstream.storage.usage.usage` result) and save
    one sample per category/camera; returns the saved samples as dicts."""
    snap = snapshot if snapshot is not None else measure_usage(roots)
    ts = as_utc(now) if now is not None else utcnow()
    rows: list[StorageSample] = []
    for cat, cu in snap["categories"].items():
        rows.append(StorageSample(timestamp=ts, category=cat, camera_id=None, bytes=cu["bytes"], files=cu["files"]))
        for cam, u in cu.get("by_camera", {}).items():
            rows.append(StorageSample(timestamp=ts, category=cat, camera_id=int(cam), bytes=u["bytes"], files=u["files"]))
    disk = snap.get("disk") or {}
    if disk:
        rows.append(StorageSample(timestamp=ts, category="disk_free", camera_id=None, bytes=disk["free"], files=0))
        rows.append(StorageSample(timestamp=ts, category="disk_total", camera_id=None, bytes=disk["total"], files=0))
    with db.session() as s:
        s.add_all(rows)
        s.flush()
        return [sample_dict(r) for r in rows]


def sample_dict(r: StorageSample) -> dict[str, Any]:
    return {
        "timestamp": as_utc(r.timestamp).isoformat(), "category": r.category, "camera_id": r.camera_id,
        "bytes": int(r.bytes), "files": int(r.files),
    }


def list_samples(
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    category: str | None = None,
    camera_id: int | None | object = _ALL,
    limit: int = 10_000,
    visible: set[int] | None = None,
) -> list[dict[str, Any]]:
    """Samples oldest first, optionally within [since, until], of one category, and of one camera
    (``camera_id=None``: category totals only; leave it out for all rows). With ``visible`` (the
    cameras a user may see), other cameras' rows are left out and their bytes and files are taken
    out of the category totals, so nothing about them can be read from the history."""
    q = select(StorageSample)
    if since is not None:
        q = q.where(StorageSample.timestamp >= as_utc(since))
    if until is not None:
        q = q.where(StorageSample.timestamp <= as_utc(until))
    if category is not None:
        q = q.where(StorageSample.category == category)
    if camera_id is None:
        q = q.where(StorageSample.camera_id.is_(None))
    elif camera_id is not _ALL:
        q = q.where(StorageSample.camera_id == camera_id)
    q = q.order_by(StorageSample.timestamp, StorageSample.id).limit(limit)
    with db.session() as s:
        rows = list(s.scalars(q))
        if visible is None:
            return [sample_dict(r) for r in rows]
        rows = [r for r in rows if r.camera_id is None or r.camera_id in visible]
        hidden = _hidden_sums(s, [r for r in rows if r.camera_id is None and r.category not in DISK_CATEGORIES],
                              visible)
        out = [sample_dict(r) for r in rows]
    for d, r in zip(out, rows, strict=True):
        b, f = hidden.get((r.timestamp, r.category), (0, 0)) if r.camera_id is None else (0, 0)
        d["bytes"], d["files"] = d["bytes"] - b, d["files"] - f
    return out


def _hidden_sums(s: Any, totals: list[StorageSample], visible: set[int]) -> dict[tuple[datetime, str], tuple[int, int]]:
    """(timestamp, category) -> bytes and files of the cameras outside ``visible`` at those samples."""
    if not totals:
        return {}
    q = (select(StorageSample.timestamp, StorageSample.category, func.sum(StorageSample.bytes),
                func.sum(StorageSample.files))
         .where(StorageSample.camera_id.is_not(None),
                StorageSample.timestamp >= min(r.timestamp for r in totals),
                StorageSample.timestamp <= max(r.timestamp for r in totals))
         .group_by(StorageSample.timestamp, StorageSample.category))
    if visible:
        q = q.where(StorageSample.camera_id.not_in(sorted(visible)))
    return {(ts, cat): (int(b or 0), int(f or 0)) for ts, cat, b, f in s.execute(q)}


def prune_samples(db: Database, *, keep_days: float = 90, now: datetime | None = None) -> int:
    """Delete samples older than ``keep_days``; returns how many."""
    cutoff = (as_utc(now) if now is not None else utcnow()) - timedelta(days=keep_days)
    with db.session() as s:
        res = s.execute(delete(StorageSample).where(StorageSample.timestamp < cutoff))
        return int(res.rowcount or 0)

"""How fast recordings grow, per camera, and how long until the disk or the retention size limit is
reached, from the storage samples (``storage_samples`` rows) of a recent window.

The rate counts what was written: the sum of the increases between consecutive samples of each camera
folder, over the time those samples span. Retention deleting old files does not make it negative (an
interval in which more was deleted than written counts as zero, so the rate is then a lower bound).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from thermalstream.db.engine import Database
from thermalstream.db.types import as_utc, utcnow
from thermalstream.storage.samples import list_samples

DAY = 86400.0


def _rate(points: list[tuple[float, int]]) -> float | None:
    """Bytes per second written, from (epoch, bytes) points oldest first; None with fewer than two."""
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None
    written = sum(max(b1 - b0, 0) for (_, b0), (_, b1) in pairwise(points))
    return written / (points[-1][0] - points[0][0])


def _days(room: float | None, rate: float) -> float | None:
    if room is None or rate <= 0:
        return None
    return max(room, 0.0) / rate / DAY


def growth(db: Database, policy, *, visible: set[int] | None = None, window: timedelta = timedelta(hours=24),
           now: datetime | None = None) -> dict[str, Any]:
    """``{"window_h", "cameras": {id: bytes_per_day}, "total_per_day", "days_to_disk_full",
    "days_to_size_limit"}`` for the cameras in ``visible`` (None: all). Day counts are None when they
    cannot be known (no growth, no samples, or no limit set). The disk estimate keeps the retention
    free-space reserve; the size-limit one uses ``policy.max_total_gb``."""
    end = as_utc(now) if now is not None else utcnow()
    rows = list_samples(db, since=end - window, until=end, category="recordings")
    per_cam: dict[int, list[tuple[float, int]]] = defaultdict(list)
    totals: list[tuple[float, int]] = []
    for r in rows:
        t = datetime.fromisoformat(r["timestamp"]).timestamp()
        if r["camera_id"] is None:
            totals.append((t, r["bytes"]))
        elif visible is None or r["camera_id"] in visible:
            per_cam[r["camera_id"]].append((t, r["bytes"]))
    cams = {cid: rate * DAY for cid, pts in sorted(per_cam.items()) if (rate := _rate(pts)) is not None}
    total_rate = sum(cams.values()) / DAY
    disk = list_samples(db, since=end - window, until=end, category="disk_free", camera_id=None)
    reserve = (policy.min_free_gb or 0) * 1e9
    free = disk[-1]["bytes"] - reserve if disk else None
    # a user who sees only some cameras learns nothing of the others' bytes: their own folders count
    used = (totals[-1][1] if totals else None) if visible is None else (
        sum(pts[-1][1] for pts in per_cam.values()) if per_cam else None)
    room = policy.max_total_gb * 1e9 - used if (policy.max_total_gb and used is not None) else None
    return {"window_h": window.total_seconds() / 3600, "cameras": cams, "total_per_day": total_rate * DAY,
            "days_to_disk_full": _days(free, total_rate), "days_to_size_limit": _days(room, total_rate)}


__all__ = ["growth"]

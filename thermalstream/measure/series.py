"""ROI time series in the database: raw samples (1 Hz by default), per-minute aggregates, retention.

* :class:`SeriesWriter` queues samples and writes them in batches (one transaction per flush).
* :func:`aggregate` folds every finished minute of raw samples into ``roi_minutes`` (min of the
  minima, max of the maxima, mean of the means, how many samples); it runs before raw rows are
  pruned, so the minutes outlive them.
* :func:`prune` deletes raw samples older than ``raw_days`` and minutes older than ``minute_days``.
* :func:`query` answers ``resolution`` "raw", "minute" or "auto" (raw where raw rows are left,
  minutes before them); :func:`series_dataframe` is the same as a pandas DataFrame.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from thermalstream.db.engine import Database
from thermalstream.db.models import Roi, RoiMinute, RoiSample
from thermalstream.db.types import as_utc
from thermalstream.detect.queries import _dt

RESOLUTIONS = ("auto", "raw", "minute")
MAX_POINTS = 100_000


class SeriesWriter:
    """Samples of every ROI, written in batches by whoever calls :meth:`flush` (the measure service)."""

    def __init__(self, db: Database, max_queue: int = 100_000) -> None:
        self.db = db
        self.max_queue = max_queue
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.written = 0
        self.dropped = 0
        self.batches = 0

    def add(self, roi_id: int, t: float, mn: float, mx: float, mean: float, std: float, unit: str) -> None:
        with self._lock:
            if len(self._rows) >= self.max_queue:
                self._rows.pop(0)
                self.dropped += 1
            self._rows.append({"roi_id": roi_id, "timestamp": datetime.fromtimestamp(t, UTC), "min": mn,
                               "max": mx, "mean": mean, "std": std, "unit": unit})

    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        """Write what is queued in one transaction; rows of deleted ROIs are dropped. On failure
        the rows stay queued and the error propagates."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            with self.db.session() as s:
                known = set(s.scalars(select(Roi.id).where(Roi.id.in_({r["roi_id"] for r in rows}))))
                keep = [r for r in rows if r["roi_id"] in known]
                if keep:
                    s.execute(insert(RoiSample), keep)
        except Exception:
            with self._lock:
                self._rows[:0] = rows
            raise
        self.written += len(keep)
        self.batches += 1
        return len(keep)


def _minute(dt: datetime) -> datetime:
    return as_utc(dt).replace(second=0, microsecond=0)


def aggregate(db: Database, now: datetime | None = None) -> int:
    """Fold the raw samples of every finished minute not aggregated yet; returns minutes written."""
    end = _minute(now or datetime.now(UTC))
    written = 0
    with db.session() as s:
        last = dict(s.execute(select(RoiMinute.roi_id, func.max(RoiMinute.minute)).group_by(RoiMinute.roi_id)).all())
        rois = s.scalars(select(RoiSample.roi_id).distinct()).all()
        for rid in rois:
            start = last.get(rid)
            q = select(RoiSample.timestamp, RoiSample.min, RoiSample.max, RoiSample.mean, RoiSample.unit).where(
                RoiSample.roi_id == rid, RoiSample.timestamp < end)
            if start is not None:
                q = q.where(RoiSample.timestamp >= as_utc(start) + timedelta(minutes=1))
            groups: dict[tuple[datetime, str], list[tuple[float, float, float]]] = defaultdict(list)
            for ts, mn, mx, mean, unit in s.execute(q):
                groups[(_minute(ts), unit)].append((mn, mx, mean))
            seen: set[datetime] = set()
            rows = []
            for (minute, unit), vals in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
                if minute in seen:  # the unit changed inside a minute: keep the larger part
                    continue
                seen.add(minute)
                rows.append({"roi_id": rid, "minute": minute, "min": min(v[0] for v in vals),
                             "max": max(v[1] for v in vals), "mean": sum(v[2] for v in vals) / len(vals),
                             "samples": len(vals), "unit": unit})
            if rows:
                s.execute(insert(RoiMinute), rows)
                written += len(rows)
    return written


def prune(db: Database, raw_days: float, minute_days: float | None, now: datetime | None = None) -> tuple[int, int]:
    """Aggregate, then delete raw samples older than ``raw_days`` and minutes older than
    ``minute_days`` (None: keep); returns (raw rows, minute rows) deleted."""
    now = now or datetime.now(UTC)
    aggregate(db, now)
    with db.session() as s:
        raw = s.execute(delete(RoiSample).where(RoiSample.timestamp < now - timedelta(days=raw_days))).rowcount
        minutes = 0
        if minute_days is not None:
            minutes = s.execute(
                delete(RoiMinute).where(RoiMinute.minute < now - timedelta(days=minute_days))).rowcount
    return raw or 0, minutes or 0


def _check(since, until, resolution: str) -> tuple[datetime | None, datetime | None]:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    a, b = _dt(since), _dt(until)
    if a is not None and b is not None and b < a:
        raise ValueError("'until' is before 'since'")
    return a, b


def query(db: Database, roi_id: int, since=None, until=None, resolution: str = "auto",
          limit: int = MAX_POINTS) -> list[dict[str, Any]]:
    """Points of an ROI, oldest first: ``{t, min, max, mean, std, samples, unit, resolution}``."""
    a, b = _check(since, until, resolution)
    out: list[dict[str, Any]] = []
    with db.session() as s:
        first_raw = None
        if resolution in ("raw", "auto"):
            q = select(RoiSample).where(RoiSample.roi_id == roi_id)
            if a is not None:
                q = q.where(RoiSample.timestamp >= a)
            if b is not None:
                q = q.where(RoiSample.timestamp <= b)
            raw = s.scalars(q.order_by(RoiSample.timestamp.desc()).limit(limit)).all()[::-1]
            out = [{"t": as_utc(r.timestamp).isoformat(), "min": r.min, "max": r.max, "mean": r.mean, "std": r.std,
                    "samples": 1, "unit": r.unit, "resolution": "raw"} for r in raw]
            first_raw = raw[0].timestamp if raw else None
        if resolution in ("minute", "auto"):
            q = select(RoiMinute).where(RoiMinute.roi_id == roi_id)
            if a is not None:
                q = q.where(RoiMinute.minute >= _minute(a))
            if b is not None:
                q = q.where(RoiMinute.minute <= b)
            if first_raw is not None:  # auto: minutes only where raw rows are gone
                q = q.where(RoiMinute.minute < _minute(first_raw))
            mins = s.scalars(q.order_by(RoiMinute.minute.desc()).limit(max(limit - len(out), 0))).all()[::-1]
            out = [{"t": as_utc(m.minute).isoformat(), "min": m.min, "max": m.max, "mean": m.mean, "std": None,
                    "samples": m.samples, "unit": m.unit, "resolution": "minute"} for m in mins] + out
    return out


def series_dataframe(db: Database, roi_id: int, since=None, until=None, resolution: str = "auto"):
    """:func:`query` as a DataFrame with a UTC ``timestamp`` column (empty with the same columns)."""
    import pandas as pd

    rows = query(db, roi_id, since, until, resolution)
    cols = ["timestamp", "min", "max", "mean", "std", "samples", "unit", "resolution"]
    df = pd.DataFrame([{**r, "timestamp": r["t"]} for r in rows], columns=cols)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    df["std"] = df["std"].astype("float64")
    return df


def rois_dataframe(db: Database, roi_ids: list[int], since=None, until=None, resolution: str = "auto"):
    """Several ROIs' series in one DataFrame, with ``camera_id``, ``roi_id`` and ``roi`` (name) columns."""
    import pandas as pd

    with db.session() as s:
        rois = {r.id: r for r in s.scalars(select(Roi).where(Roi.id.in_(roi_ids)))}
        s.expunge_all()
    frames = []
    for rid in roi_ids:
        if rid not in rois:
            continue
        df = series_dataframe(db, rid, since, until, resolution)
        df.insert(1, "camera_id", rois[rid].camera_id)
        df.insert(2, "roi_id", rid)
        df.insert(3, "roi", rois[rid].name)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["timestamp", "camera_id", "roi_id", "roi", "min", "max", "mean", "std",
                                     "samples", "unit", "resolution"])
    return pd.concat(frames, ignore_index=True)

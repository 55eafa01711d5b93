"""Recordings and events as pandas DataFrames, read straight from the database (no server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from thermalstream.db import Database
from thermalstream.db.models import Event, Recording
from thermalstream.db.types import as_utc
from thermalstream.detect.queries import _dt, _ids

RECORDING_COLUMNS = ["id", "camera_id", "started_at", "ended_at", "duration_s", "frames", "dropped_frames",
                     "segments", "size_bytes", "status", "protected", "scheduled", "event_id", "path"]
EVENT_COLUMNS = ["id", "camera_id", "label", "started_at", "ended_at", "max_confidence", "max_celsius"]


def _utc(value):
    return None if value is None else as_utc(value)


def _frame(rows: list[tuple], columns: list[str], times: tuple[str, ...]):
    import pandas as pd

    df = pd.DataFrame(rows, columns=columns)
    for col in times:
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


def recordings_dataframe(db: Database, camera: int | list[int] | None = None, since: Any = None, until: Any = None):
    """Recordings overlapping [since, until], oldest first; ``path`` is relative to the recordings folder."""
    q = select(Recording).order_by(Recording.started_at, Recording.id)
    if (cams := _ids(camera, "camera")) is not None:
        q = q.where(Recording.camera_id.in_(cams))
    if since is not None:
        q = q.where(or_(Recording.ended_at.is_(None), Recording.ended_at >= _dt(since)))
    if until is not None:
        q = q.where(Recording.started_at <= _dt(until))
    with db.session() as s:
        rows = [(r.id, r.camera_id, as_utc(r.started_at), _utc(r.ended_at), r.duration_s, r.frames,
                 r.dropped_frames, r.segments, r.size_bytes, r.status, bool(r.protected), bool(r.scheduled),
                 r.event_id, r.path) for r in s.scalars(q)]
    return _frame(rows, RECORDING_COLUMNS, ("started_at", "ended_at"))


def events_dataframe(db: Database, camera: int | list[int] | None = None, label: str | None = None, since: Any = None,
                     until: Any = None):
    """Events (one per tracked object) starting in [since, until], oldest first."""
    q = select(Event).order_by(Event.started_at, Event.id)
    if (cams := _ids(camera, "camera")) is not None:
        q = q.where(Event.camera_id.in_(cams))
    if label is not None:
        q = q.where(Event.label == label)
    if since is not None:
        q = q.where(Event.started_at >= _dt(since))
    if until is not None:
        q = q.where(Event.started_at <= _dt(until))
    with db.session() as s:
        rows = [(e.id, e.camera_id, e.label, as_utc(e.started_at), _utc(e.ended_at), e.max_confidence,
                 e.max_celsius) for e in s.scalars(q)]
    return _frame(rows, EVENT_COLUMNS, ("started_at", "ended_at"))


def recording_folder(db: Database, recordings_dir: Path, recording_id: int) -> tuple[Path, dict[str, Any]]:
    """The folder of recording ``recording_id`` and its row as a dict (KeyError when unknown)."""
    with db.session() as s:
        r = s.get(Recording, int(recording_id))
        if r is None:
            raise KeyError(f"no recording {recording_id}")
        info = {"recording_id": r.id, "camera_id": r.camera_id, "status": r.status}
        return (Path(recordings_dir) / r.path), info


__all__ = ["events_dataframe", "recording_folder", "recordings_dataframe"]


def attach_frames(db: Database, recordings_dir: Path, df, tolerance_s: float = 0.5):
    """Add ``recording_id`` and ``frame`` (the index in ``ts.open_recording(recording_id)``) to a detections
    DataFrame: the recorded frame nearest each detection's timestamp, within ``tolerance_s``; <NA> where
    nothing was recorded then (or the camera is picture-only)."""
    import numpy as np
    import pandas as pd

    from thermalstream.datasets.recording import RecordingData

    rec_ids = pd.array([pd.NA] * len(df), dtype="Int64")
    frames = pd.array([pd.NA] * len(df), dtype="Int64")
    if len(df):
        stamps = df["timestamp"].map(lambda t: t.timestamp()).to_numpy(np.float64)
        rows = recordings_dataframe(db, camera=sorted(set(df["camera_id"].tolist())),
                                    since=df["timestamp"].min(), until=df["timestamp"].max())
        for rec in rows.itertuples():
            try:
                ts = RecordingData.from_path(Path(recordings_dir) / rec.path).timestamps
            except (OSError, ValueError):
                continue  # picture-only camera, or files gone
            sel = np.flatnonzero((df["camera_id"].to_numpy() == rec.camera_id) & (stamps >= ts[0] - tolerance_s)
                                 & (stamps <= ts[-1] + tolerance_s))
            if sel.size == 0:
                continue
            idx = np.clip(np.searchsorted(ts, stamps[sel]), 1, len(ts) - 1)
            nearest = np.where(np.abs(ts[idx - 1] - stamps[sel]) <= np.abs(ts[idx] - stamps[sel]), idx - 1, idx)
            if len(ts) == 1:
                nearest = np.zeros_like(sel)
            ok = np.abs(ts[nearest] - stamps[sel]) <= tolerance_s
            rec_ids[sel[ok]] = rec.id
            frames[sel[ok]] = nearest[ok]
    out = df.copy()
    out["recording_id"], out["frame"] = rec_ids, frames
    return out

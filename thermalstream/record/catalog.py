"""Reading recordings back: rows with their segments and gaps, newest first, for the API, pages and
exports. Mixed into :class:`thermalstream.record.service.RecordingService`, which owns the rows,
the folder (``resolve``) and the sessions that are recording now (``_active`` under ``_lock``)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from thermalstream.db.models import Recording, RecordingSegment
from thermalstream.db.types import as_utc
from thermalstream.record.errors import RecordingNotFound
from thermalstream.record.reconcile import _dt
from thermalstream.record.recorder import read_manifest

log = logging.getLogger(__name__)


def _iso(dt: datetime | None) -> str | None:
    return as_utc(dt).isoformat() if dt is not None else None


class RecordingCatalog:
    """Queries over recordings (see the module docstring)."""

    def _row_dict(self, r: Recording, segs: list[RecordingSegment]) -> dict[str, Any]:
        seg_paths = [x.path for x in segs]
        d = {
            "id": r.id, "camera_id": r.camera_id, "started_at": _iso(r.started_at), "ended_at": _iso(r.ended_at),
            "duration_s": r.duration_s, "frames": r.frames, "dropped_frames": r.dropped_frames,
            "size_bytes": r.size_bytes, "segments": r.segments, "path": r.path, "scheduled": bool(r.scheduled),
            "schedule_id": r.schedule_id, "status": r.status, "protected": bool(r.protected),
            "event_id": r.event_id, "error": r.error,
            "media_path": seg_paths[0] if seg_paths else None,  # first segment, relative to recordings_dir
            "segment_paths": seg_paths,
        }
        with self._lock:
            sess = self._active.get(r.camera_id)
        if sess is not None and sess.recording_id == r.id and sess.recorder is not None:
            st = sess.recorder.stats()
            d.update(frames=st["frames"], dropped_frames=st["dropped"], recording=True)
        else:
            d["recording"] = False
        return d

    def list(
        self,
        camera_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        status: str | None = None,
        ids: list[int] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Recordings newest first. ``since``/``until`` keep those overlapping the interval
        (a recording still running overlaps everything after its start)."""
        q = select(Recording).order_by(Recording.started_at.desc(), Recording.id.desc())
        if camera_id is not None:
            q = q.where(Recording.camera_id == camera_id)
        if since is not None:
            q = q.where(or_(Recording.ended_at.is_(None), Recording.ended_at >= as_utc(since)))
        if until is not None:
            q = q.where(Recording.started_at <= as_utc(until))
        if status is not None:
            q = q.where(Recording.status == status)
        if ids is not None:
            q = q.where(Recording.id.in_(list(ids)))
        if limit is not None:
            q = q.limit(int(limit))
        with self.db.session() as s:
            rows = list(s.scalars(q))
            segs: dict[int, list[RecordingSegment]] = {r.id: [] for r in rows}
            if rows:
                sq = (select(RecordingSegment).where(RecordingSegment.recording_id.in_(list(segs)))
                      .order_by(RecordingSegment.started_at, RecordingSegment.id))
                for sg in s.scalars(sq):
                    segs[sg.recording_id].append(sg)
            return [self._row_dict(r, segs[r.id]) for r in rows]

    def get(self, recording_id: int) -> dict[str, Any]:
        """One recording with its segments (dicts) and gaps (from its manifest)."""
        rows = self.list(ids=[recording_id])
        if not rows:
            raise RecordingNotFound(f"no recording {recording_id}")
        d = rows[0]
        with self.db.session() as s:
            d["segment_list"] = [
                {"path": x.path, "started_at": _iso(x.started_at), "ended_at": _iso(x.ended_at),
                 "frames": x.frames, "size_bytes": x.size_bytes}
                for x in s.scalars(select(RecordingSegment).where(RecordingSegment.recording_id == recording_id)
                                   .order_by(RecordingSegment.started_at, RecordingSegment.id))
            ]
        try:
            man = read_manifest(self.resolve(d["path"])) if d["path"] else None
        except ValueError:
            man = None
        d["gaps"] = [
            {"start": _iso(_dt(g["start"])), "end": _iso(_dt(g["end"])) if g.get("end") else None,
             "reason": g.get("reason", "")}
            for g in (man or {}).get("gaps", [])
        ]
        return d

    def set_protected(self, recording_id: int, protected: bool) -> dict[str, Any]:
        """Protect a recording from retention cleanup (or release it)."""
        with self.db.session() as s:
            row = s.get(Recording, recording_id)
            if row is None:
                raise RecordingNotFound(f"no recording {recording_id}")
            row.protected = bool(protected)
        return self.get(recording_id)

    def segments_between(self, camera_id: int, since: datetime, until: datetime) -> list[Path]:
        """Files of ``camera_id``'s segments overlapping [since, until], oldest first."""
        q = (
            select(RecordingSegment.path)
            .join(Recording, Recording.id == RecordingSegment.recording_id)
            .where(Recording.camera_id == camera_id, RecordingSegment.started_at <= as_utc(until),
                   or_(RecordingSegment.ended_at.is_(None), RecordingSegment.ended_at >= as_utc(since)))
            .order_by(RecordingSegment.started_at, RecordingSegment.id)
        )
        with self.db.session() as s:
            rels = list(s.scalars(q))
        out = []
        for rel in rels:
            try:
                out.append(self.resolve(rel))
            except ValueError:
                log.warning("segment path outside the recordings folder ignored: %s", rel)
        return out

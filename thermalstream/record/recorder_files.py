"""The recorder's files: opening, sealing and salvaging segments, and its ``recording.json``.

:class:`RecorderFiles` is mixed into :class:`~thermalstream.record.recorder.Recorder`; a closed
segment goes into the manifest first (the database is reconciled from it), then to ``on_segment``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from thermalstream.frame import Frame
from thermalstream.record.open_segment import OpenSegment
from thermalstream.record.radiometric import RadiometricOptions
from thermalstream.record.segments import Gap, Segment, looks_full, segment_name, write_manifest
from thermalstream.record.video import VideoOptions

log = logging.getLogger(__name__)


class RecorderFiles:
    """Segments and manifest of a :class:`~thermalstream.record.recorder.Recorder`."""

    camera: Any
    directory: Path
    segment_seconds: float
    video_options: VideoOptions
    radiometric: bool | None
    radiometric_options: RadiometricOptions
    min_free_bytes: int | None
    on_segment: Callable[[Segment], None] | None
    segments: list[Segment]
    gaps: list[Gap]
    frames: int
    encoded_segments: int
    remuxed_segments: int
    disk_full: bool
    error: str | None
    _open: OpenSegment | None
    _index: int
    _floor: int
    _ended_at: float | None
    _lock: threading.Lock

    def _want_radiometric(self, frame: Frame) -> bool:
        if self.radiometric is not None:
            return bool(self.radiometric) and frame.is_radiometric
        info = getattr(self.camera, "info", None)
        return bool(info is not None and info.radiometric and frame.is_radiometric)

    def _open_segment(self, frame: Frame, image: np.ndarray, ts: float, shape: tuple | None = None) -> None:
        want_rad = self._want_radiometric(frame)
        if self.min_free_bytes is None:
            stored = frame.raw if frame.raw is not None else frame.celsius
            per_frame = image.nbytes + (stored.nbytes if stored is not None and want_rad else 0)
            self._floor = 1_000_000 + 8 * per_frame
        self.check_space()
        idx = self._index
        self._index += 1
        info = getattr(self.camera, "info", None)
        camera = {"name": getattr(self.camera, "name", ""),
                  "url": getattr(getattr(self.camera, "url", None), "masked", ""), "id": self.camera.id}
        self._open = OpenSegment.create(
            self.directory / segment_name(idx, ts), idx, frame, image, ts, shape,
            fps=info.fps if info is not None and info.fps else 25.0, video=self.video_options,
            radiometric=self.radiometric_options if want_rad else None, camera=camera)
        if self._open.remux:
            self.remuxed_segments += 1
        else:
            self.encoded_segments += 1

    def _close_segment(self, end: float | None = None) -> None:
        o, self._open = self._open, None
        if o is None:
            return
        if o.frames == 0:
            o.discard()
            return
        try:
            vinfo, rad_size = o.close_writers()
        except Exception:
            self._open = o  # let the error path decide what to keep
            raise
        period = 1.0 / (self.camera.info.fps if getattr(self.camera, "info", None) and self.camera.info.fps else 25.0)
        seg, cut = o.seal(vinfo, rad_size, end, period, self.directory, self._floor)
        self._segment_done(seg)
        if cut is not None:
            raise cut

    def _abort_segment(self) -> None:
        """After an error: close the open segment as well as possible, keep it if it decodes."""
        o, self._open = self._open, None
        if o is None:
            return
        seg = o.salvage(self.disk_full or looks_full(self.directory, 1_000_000))
        if seg is not None:
            self._segment_done(seg)

    def _segment_done(self, seg: Segment) -> None:
        """Add a closed segment: the manifest first (the database is reconciled from it), then on_segment."""
        with self._lock:
            self.segments.append(seg)
        self._write_manifest()
        if self.on_segment is not None:
            try:
                self.on_segment(seg)
            except Exception:
                log.exception("on_segment callback failed")

    def write_manifest(self) -> bool:
        """Rewrite ``recording.json`` now (after a full disk); True when it was written."""
        return self._write_manifest()

    def _write_manifest(self) -> bool:
        info = getattr(self.camera, "info", None)
        with self._lock:
            doc = {
                "format": "thermalstream-recording/1",
                "camera_id": str(self.camera.id),
                "camera_name": getattr(self.camera, "name", ""),
                "camera_url": getattr(getattr(self.camera, "url", None), "masked", ""),
                "fps": getattr(info, "fps", None),
                "radiometric": bool(getattr(info, "radiometric", False)),
                "segment_seconds": self.segment_seconds,
                "video": asdict(self.video_options),
                "segments": [s.as_dict(self.directory) for s in self.segments],
                "gaps": [asdict(g) for g in self.gaps],
                "frames": self.frames,
                "dropped": self.dropped,
                "error": self.error,
                "finished": self._ended_at is not None,
                "ended_at": self._ended_at,
            }
        return write_manifest(self.directory, doc)

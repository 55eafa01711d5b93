"""The segment being written: its video writer (encoded or remuxed) and HDF5 file, sealed or salvaged."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import numpy as np

from thermalstream.frame import Frame
from thermalstream.record.radiometric import RadiometricOptions, RadiometricWriter
from thermalstream.record.remux import RemuxSegmentWriter
from thermalstream.record.segments import Segment, looks_full, remove_file
from thermalstream.record.video import SegmentWriter, VideoOptions, probe_segment

log = logging.getLogger(__name__)


class OpenSegment:
    """The segment being written."""

    def __init__(self, index: int, video: SegmentWriter, rad: RadiometricWriter | None, shape: tuple):
        self.index = index
        self.video = video
        self.rad = rad
        self.shape = shape
        self.remux = isinstance(video, RemuxSegmentWriter)
        self.start: float | None = None
        self.last: float | None = None
        self.frames = 0

    @classmethod
    def create(cls, path: Path, index: int, frame: Frame, image: np.ndarray, ts: float,
               shape: tuple | None, *, fps: float, video: VideoOptions, radiometric: RadiometricOptions | None,
               camera: dict) -> OpenSegment:
        """Open the writers of segment ``index`` at ``path``: packets copied when ``shape`` says
        "remux", else ``image`` encoded; an HDF5 file beside it when ``radiometric`` options are given."""
        meta = {"comment": json.dumps({"start": ts, "camera_id": str(camera["id"]), "segment": index}),
                "title": f"{camera['name']} segment {index}"}
        if shape is not None and shape[0] == "remux":
            writer = RemuxSegmentWriter(path, frame.packet, fps, video, metadata=meta)
        else:
            writer = SegmentWriter(path, image.shape[1], image.shape[0], fps, video, metadata=meta)
        rad = None
        if radiometric is not None:
            rad = RadiometricWriter(path.with_suffix(".h5"), radiometric, camera=camera)
        o = cls(index, writer, rad, shape if shape is not None else image.shape)
        o.start = ts
        return o

    def discard(self) -> None:
        """Abort both writers and delete their files (a segment without frames)."""
        self.video.abort()
        if self.rad is not None:
            self.rad.abort()
        self._remove_files()

    def close_writers(self):
        """Close the video and HDF5 files: (video info, HDF5 size in bytes)."""
        vinfo = self.video.close()
        rad_size = self.rad.close() if self.rad is not None else 0
        return vinfo, rad_size

    def seal(self, vinfo, rad_size: int, end: float | None, period: float, directory: Path,
             floor: int) -> tuple[Segment, OSError | None]:
        """The closed segment as the file on disk says, and the error to raise when it was cut short.

        The muxer does not report every failed write at close (a full disk can cut the file
        short silently): demux the file (about a millisecond) and believe what is on disk.
        An unreadable file is deleted and raises OSError."""
        seg_end = end if end is not None else (self.last or self.start) + period
        check = probe_segment(self.video.path, decode=False)
        short = check.frames < self.frames - 1
        if not check.ok:
            self._remove_files()
            raise OSError(errno.ENOSPC if looks_full(directory, floor) else errno.EIO,
                          f"{self.video.path.name} is unreadable after closing: {check.error}")
        seg = Segment(
            index=self.index, path=self.video.path, start=self.start,
            end=round(self.start + check.duration_s if short else seg_end, 6),
            frames=check.frames if short else self.frames,
            duration_s=check.duration_s if short else vinfo.duration_s, size_bytes=check.size_bytes + rad_size,
            radiometric_path=self.rad.path if self.rad is not None and self.rad.frames else None,
        )
        if not short:
            return seg, None
        return seg, OSError(errno.ENOSPC if looks_full(directory, floor) else errno.EIO,
                            f"{self.video.path.name} was cut short when closed "
                            f"({check.frames} of {self.frames} frames on disk)")

    def salvage(self, full: bool) -> Segment | None:
        """After an error: close as well as possible; the segment if it decodes, else None (files deleted)."""
        for w in (self.video, self.rad):
            if w is None:
                continue
            if w is self.rad and full:
                w.abandon()  # closing HDF5 on a full disk segfaults; readable up to its last flush
                continue
            try:
                w.close()
            except Exception:  # noqa: BLE001
                w.abort()
        probe = probe_segment(self.video.path) if self.video.path.exists() else None
        if probe is None or not probe.ok:
            log.warning("dropping unreadable segment %s (%s)", self.video.path, probe.error if probe else "missing")
            self._remove_files()
            return None
        rad_size = 0
        if self.rad is not None:
            try:
                rad_size = self.rad.path.stat().st_size
            except OSError:
                pass
        start = self.start or 0.0
        return Segment(self.index, self.video.path, start, start + probe.duration_s, probe.frames,
                       probe.duration_s, probe.size_bytes + rad_size,
                       self.rad.path if self.rad is not None and self.rad.path.exists() else None)

    def _remove_files(self) -> None:
        remove_file(self.video.path)
        if self.rad is not None:
            remove_file(self.rad.path)


__all__ = ["OpenSegment"]

"""The recorder: one thread per recording that writes every frame of one camera to segments.

    rec = Recorder(camera, "data/recordings/cam1/20261124T101500Z_r7", segment_seconds=10).start()
    ...
    result = rec.stop()      # closes the open segment; result.segments, .frames, .dropped, .gaps

It takes every frame from ``camera.subscribe(queue_size)`` (a bounded queue: when the recorder
falls behind, capture drops frames into a counter instead of waiting, and ``dropped`` reports
them), encodes them to H.264 MP4 segments (:mod:`.video`) and, for radiometric cameras, stores
the raw counts or °C losslessly beside each segment (:mod:`.radiometric`).

Segments roll every ``segment_seconds`` of frame time. When frames stop (no frame for
``gap_after`` seconds, or the camera publishes ``reconnecting``/``failed``), the open segment is
closed and a gap is recorded; the next frame opens a new segment and ends the gap. A change of
frame size also starts a new segment.

Disk space is checked before the first segment and every ``disk_check_s`` while recording; below
``reserve_bytes`` free, or on any write error (ENOSPC…), the recorder stops with
:class:`DiskFull` / :class:`RecorderError` in ``error``. Closed segments are never reopened; the
segment open at the failure is kept if it still decodes and deleted otherwise.

A ``recording.json`` manifest (segments, gaps, totals, and ``finished`` once the thread ends) is
rewritten atomically beside the segments at every change, *before* ``on_segment`` and
``on_finished`` run: the folder is the source of truth the database is reconciled from
(after a crash, and after a database outage). Segments and the manifest: :mod:`.recorder_files`.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from thermalstream.frame import Frame
from thermalstream.palettes import colourise
from thermalstream.radiometry import law_key
from thermalstream.record.open_segment import OpenSegment
from thermalstream.record.radiometric import RadiometricOptions
from thermalstream.record.recorder_files import RecorderFiles
from thermalstream.record.remux import can_remux
from thermalstream.record.segments import (
    DEFAULT_RESERVE_BYTES,
    MANIFEST,
    DiskFull,
    Gap,
    RecorderError,
    RecorderResult,
    Segment,
    free_bytes,
    looks_full,
    parse_segment_name,
    read_manifest,
    safety_floor,
    segment_name,
)
from thermalstream.record.video import BurnIn, VideoOptions

log = logging.getLogger(__name__)

LOST_STATUSES = ("reconnecting", "failed", "stopped")
Palette = Callable[[Frame], np.ndarray]


class Recorder(RecorderFiles):
    """Record one camera into ``directory`` (created if needed). See the module docstring."""

    def __init__(
        self,
        camera,
        directory: str | os.PathLike,
        *,
        segment_seconds: float = 10.0,
        video: VideoOptions | None = None,
        radiometric: bool | None = None,
        radiometric_options: RadiometricOptions | None = None,
        palette: str | Palette | None = None,
        burn_in: BurnIn | None = None,
        queue_size: int = 64,
        gap_after: float = 2.0,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        min_free_bytes: int | None = None,
        disk_check_s: float = 1.0,
        on_segment: Callable[[Segment], None] | None = None,
        on_gap: Callable[[Gap], None] | None = None,
        on_finished: Callable[[RecorderResult], None] | None = None,
    ) -> None:
        if segment_seconds <= 0:
            raise ValueError("segment_seconds must be > 0")
        self.camera = camera
        self.directory = Path(directory)
        self.segment_seconds = float(segment_seconds)
        self.video_options = video or VideoOptions()
        self.radiometric = radiometric
        self.radiometric_options = radiometric_options or RadiometricOptions()
        self.burn_in = burn_in
        self._palette: Palette | None
        if palette is None or palette == "white-hot":
            self._palette = None  # the display image as the camera gives it
        elif isinstance(palette, str):
            colourise(np.zeros((2, 2), np.uint8), palette)  # unknown names fail now, not in the thread
            self._palette = lambda f, p=palette: colourise(f.image, p) if f.is_radiometric else f.image
        else:
            self._palette = palette
        self.queue_size = int(queue_size)
        self.gap_after = float(gap_after)
        self.reserve_bytes = int(reserve_bytes)
        self.min_free_bytes = min_free_bytes  # None: 1 MB + 8 frames' worth, set at the first segment
        self._floor = (safety_floor(getattr(camera, "info", None), radiometric is not False)
                       if min_free_bytes is None else int(min_free_bytes))
        self.disk_check_s = float(disk_check_s)
        self.on_segment, self.on_gap, self.on_finished = on_segment, on_gap, on_finished

        self.segments: list[Segment] = []
        self.gaps: list[Gap] = []
        self.frames = 0
        self.encoded_segments = 0  # segments written through x264
        self.remuxed_segments = 0  # segments whose H.264 packets were copied without re-encoding
        self.awaiting_keyframe = 0  # H.264 frames skipped before a remuxed segment's first keyframe
        self.error: str | None = None
        self.disk_full = False
        self._sub = None
        self._unsub_bus: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._open: OpenSegment | None = None
        self._index = 0
        self._last_ts: float | None = None
        self._last_mono = 0.0
        self._next_disk_check = 0.0
        self._result: RecorderResult | None = None
        self._ended_at: float | None = None  # set when the thread ends: the manifest says "finished"
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ control

    def check_space(self) -> None:
        """Raise :class:`DiskFull` when the recordings file system is below the reserve (or
        below the hard floor that keeps HDF5 and the MP4 muxer from ever meeting ENOSPC)."""
        free = free_bytes(self.directory)
        limit = max(self.reserve_bytes, self._floor)
        if free < limit:
            raise DiskFull(
                f"disk full: {free / 1e6:.1f} MB free under {self.directory}, "
                f"below the {limit / 1e6:.1f} MB " + ("reserve" if limit == self.reserve_bytes else "safety floor")
            )

    def start(self) -> Recorder:
        """Check the disk, subscribe to the camera and start the thread. Raises DiskFull."""
        if self._thread is not None:
            raise RuntimeError("recorder already started")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.check_space()
        self._sub = self.camera.subscribe(self.queue_size, name=f"recorder:{self.directory.name}")
        bus = getattr(self.camera, "bus", None)
        if bus is not None:
            self._unsub_bus = bus.subscribe(self._on_status, "camera.status")
        self._write_manifest()
        self._thread = threading.Thread(target=self._run, name=f"recorder-{self.camera.id}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> RecorderResult:
        """Stop: write the frames already queued, close the open segment, return the result."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                log.error("recorder for camera %s did not stop within %.0f s", self.camera.id, timeout)
        return self.result()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def dropped(self) -> int:
        return self._sub.dropped if self._sub is not None else 0

    @property
    def ended_at(self) -> float | None:
        """When the thread ended (epoch s); None while it runs."""
        return self._ended_at

    @property
    def open_segment_frames(self) -> int:
        o = self._open
        return o.frames if o else 0

    def result(self) -> RecorderResult:
        with self._lock:
            return RecorderResult(list(self.segments), list(self.gaps), self.frames, self.dropped,
                                  self.error, self.disk_full)

    def stats(self) -> dict[str, Any]:
        r = self.result()
        return {"frames": r.frames, "dropped": r.dropped, "segments": len(r.segments),
                "size_bytes": r.size_bytes, "duration_s": r.duration_s, "error": r.error,
                "queued": self._sub.qsize() if self._sub is not None else 0,
                "gaps": len(r.gaps)}

    # ------------------------------------------------------------------ thread

    def _on_status(self, event) -> None:
        data = event.data
        if data.get("camera_id") != self.camera.id:
            return
        if data.get("status") in LOST_STATUSES:
            self._lost.set()
        elif data.get("status") == "live":
            self._lost.clear()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self._sub.get(timeout=0.2)
                if frame is None:
                    self._idle()
                else:
                    self._frame(frame)
                self._periodic_disk_check()
            # stop: write what is already queued, then close
            self.camera.unsubscribe(self._sub)
            while (frame := self._sub.get(timeout=0)) is not None:
                self._frame(frame)
            self._close_segment()
        except DiskFull as exc:
            self._fail(str(exc), disk_full=True)
        except OSError as exc:
            full = exc.errno == errno.ENOSPC or looks_full(self.directory, self.reserve_bytes)
            what = "disk full" if full else "write error"
            self._fail(f"{what}: {exc.strerror or exc} ({self._open.video.path.name if self._open else self.directory})",
                       disk_full=full)
        except Exception as exc:
            log.exception("recorder for camera %s failed", self.camera.id)
            self._fail(f"recording failed: {exc.__class__.__name__}: {exc}")
        finally:
            if self._sub is not None:
                self.camera.unsubscribe(self._sub)
            if self._unsub_bus is not None:
                self._unsub_bus()
                self._unsub_bus = None
            for g in self.gaps:
                if g.end is None:
                    g.end = time.time()
            self._ended_at = time.time()
            self._write_manifest()
            self._result = self.result()
            if self.on_finished is not None:
                try:
                    self.on_finished(self._result)
                except Exception:
                    log.exception("on_finished callback failed")

    def _fail(self, message: str, disk_full: bool = False) -> None:
        log.error("camera %s: %s", self.camera.id, message)
        with self._lock:
            self.error = message
            self.disk_full = disk_full
        self._abort_segment()

    def _idle(self) -> None:
        o = self._open
        if o is None:
            return
        silent = time.monotonic() - self._last_mono
        if self._lost.is_set() or silent > self.gap_after:
            reason = "camera lost" if self._lost.is_set() else f"no frames for {silent:.1f} s"
            self._close_segment()
            self._begin_gap(self._last_ts or time.time(), reason)

    def _begin_gap(self, start: float, reason: str) -> None:
        if self.gaps and self.gaps[-1].end is None:
            return
        with self._lock:
            self.gaps.append(Gap(start, None, reason))
        log.info("camera %s: recording gap from %.3f (%s)", self.camera.id, start, reason)

    def _end_gap(self, end: float) -> None:
        if self.gaps and self.gaps[-1].end is None:
            g = self.gaps[-1]
            g.end = end
            if self.on_gap is not None:
                try:
                    self.on_gap(g)
                except Exception:
                    log.exception("on_gap callback failed")
            self._write_manifest()

    def _periodic_disk_check(self) -> None:
        now = time.monotonic()
        if now >= self._next_disk_check:
            self._next_disk_check = now + self.disk_check_s
            self.check_space()

    def _frame(self, frame: Frame) -> None:
        if self._floor and free_bytes(self.directory) < self._floor:  # every frame: one statvfs
            self.check_space()
        ts = float(frame.timestamp)
        # An H.264 camera (RTSP) is recorded by copying its packets, unless the video is to be
        # coloured or burnt in; segments then roll only at keyframes.
        remux = self._palette is None and self.burn_in is None and can_remux(frame.packet)
        if remux:
            image, pkt = frame.image, frame.packet
            shape = ("remux", pkt.width, pkt.height)
        else:
            image = frame.image if self._palette is None else self._palette(frame)
            if self.burn_in is not None:
                image = self.burn_in(image, frame)
            shape = image.shape
            if frame.is_radiometric:  # new radiometric settings start a segment: one law per HDF5 file
                shape = (*shape, *law_key(frame))
        o = self._open
        if o is not None:
            if self._last_ts is not None and ts - self._last_ts > self.gap_after:
                self._close_segment()
                self._begin_gap(self._last_ts, f"no frames for {ts - self._last_ts:.1f} s")
            elif shape != o.shape:
                self._close_segment()
            elif ts - o.start >= self.segment_seconds and (not remux or pkt.keyframe):
                self._close_segment(end=ts)
        if self._open is None:
            if remux and not pkt.keyframe:
                self.awaiting_keyframe += 1  # a remuxed segment must begin with a keyframe
                return
            self._open_segment(frame, image, ts, shape)
        o = self._open
        if remux:
            o.video.write(pkt, ts)
        else:
            o.video.write(image, ts)
        if o.rad is not None and frame.is_radiometric:
            o.rad.write(frame)
        o.frames += 1
        o.last = ts
        with self._lock:
            self.frames += 1
        self._last_ts = ts
        self._last_mono = time.monotonic()
        self._end_gap(ts)


# Re-exported for importers that other parts own (record/service.py, workers/, app/); defined in segments.py.
__all__ = [
    "DEFAULT_RESERVE_BYTES",
    "MANIFEST",
    "DiskFull",
    "Gap",
    "Recorder",
    "RecorderError",
    "RecorderResult",
    "Segment",
    "free_bytes",
    "parse_segment_name",
    "read_manifest",
    "safety_floor",
    "segment_name",
]

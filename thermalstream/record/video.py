"""H.264 MP4 segments through PyAV/libx264, and a decoder-based probe for segments on disk.

Why PyAV: OpenCV's pip wheels cannot write H.264 here, and ``mp4v`` does not play in browsers.

Container choice
----------------
Each segment is its own file. The default, ``container="fragmented"``, writes fragmented MP4
(``movflags=frag_keyframe+empty_moov+default_base_moof``): the ``moov`` box comes first and
each keyframe starts a new ``moof``+``mdat`` fragment. The muxer holds a fragment until the
next keyframe packet arrives; ``flush_packets=1`` then hands it to the file at once (without it
FFmpeg's 256 KiB write buffer kept about 16 s of thermal video in the process), and the file is
fsynced at most every ``fsync_s`` seconds. A ``kill -9`` therefore loses only the *open*
fragment (``keyint_s``) plus the frames inside the encoder (x264's lookahead, about 10 frames
with ``veryfast``); every closed segment is a complete file, and the open one stays decodable
up to its last whole fragment. A power cut loses at most ``fsync_s`` more.
Chrome, Firefox and Safari play fragmented MP4 in a plain ``<video>`` element; seeking works
with HTTP range requests.

``container="faststart"`` writes a classic MP4 and moves the ``moov`` box to the front when the
segment is closed (``movflags=+faststart``). The open segment has no index until it is closed,
so a crash loses all of it (still at most one segment).

Frames are timed by their capture timestamps: ``pts`` = milliseconds since the first frame of
the segment (time base 1/1000), so a camera whose frame rate varies plays at real speed.
Grey (white-hot) images go straight to the Y plane in limited range with neutral chroma; BGR
images go through OpenCV's I420 conversion. Output is ``yuv420p`` H.264 High profile
(Main with ``profile="main"``), which every browser decodes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Self

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

CONTAINERS = ("fragmented", "faststart")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
FRAG_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
TIME_BASE = Fraction(1, 1000)

# Full-range grey (0..255) to limited-range luma (16..235), as players expect for yuv420p.
_GREY_TO_Y = np.round(16 + np.arange(256) * (219 / 255)).astype(np.uint8)

#: An overlay hook: ``burn_in(image, frame) -> image``. Recordings are raw (detections are drawn
#: at playback from their database timestamps); a hook may draw into a copy for burnt-in video.
BurnIn = Callable[[np.ndarray, object], np.ndarray]


@dataclass
class VideoOptions:
    """Encoder settings shared by every segment of a recording."""

    preset: str = "veryfast"
    crf: int = 23
    profile: str = "high"  # "high" or "main": both play in every browser
    container: str = "fragmented"  # or "faststart"
    keyint_s: float = 1.0  # a keyframe (and with fMP4 a flushed fragment) at least this often
    threads: int = 1  # x264 threads per encoder: 1 scales best with many cameras on few cores
    tune: str | None = None  # e.g. "zerolatency" (no B-frames/lookahead) or None
    x264_params: str = ""
    fsync_s: float = 2.0  # fMP4: fsync the open segment at most this often (0: never)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown x264 preset {self.preset!r}; one of {', '.join(PRESETS)}")
        if not 0 <= int(self.crf) <= 51:
            raise ValueError(f"crf must be 0..51, got {self.crf}")
        if self.profile not in ("high", "main"):
            raise ValueError(f"profile must be 'high' or 'main', got {self.profile!r}")
        if self.container not in CONTAINERS:
            raise ValueError(f"container must be one of {CONTAINERS}, got {self.container!r}")
        if self.keyint_s <= 0:
            raise ValueError("keyint_s must be > 0")


@dataclass
class VideoSegmentInfo:
    """What a closed segment holds (times are epoch seconds of the first/last frame)."""

    path: Path
    first_ts: float
    last_ts: float
    frames: int
    duration_s: float
    size_bytes: int
    width: int
    height: int


def container_options(opts: VideoOptions) -> dict[str, str]:
    """Muxer options of a segment: fMP4 fragments go to the file as soon as they are complete."""
    if opts.container == "fragmented":
        return {"movflags": FRAG_MOVFLAGS, "flush_packets": "1"}
    return {"movflags": "+faststart"}


class SegmentFile:
    """What every segment writer shares: ``info()``, a bounded fsync of the open file
    (``_synced()`` after each mux) and use as a context manager (closed on success, aborted on an
    error). Subclasses set path, options, first_ts, last_ts, frames, width, height and provide
    ``duration_s``, ``close()`` and ``abort()``."""

    _next_sync = 0.0

    def _synced(self) -> None:
        """fsync the file when ``options.fsync_s`` has passed since the last time (fMP4 only)."""
        every = self.options.fsync_s
        if not every or self.options.container != "fragmented":
            return
        now = time.monotonic()
        if now < self._next_sync:
            return
        self._next_sync = now + every
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:  # the muxer opens the file with its first packet
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def info(self) -> VideoSegmentInfo:
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return VideoSegmentInfo(self.path, self.first_ts or 0.0, self.last_ts or 0.0, self.frames,
                                round(self.duration_s, 3), size, self.width, self.height)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class SegmentWriter(SegmentFile):
    """One MP4 file of H.264 video. ``write(image, timestamp)`` for each frame, then ``close()``.

    ``fps`` is the nominal rate (for the GOP length and the last frame's duration); the real
    timing comes from the timestamps. Images must all have the size of the first one.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float = 25.0,
                 options: VideoOptions | None = None, metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.options = opts = options or VideoOptions()
        self.src_size = (int(width), int(height))
        self.width, self.height = int(width) - int(width) % 2, int(height) - int(height) % 2
        if self.width < 2 or self.height < 2:
            raise ValueError(f"frame too small for H.264: {width}x{height}")
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.frames = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self._last_pts = -1
        self._closed = False
        self._failed = False
        self._yuv = np.full((self.height * 3 // 2, self.width), 128, np.uint8)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w", format="mp4", options=container_options(opts))
        try:
            for k, v in (metadata or {}).items():
                self._container.metadata[k] = str(v)
            rate = Fraction(self.fps).limit_denominator(1001)
            st = self._container.add_stream("libx264", rate=rate)
            cc = st.codec_context
            cc.width, cc.height = self.width, self.height
            cc.pix_fmt = "yuv420p"
            cc.time_base = TIME_BASE
            st.time_base = TIME_BASE
            cc.gop_size = max(round(self.fps * opts.keyint_s), 1)
            cc.profile = "High" if opts.profile == "high" else "Main"
            params = [f"threads={int(opts.threads)}"] if opts.threads else []
            if opts.x264_params:
                params.append(opts.x264_params)
            o = {"preset": opts.preset, "crf": str(int(opts.crf)), "profile": opts.profile,
                 "x264-params": ":".join(params)}
            if opts.tune:
                o["tune"] = opts.tune
            cc.options = o
            self._stream = st
        except Exception:
            self._container.close()
            raise

    # ---- writing

    def _to_yuv(self, image: np.ndarray) -> np.ndarray:
        w, h = self.width, self.height
        if image.shape[1] != self.src_size[0] or image.shape[0] != self.src_size[1]:
            raise ValueError(f"image is {image.shape[1]}x{image.shape[0]}, segment is {self.src_size[0]}x{self.src_size[1]}")
        image = image[:h, :w]
        if image.ndim == 2:
            cv2.LUT(image, _GREY_TO_Y, dst=self._yuv[:h])
            return self._yuv
        if image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2YUV_I420)

    def write(self, image: np.ndarray, timestamp: float) -> None:
        """Encode one uint8 image (grey HxW or BGR HxWx3) captured at ``timestamp`` (epoch s)."""
        if self._closed:
            raise ValueError("segment is closed")
        if self.first_ts is None:
            self.first_ts = float(timestamp)
        pts = round((float(timestamp) - self.first_ts) * 1000)
        if pts <= self._last_pts:  # equal or backwards clock: keep pts strictly increasing
            pts = self._last_pts + 1
        frame = av.VideoFrame.from_ndarray(self._to_yuv(image), format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self._synced()
        except Exception:
            self._failed = True  # flushing the encoder after a failed mux segfaults: only abort() now
            raise
        self._last_pts = pts
        self.last_ts = float(timestamp)
        self.frames += 1

    @property
    def duration_s(self) -> float:
        """Media duration so far: last pts + one nominal frame period."""
        if self.frames == 0:
            return 0.0
        return self._last_pts / 1000 + 1.0 / self.fps

    def close(self) -> VideoSegmentInfo:
        """Flush the encoder and finalise the file (moov for faststart, last fragment for fMP4).

        Raises what the file system raises (e.g. ENOSPC); the file is then left as it is."""
        if self._closed:
            return self.info()
        if self._failed:
            self.abort()
            return self.info()
        self._closed = True
        try:
            if self.frames:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        except Exception:
            self._failed = True
            self._container_close_quietly()
            raise
        self._container.close()
        return self.info()

    def _container_close_quietly(self) -> None:
        try:
            self._container.close()
        except Exception:
            log.debug("closing %s after an error failed", self.path, exc_info=True)

    def abort(self) -> None:
        """Close without raising (used after a write error)."""
        if self._closed:
            return
        self._closed = True
        self._container_close_quietly()



# --------------------------------------------------------------------------- checking files


@dataclass
class ProbeResult:
    """What decoding a segment file found. ``ok`` is False when not one frame decodes."""

    path: Path
    ok: bool
    frames: int = 0
    duration_s: float = 0.0
    codec: str = ""
    width: int = 0
    height: int = 0
    size_bytes: int = 0
    error: str = ""
    truncated: bool = False  # decoding stopped early on damaged data (a crash's open segment)
    metadata: dict = field(default_factory=dict)


def probe_segment(path: str | os.PathLike, decode: bool = True) -> ProbeResult:
    """Open ``path`` with PyAV and decode (or with ``decode=False`` only demux) every frame.

    Damaged data at the end (the open segment of a crashed recorder) ends the count instead of
    failing: the frames before it are what a player will show."""
    p = Path(path)
    res = ProbeResult(p, ok=False)
    try:
        res.size_bytes = p.stat().st_size
    except OSError as exc:
        res.error = f"cannot stat: {exc}"
        return res
    try:
        container = av.open(str(p), mode="r")
    except Exception as exc:  # noqa: BLE001 - any failure means unreadable
        res.error = f"cannot open: {exc.__class__.__name__}: {exc}"
        return res
    first = last = None
    last_dur = 0.0
    try:
        if not container.streams.video:
            res.error = "no video stream"
            return res
        st = container.streams.video[0]
        res.metadata = dict(container.metadata)
        res.codec = st.codec_context.name
        res.width, res.height = st.codec_context.width, st.codec_context.height
        tb = float(st.time_base) if st.time_base else 0.001
        try:
            for packet in container.demux(st):
                if packet.size == 0:
                    continue
                if decode:
                    frames = packet.decode()
                else:
                    frames = [packet]
                for f in frames:
                    if f.pts is None:
                        continue
                    t = f.pts * tb
                    first = t if first is None else min(first, t)
                    last = t if last is None else max(last, t)
                    res.frames += 1
                    if getattr(f, "duration", None):
                        last_dur = f.duration * tb
            if decode:
                for f in st.codec_context.decode(None) if hasattr(st.codec_context, "decode") else []:
                    if f.pts is not None:
                        t = f.pts * tb
                        first = t if first is None else min(first, t)
                        last = t if last is None else max(last, t)
                        res.frames += 1
        except Exception as exc:  # noqa: BLE001 - truncated/damaged tail
            res.truncated = True
            res.error = f"damaged after {res.frames} frames: {exc.__class__.__name__}: {exc}"
    finally:
        container.close()
    if res.frames == 0:
        res.error = res.error or "no frame decodes"
        return res
    if not last_dur:
        avg = st.average_rate
        last_dur = 1.0 / float(avg) if avg else 0.04
    res.duration_s = round((last - first) + last_dur, 3)
    res.ok = True
    return res


__all__ = [
    "CONTAINERS",
    "PRESETS",
    "BurnIn",
    "ProbeResult",
    "SegmentWriter",
    "VideoOptions",
    "VideoSegmentInfo",
    "container_options",
    "probe_segment",
]

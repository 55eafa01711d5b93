"""Export a recording as one MP4 with the palette and/or the detections burnt into the picture
(re-encoded; the plain export in :mod:`thermalstream.record.export` copies packets and burns nothing).

Pictures come from the lossless radiometric file beside each segment when a palette is asked for and
the file exists (each frame spread over its own 1st-99th percentile); otherwise the segment's video is
decoded. Detections are drawn from their database timestamps, for ``window_s`` after each, exactly as
the player overlays them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import av
import numpy as np

from thermalstream.detect.draw import draw_detections, to_bgr
from thermalstream.detect.types import Detection
from thermalstream.palettes import PALETTES
from thermalstream.record.export import ExportError
from thermalstream.record.segments import parse_segment_name
from thermalstream.record.video import SegmentWriter, VideoOptions

WINDOW_S = 0.4


def _radiometric_frames(h5: Path) -> Iterator[tuple[float, np.ndarray]]:
    from thermalstream.datasets.recording import RecordingData

    for f in RecordingData([h5]):
        yield f.timestamp, f.image


def _video_frames(seg: Path) -> Iterator[tuple[float, np.ndarray]]:
    parsed = parse_segment_name(seg.name)
    start = parsed[1] if parsed else 0.0
    with av.open(str(seg)) as src:
        for frame in src.decode(src.streams.video[0]):
            yield start + float(frame.time or 0.0), frame.to_ndarray(format="gray")


def frames_of(segments: Sequence[Path], palette: str | None) -> Iterator[tuple[float, np.ndarray]]:
    """(epoch seconds, uint8 grey picture) of every recorded frame, segment after segment."""
    for seg in segments:
        h5 = seg.with_suffix(".h5")
        try:
            yield from (_radiometric_frames(h5) if palette and h5.is_file() else _video_frames(seg))
        except (av.error.FFmpegError, OSError, ValueError):
            continue  # an unreadable segment is skipped, as in the plain export


def burn_in_mp4(segments: Sequence[Path], out: Path, *, palette: str | None = None,
                detections: Sequence[tuple[float, Detection]] = (), fps: float = 25.0,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Write ``out``; returns {"frames", "drawn"} (how many boxes were drawn in all)."""
    if palette is not None and palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; one of {', '.join(PALETTES)}")
    segments = [p for p in segments if p.is_file()]
    if not segments:
        raise ExportError("no recorded segments in that range")
    dets = sorted(detections, key=lambda d: d[0])
    stamps = np.array([t for t, _ in dets], np.float64)
    writer: SegmentWriter | None = None
    frames = drawn = 0
    try:
        for i, (t, grey) in enumerate(frames_of(segments, palette)):
            img = to_bgr(grey, palette or "white-hot")
            lo, hi = np.searchsorted(stamps, t - WINDOW_S, "right"), np.searchsorted(stamps, t, "right")
            if hi > lo:
                draw_detections(img, [d for _, d in dets[lo:hi]])
                drawn += hi - lo
            if writer is None:
                writer = SegmentWriter(out, img.shape[1], img.shape[0], fps, VideoOptions(container="faststart"))
            writer.write(img, t)
            frames += 1
            if progress and i % 25 == 0:
                progress(frames, 0)
    finally:
        if writer is not None:
            writer.close()
    if frames == 0:
        raise ExportError("no readable frame in the recorded segments")
    return {"frames": frames, "drawn": drawn}


__all__ = ["WINDOW_S", "burn_in_mp4", "frames_of"]

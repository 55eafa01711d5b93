"""Benchmark what crash safety costs the recorder: fMP4 fragments flushed to the file as they
complete (``flush_packets``) and the open segment fsynced every ``fsync_s``, against the
baseline measured in the same run (FFmpeg's default buffered writes, no fsync).

    .venv/bin/python bench/durability.py [--frames 750] [--size 640x512] [--dir DIR]

``--dir`` should be on a real disk (fsync is a no-op on tmpfs). Prints, for each variant, CPU ms
per frame (process time: encode + mux + writes) and wall ms per frame.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from thermalstream.record import video  # noqa: E402
from thermalstream.record.video import SegmentWriter, VideoOptions  # noqa: E402
from thermalstream.sources.sim import SimSource  # noqa: E402


def run(frames: list, out: Path, options: VideoOptions, buffered: bool) -> tuple[float, float]:
    real = video.container_options
    if buffered:  # the baseline: what the writer did before (FFmpeg's write buffer, no flush)
        video.container_options = lambda o: {"movflags": video.FRAG_MOVFLAGS}
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        h, w = frames[0][0].shape[:2]
        per_segment = 250  # 10 s segments at 25 fps, as recorded by default
        for start in range(0, len(frames), per_segment):
            with SegmentWriter(out / f"seg{start:06d}.mp4", w, h, 25, options) as wr:
                for image, ts in frames[start:start + per_segment]:
                    wr.write(image, ts)
        return (time.process_time() - cpu0) * 1000 / len(frames), (time.perf_counter() - t0) * 1000 / len(frames)
    finally:
        video.container_options = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=750)
    ap.add_argument("--size", default="640x512")
    ap.add_argument("--dir", default=None, help="where segments are written (default: a temp dir)")
    a = ap.parse_args()
    w, h = (int(x) for x in a.size.split("x"))
    src = SimSource(f"sim://?width={w}&height={h}&people=3&seed=1")
    frames = [(f.image, f.timestamp) for f in (src.render(i, timestamp=1000.0 + i / 25) for i in range(a.frames))]
    variants = [
        ("baseline: buffered, no fsync", VideoOptions(fsync_s=0), True),
        ("flush each fragment, no fsync", VideoOptions(fsync_s=0), False),
        ("default: flush + fsync every 2 s", VideoOptions(), False),
    ]
    print(f"{a.frames} frames {w}x{h}, veryfast, 10 s segments")
    for name, opts, buffered in variants:
        with tempfile.TemporaryDirectory(dir=a.dir) as d:
            run(frames[:50], Path(d), opts, buffered)  # warm-up
            cpu, wall = run(frames, Path(d), opts, buffered)
        print(f"  {name:36s} CPU {cpu:6.2f} ms/frame   wall {wall:6.2f} ms/frame")


if __name__ == "__main__":
    main()

"""Benchmark the radiometric HDF5 writer's default gzip: its own chunks (record/deflate.py, ISA-L)
against HDF5's zlib filter (the baseline, same run, same frames, same file layout).

    .venv/bin/python bench/radiometric_write.py [--frames 100] [--size 640x512]

Prints CPU ms per frame (this thread's CPU time: compression, HDF5 and Python) and the file's
size per frame for both, and checks that both files read back equal to the frames.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from thermalstream.record.radiometric import RadiometricWriter, read_radiometric
from thermalstream.sources.sim import SimSource


def run(frames, path: Path, fast: bool) -> tuple[float, float]:
    """(CPU ms per frame, KB per frame) of one file of ``frames`` (a warm-up frame first)."""
    w = RadiometricWriter(path)
    w._fast_gzip = fast  # the baseline: HDF5's own filter, as before record/deflate.py
    w.write(frames[0])
    t0 = time.thread_time()
    for fr in frames[1:]:
        w.write(fr)
    w.close()
    ms = (time.thread_time() - t0) * 1000 / (len(frames) - 1)
    got = read_radiometric(path)
    if not np.array_equal(got.data, np.stack([f.raw for f in frames])):
        raise SystemExit(f"{path.name}: what was read back differs from what was written")
    return ms, path.stat().st_size / 1024 / len(frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="640x512")
    opts = ap.parse_args()
    w, h = (int(v) for v in opts.size.split("x"))
    sim = SimSource(f"sim://?people=3&seed=1&width={w}&height={h}&fps=25&pace=0")
    frames = [sim.read() for _ in range(opts.frames + 1)]
    with tempfile.TemporaryDirectory() as td:
        base = run(frames, Path(td) / "hdf5-zlib.h5", fast=False)
        fast = run(frames, Path(td) / "isal.h5", fast=True)
    print(f"{opts.frames} raw {w}x{h} sim frames, gzip level 1 + shuffle:")
    print(f"  HDF5's zlib filter (baseline)  {base[0]:6.2f} ms CPU/frame  {base[1]:6.0f} KB/frame")
    print(f"  record/deflate.py (ISA-L)      {fast[0]:6.2f} ms CPU/frame  {fast[1]:6.0f} KB/frame")
    print(f"  CPU {base[0] / fast[0]:.1f}x less, file {100 * (fast[1] / base[1] - 1):+.1f} %")


if __name__ == "__main__":
    main()

"""Radiometric storage per camera-hour: the default layout against older layouts, in the same run.

Writes the same frames with RadiometricWriter under each layout and prints bytes per frame, GB per
camera-hour at the source's frame rate, CPU ms per frame, and a bit-exact check of the read-back.

    .venv/bin/python bench/storage.py                 # simulator 640x512 @25 fps and 160x120 @9 fps
    .venv/bin/python bench/storage.py --frames 100 --clip hedgehog.cptv

Layouts: "float32 lzf" (°C as float32, LZF, no shuffle: the naive layout), "raw lzf+shuffle" (the
previous default), "raw gzip1+shuffle" (the default now: readable by every HDF5 tool).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thermalstream.frame import Frame  # noqa: E402
from thermalstream.record.radiometric import RadiometricOptions, RadiometricWriter, read_radiometric  # noqa: E402

LAYOUTS = {
    "float32 lzf (naive)": RadiometricOptions(mode="celsius", compression="lzf", shuffle=False),
    "raw lzf+shuffle (previous default)": RadiometricOptions(mode="auto", compression="lzf"),
    "raw gzip1+shuffle (default)": RadiometricOptions(),
}


def sim_frames(width: int, height: int, n: int) -> list[Frame]:
    from thermalstream.sources.sim import SimSource

    src = SimSource(f"sim://?width={width}&height={height}&seed=1&people=3&pace=0")
    return [src.render(i, timestamp=1.8e9 + i / 25) for i in range(n)]


def clip_frames(path: str, n: int) -> list[Frame]:
    import thermalstream as ts

    frames = []
    for f in ts.open_source(path):
        frames.append(f)
        if len(frames) >= n:
            break
    return frames


def measure(frames: list[Frame], fps: float, folder: Path) -> list[tuple[str, float, float, float, bool]]:
    rows = []
    for name, opts in LAYOUTS.items():
        if opts.mode == "celsius" and frames[0].celsius is None:
            continue
        path = folder / f"{abs(hash(name))}.h5"
        t0 = time.process_time()
        w = RadiometricWriter(path, opts)
        for f in frames:
            w.write(f)
        size = w.close()
        cpu_ms = (time.process_time() - t0) / len(frames) * 1e3
        back = read_radiometric(path)
        want = np.stack([f.celsius if opts.mode == "celsius" else f.raw for f in frames])
        exact = back.data.dtype == want.dtype and np.array_equal(back.data, want)
        per_frame = size / len(frames)
        rows.append((name, per_frame / 1e3, per_frame * fps * 3600 / 1e9, cpu_ms, exact))
    return rows


def report(title: str, rows) -> None:
    print(f"\n{title}")
    print(f"  {'layout':36s} {'kB/frame':>9s} {'GB/cam-hour':>12s} {'CPU ms/frame':>13s}  bit-exact")
    base = rows[0][1]
    for name, kb, gbh, ms, exact in rows:
        print(f"  {name:36s} {kb:9.1f} {gbh:12.2f} {ms:13.2f}  {exact}   ({base / kb:.2f}x smaller than the first)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--clip", help="a real radiometric file (.cptv/.seq) to measure as well")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report("simulator 640x512 @ 25 fps", measure(sim_frames(640, 512, args.frames), 25, Path(tmp)))
        report("simulator 160x120 (Lepton-sized) @ 9 fps", measure(sim_frames(160, 120, args.frames), 9, Path(tmp)))
        if args.clip:
            frames = clip_frames(args.clip, args.frames)
            report(f"{Path(args.clip).name} ({frames[0].shape[1]}x{frames[0].shape[0]}) @ 9 fps",
                   measure(frames, 9, Path(tmp)))


if __name__ == "__main__":
    main()

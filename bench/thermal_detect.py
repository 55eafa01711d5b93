"""Weightless thermal detector against the old per-frame median threshold, in one run.

    .venv/bin/python bench/thermal_detect.py [--seconds 60]      (also: bench/detect.py --thermal)

For each input, both detectors see the same frames in order and are scored the same way:

* real clips: the Lepton 3 hedgehog and possum clips (tests/thermal_clips.py; 160x120 counts,
  9 fps, every frame), ground truth from tests/data/thermal_truth.json (independent whole-clip
  median background, bench/thermal_truth.py);
* people: the real 8-bit thermal video of people (tests/thermal_clips.py, 512x512 at 10 fps, given
  as counts), truth boxes from tests/data/people_truth.json (bench/thermal_truth.py --people); the
  baseline's °C delta is converted with the Lepton law below, which means nothing for 8-bit levels;
* simulator: ``sim://`` at its defaults (640x512, 3 walkers, a car, a dog, warm building and road,
  FFC every 30 s), ``--seconds`` of frames at 5 fps (the service's default detect rate), ground
  truth from the simulator's actor placements.

recall = frames (clips) or object-frames (sim) with a box overlapping the object; false boxes =
boxes overlapping no object (in the sim: no actor, even one mostly outside the frame), per frame;
ms = median CPU time of one ``detect_one`` call. Baseline: :func:`median_threshold`, the detector
the product had before (pixels more than ``delta_c`` above the frame's median, blobs of 4 px to a
quarter of the frame), at its old default 5 °C and at 2 °C (the value the issue found by hand).
On counts frames the baseline's °C delta is converted with the nominal Lepton 3 law (0.0217 K per
count), as the product's old CPTV reader did. Goal for the weightless detector: recall >= 90 %,
<= 0.1 false boxes per frame, <= 2 ms per 640x512 frame.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thermalstream.detect.hotspot import HotspotDetector, frame_values

K_PER_COUNT = 0.0217


def median_threshold(frame, delta_c: float = 5.0) -> list[tuple[float, float, float, float]]:
    """The old per-frame hotspot rule (baseline only): boxes of blobs above the frame's median + delta."""
    values, unit, _ = frame_values(frame)
    if values is None:
        return []
    delta = delta_c if unit == "°C" else delta_c / K_PER_COUNT
    cut = float(np.percentile(values[::4, ::4], 50.0)) + delta
    mask = (values > cut).view(np.uint8)
    if not mask.any():
        return []
    grouped = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    h, w = values.shape
    out = []
    for i in range(1, n):
        x, y, bw, bh, _ = (int(v) for v in stats[i])
        sel = (labels[y:y + bh, x:x + bw] == i) & mask[y:y + bh, x:x + bw].astype(bool)
        if not 4 <= int(np.count_nonzero(sel)) <= h * w // 4:
            continue
        ys, xs = np.nonzero(sel)
        out.append((x + xs.min(), y + ys.min(), x + xs.max() + 1.0, y + ys.max() + 1.0))
    return out[:50]


def _overlaps(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def _detectors():
    weightless = HotspotDetector()
    return {
        "weightless (default)": lambda f: [(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in weightless.detect_one(f)],
        "baseline median+5 °C": lambda f: median_threshold(f, 5.0),
        "baseline median+2 °C": lambda f: median_threshold(f, 2.0),
    }


def _timed(fn, frame):
    t = time.process_time()
    boxes = fn(frame)
    return boxes, (time.process_time() - t) * 1000.0


def score_clip(name: str, frames: list, truth: dict) -> list[tuple]:
    rows = []
    for label, fn in _detectors().items():
        found = visible = false = 0
        ms = []
        for i, f in enumerate(frames):
            boxes, dt = _timed(fn, f)
            ms.append(dt)
            gt = truth["boxes"][i]
            if gt is not None:
                visible += 1
                found += any(_overlaps(b, gt) for b in boxes)
            false += sum(1 for b in boxes if gt is None or not _overlaps(b, gt))
        rows.append((name, label, found / visible, false / len(frames), float(np.median(ms))))
    return rows


def score_sim(seconds: float) -> list[tuple]:
    from thermalstream.sources.sim import SimSource

    src = SimSource("sim://?pace=0")
    fps = src.params.fps
    step = max(1, round(fps / 5))
    frames = [src.render(i, timestamp=1e9 + i / fps) for i in range(0, int(seconds * fps), step)]
    sc = src.scene
    truth = []
    for f in frames:
        content, _, _ = sc.ffc_info(f.seq)
        every = [(x + s.box[0], y + s.box[1], x + s.box[2], y + s.box[3]) for _, _, s, x, y in sc.placements(content)]
        truth.append(([o[1:] for o in src.objects(f.seq)], every))
    rows = []
    for label, fn in _detectors().items():
        found = total = false = 0
        ms = []
        for f, (visible, every) in zip(frames, truth):
            boxes, dt = _timed(fn, f)
            ms.append(dt)
            total += len(visible)
            found += sum(1 for g in visible if any(_overlaps(b, g) for b in boxes))
            false += sum(1 for b in boxes if not any(_overlaps(b, g) for g in every))
        rows.append((f"sim 640x512 {seconds:g} s", label, found / max(total, 1), false / len(frames),
                     float(np.median(ms))))
    return rows


def score_people() -> list[tuple]:
    """The real video of people (8-bit levels with automatic gain, as counts): every truth box of
    tests/data/people_truth.json is an object to find; a box overlapping none is false."""
    from tests.thermal_clips import people_clip, people_frames

    frames = people_frames(people_clip())
    truth = json.loads((ROOT / "tests" / "data" / "people_truth.json").read_text())["boxes"]
    rows = []
    for label, fn in _detectors().items():
        found = total = false = 0
        ms = []
        for f, gt in zip(frames, truth):
            boxes, dt = _timed(fn, f)
            ms.append(dt)
            total += len(gt)
            found += sum(1 for g in gt if any(_overlaps(b, g) for b in boxes))
            false += sum(1 for b in boxes if not any(_overlaps(b, g) for g in gt))
        rows.append(("people (8-bit AGC, 512x512)", label, found / total, false / len(frames), float(np.median(ms))))
    return rows


def thermal_bench(seconds: float = 60.0, opencv_threads: int | None = None) -> list[tuple]:
    """Every input through both detectors; OpenCV with ``opencv_threads`` of its own (None: what the
    product uses here, ``Settings.opencv_threads``; 0: OpenCV's default, one per core)."""
    from tests.thermal_clips import clip_frames, thermal_clips
    from thermalstream.config import Settings

    cv2.setNumThreads((Settings() if opencv_threads is None else Settings(opencv_threads=opencv_threads)).opencv_pool)
    print(f"OpenCV threads: {cv2.getNumThreads()} ({'as the product' if opencv_threads is None else 'asked'})")
    truth = json.loads((ROOT / "tests" / "data" / "thermal_truth.json").read_text())["clips"]
    rows = []
    for name, path in thermal_clips().items():
        rows += score_clip(f"{name} (Lepton 3, 160x120)", clip_frames(path), truth[name])
    rows += score_people()
    rows += score_sim(seconds)
    print(f"\n{'input':<28} {'detector':<22} {'recall':>7} {'false/frame':>12} {'CPU ms/frame':>13}")
    for inp, det, recall, fpf, ms in rows:
        print(f"{inp:<28} {det:<22} {recall:>7.1%} {fpf:>12.3f} {ms:>13.2f}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="simulated seconds (default 60)")
    ap.add_argument("--opencv-threads", type=int, help="OpenCV's own threads (default: the product's, "
                                                       "Settings.opencv_threads; 0: one per core)")
    args = ap.parse_args()
    thermal_bench(args.seconds, args.opencv_threads)


if __name__ == "__main__":
    main()

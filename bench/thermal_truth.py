"""Ground truth for the real thermal clips, by a method independent of the product's detector.

    .venv/bin/python bench/thermal_truth.py [--montage data/cache/truth-montage.png]

For each clip (tests/thermal_clips.py) the whole clip is known in advance, which a live
detector never has:

1. every frame's level is made comparable by subtracting its own median (a Lepton's level drifts
   by tens of counts after a flat-field correction);
2. the background is the per-pixel MEDIAN of all those levelled frames (the animal moves, so at
   every pixel it is absent in most frames);
3. a pixel is the animal when it is more than ``THRESHOLD`` counts above that background
   (the animals are 100-400 counts above it, the static residue stays under ~35);
4. the largest 8-connected component of those pixels, if it has at least ``MIN_AREA`` pixels, is
   the animal: its box is the ground truth, else the frame has nothing visible.

The result was checked by eye on the montage this script renders (every frame, the box drawn in
green) and is written to tests/data/thermal_truth.json: per clip, per frame, ``[x1, y1, x2, y2]``
(x2/y2 exclusive) or null, and the frames the file marks as a recent FFC. Derived once and
committed; rerun only to re-derive.

``--people``: the same idea for the real video of people (tests/thermal_clips.py, 8-bit levels
with automatic gain, every third frame): levels minus each frame's median, the per-pixel median
of the whole clip as background, pixels more than ``PEOPLE_THRESHOLD`` levels above it, opened
(3x3, noise) and closed (15 px disc: a person's parts of different warmth become one region),
every 8-connected region of at least ``PEOPLE_MIN_AREA`` pixels is a truth box (a person, or
people touching). Written to tests/data/people_truth.json after a check by eye on the montage.
Known limit, seen on the montage: people far away are dim and are sometimes only partly boxed or
not boxed at all, so a detection on them counts as false.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.thermal_clips import PEOPLE_STEP, clip_frames, people_clip, people_levels, thermal_clips

THRESHOLD = 60.0  # counts above the clip's median background
MIN_AREA = 6  # pixels
OUT = ROOT / "tests" / "data" / "thermal_truth.json"
PEOPLE_THRESHOLD = 20.0  # 8-bit levels above the clip's median background
PEOPLE_MIN_AREA = 400  # pixels (of 512x512)
PEOPLE_OUT = ROOT / "tests" / "data" / "people_truth.json"


def people_boxes(levels: np.ndarray) -> list[list[list[int]]]:
    """Truth boxes per frame of a (N, H, W) stack of 8-bit levels (see the module docstring)."""
    lev = levels - np.median(levels.reshape(len(levels), -1), axis=1)[:, None, None]
    bg = np.median(lev, axis=0)
    close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    out = []
    for frame in lev:
        mask = cv2.morphologyEx(((frame - bg) > PEOPLE_THRESHOLD).astype(np.uint8), cv2.MORPH_OPEN,
                                np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, close)
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        out.append([[int(x), int(y), int(x + w), int(y + h)] for x, y, w, h, a in stats[1:] if a >= PEOPLE_MIN_AREA])
    return out


def people_truth(montage_path: str, write: bool) -> None:
    levels = np.stack(people_levels(people_clip())).astype(np.float32)
    boxes = people_boxes(levels)
    print(f"people: {len(levels)} frames (one in {PEOPLE_STEP}), {sum(map(len, boxes))} truth boxes")
    tiles = []
    for i in range(0, len(levels), 10):
        t = cv2.cvtColor(levels[i].astype(np.uint8), cv2.COLOR_GRAY2BGR)
        for b in boxes[i]:
            cv2.rectangle(t, (b[0], b[1]), (b[2] - 1, b[3] - 1), (0, 255, 0), 2)
        cv2.putText(t, str(i), (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 200, 255), 2)
        tiles.append(cv2.resize(t, (256, 256)))
    while len(tiles) % 6:
        tiles.append(np.zeros_like(tiles[0]))
    cv2.imwrite(montage_path.format(clip="people"), np.vstack([np.hstack(tiles[r:r + 6]) for r in range(0, len(tiles), 6)]))
    if write:
        method = (f"one frame in {PEOPLE_STEP}; levels minus the frame's median; per-pixel median of the clip as "
                  f"background; > {PEOPLE_THRESHOLD:g} levels, opened 3x3, closed with a 15 px disc; 8-connected "
                  f"regions >= {PEOPLE_MIN_AREA} px; checked by eye on a montage (bench/thermal_truth.py --people)")
        PEOPLE_OUT.write_text(json.dumps({"method": method, "step": PEOPLE_STEP, "frames": len(levels),
                                          "boxes": boxes}, separators=(",", ":")) + "\n")
        print("wrote", PEOPLE_OUT)


def truth_boxes(raw: np.ndarray) -> list[list[int] | None]:
    """Ground-truth box (or None) for each frame of a (N, H, W) stack of raw counts."""
    lev = raw - np.median(raw.reshape(len(raw), -1), axis=1)[:, None, None]
    bg = np.median(lev, axis=0)
    out: list[list[int] | None] = []
    for frame in lev:
        mask = ((frame - bg) > THRESHOLD).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            out.append(None)
            continue
        i = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h, area = (int(v) for v in stats[i])
        out.append([x, y, x + w, y + h] if area >= MIN_AREA else None)
    return out


def montage(frames: list[np.ndarray], boxes: list, cols: int = 12, scale: int = 2) -> np.ndarray:
    tiles = []
    for i, (f, b) in enumerate(zip(frames, boxes)):
        lo, hi = np.percentile(f, [1, 99.9])
        g = np.clip((f - lo) / max(hi - lo, 1) * 255, 0, 255).astype(np.uint8)
        t = cv2.resize(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR), None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_NEAREST)
        if b is not None:
            cv2.rectangle(t, (b[0] * scale, b[1] * scale), (b[2] * scale - 1, b[3] * scale - 1), (0, 255, 0), 1)
        cv2.putText(t, str(i), (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 200, 255), 1)
        tiles.append(t)
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[r:r + cols]) for r in range(0, len(tiles), cols)]
    return np.vstack(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--montage", default=str(ROOT / "data" / "cache" / "truth-{clip}.png"))
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    ap.add_argument("--people", action="store_true", help="the video of people instead (tests/data/people_truth.json)")
    args = ap.parse_args()
    if args.people:
        people_truth(args.montage, args.write)
        return
    truth = {"method": "per-pixel median background of the whole clip (frames levelled by their median), "
                       f"> {THRESHOLD:g} counts, largest 8-connected component >= {MIN_AREA} px; "
                       "checked by eye on a montage (bench/thermal_truth.py)",
             "clips": {}}
    for name, path in thermal_clips().items():
        frames = clip_frames(path)
        raw = np.stack([f.raw.astype(np.float32) for f in frames])
        boxes = truth_boxes(raw)
        recent_ffc = [i for i, f in enumerate(frames)
                      if (f.radiometry.extra.get("since_ffc_s") or 99.0) < 1.0]
        truth["clips"][name] = {"frames": len(frames), "boxes": boxes, "ffc_frames": recent_ffc}
        visible = [i for i, b in enumerate(boxes) if b is not None]
        print(f"{name}: {len(frames)} frames, visible in {len(visible)} "
              f"({visible[:1]}..{visible[-1:]}), FFC frames {recent_ffc}")
        cv2.imwrite(args.montage.format(clip=name), montage(list(raw), boxes))
    if args.write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(truth, indent=None, separators=(",", ":")) + "\n")
        print("wrote", OUT)


if __name__ == "__main__":
    main()
